import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * For `test(name, { skip: missing('python3') }, ...)`: false when the command is on PATH, else the
 * reason to skip, so a machine without it skips the test with that reason instead of failing it.
 */
export function missing(command: string): string | false {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  return found ? false : `${command} is not on PATH`;
}
