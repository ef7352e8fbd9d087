import { execFileSync } from 'node:child_process';
import { appendFileSync, lstatSync, mkdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A small tmpfs at `dir` (mode 0700, as a run's folders are), unmounted when the test ends; a reason when there cannot be one. */
export function smallDisk(t: TestContext, dir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return 'this machine does not let a test mount a tmpfs';
  }
  t.after(() => execFileSync('umount', ['-l', dir]));
  return undefined;
}

/** Fills the disk under `dir` to the last byte, then gives back `leave` bytes. */
export function fill(dir: string, leave = 0): void {
  const filler = join(dir, 'filler');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) appendFileSync(filler, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  if (leave) truncateSync(filler, Math.max(0, lstatSync(filler).size - leave));
}
