import { join } from 'node:path';
import { ConfigError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { readOwnFile } from './own-files';

/**
 * How the last run that took the lock ended, whatever it did: a pass, no pass (not due), or a failure
 * before or during one. `last-pass.json` keeps only finished passes, so without this file a run that
 * exits 3 every time leaves `status` and monitoring nothing to say. Written under the lock, replaced
 * atomically, 0600 like the other state files.
 */
export const LAST_RUN_FILE = 'last-run.json';

export interface LastRun {
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  /** The run's one-line reason, as it said it; null when it ended well. */
  reason: string | null;
}

export function writeLastRun(stateDir: string, run: LastRun): void {
  writeFileAtomic(join(stateDir, LAST_RUN_FILE), `${JSON.stringify(run)}\n`);
}

/**
 * The record, or undefined when no run has written one. A file that is there but cannot be read is an
 * error that names it: "no run yet" would hide the very failure an operator is looking for.
 */
export function readLastRun(stateDir: string, warn: (message: string) => void): LastRun | undefined {
  const path = join(stateDir, LAST_RUN_FILE);
  let text: string;
  try {
    text = readOwnFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError('STATE_DIR', `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    const run = JSON.parse(text) as Partial<LastRun>;
    if (
      typeof run.startedAt === 'string' &&
      typeof run.finishedAt === 'string' &&
      Number.isInteger(run.exitCode) &&
      (run.reason === null || typeof run.reason === 'string')
    )
      return run as LastRun;
  } catch {
    // Reported below, like a record of the wrong shape.
  }
  warn(`state file ${path} is damaged; treating it as absent`);
  return undefined;
}
