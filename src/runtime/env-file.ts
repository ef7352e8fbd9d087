import { existsSync, statSync } from 'node:fs';
import { parse as parseEnvFile } from 'dotenv';
import { ConfigError } from '../errors';
import { cannotOpen, readInputFile } from './own-files';

/**
 * The env file that was read, whether others than its owner and the run's group can read it, and the
 * variables whose unquoted value dotenv cut at a `#`.
 */
export interface EnvFile {
  path: string;
  readableByOthers: boolean;
  cutAtHash: string[];
}

/** Where the env file of an installed tool lives; `setup` writes it into the files it makes. */
export const SYSTEM_ENV_FILE = '/etc/o365-backsync.env';

/** The values an env file sets, as dotenv reads them, and what the run should know of the file itself. */
export function readEnvFile(
  explicit: string | undefined,
  cwd: string,
): { fileValues: Record<string, string | undefined>; envFile?: EnvFile } {
  const candidates = explicit ? [explicit] : [`${cwd}/.env`, SYSTEM_ENV_FILE];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    if (explicit) throw new ConfigError('--env-file', `cannot read '${explicit}': ENOENT`);
    return { fileValues: {} };
  }
  let content: string;
  try {
    content = readInputFile(path).toString('utf8');
  } catch (e) {
    throw cannotOpen('--env-file', `cannot read '${path}'`, e);
  }
  return {
    fileValues: parseEnvFile(content),
    envFile: { path, readableByOthers: readableByOthers(path), cutAtHash: cutAtHash(content) },
  };
}

/**
 * Whether others than this run can read the file: others at all, or a group that is not the run's own.
 * A service's env file, root's and readable by the service's group alone (0640), is how a run that is
 * not root reads it.
 */
function readableByOthers(path: string): boolean {
  const { mode, gid } = statSync(path);
  return (mode & 0o007) !== 0 || ((mode & 0o070) !== 0 && gid !== process.getgid?.());
}

/**
 * The variables whose unquoted value holds a `#` right after other characters (`OA_PASSWORD=se#cret`):
 * dotenv ends the value there, so the setting silently loses its tail. A `#` after a space starts the
 * comment the file's author meant.
 */
function cutAtHash(content: string): string[] {
  const cut: string[] = [];
  for (const line of content.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(line);
    if (m && !/^['"`]/.test(m[2]!) && /(^|\S)#/.test(m[2]!)) cut.push(m[1]!);
  }
  return cut;
}
