import { join } from 'node:path';
import { ConfigError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { readOwnFile } from './own-files';
import { orNull, readShape, shape, text, time, whole } from './state-shape';

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

const lastRunShape = shape<LastRun>({ startedAt: time, finishedAt: time, exitCode: whole(0), reason: orNull(text) });

export function writeLastRun(stateDir: string, run: LastRun): void {
  writeFileAtomic(join(stateDir, LAST_RUN_FILE), `${JSON.stringify(run)}\n`);
}

/**
 * The record, or undefined when no run has written one. A file that is there but cannot be read is an
 * error that names it: "no run yet" would hide the very failure an operator is looking for.
 */
export function readLastRun(stateDir: string, warn: (message: string) => void): LastRun | undefined {
  const path = join(stateDir, LAST_RUN_FILE);
  let content: string;
  try {
    content = readOwnFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError('STATE_DIR', `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
  const read = readShape(content, lastRunShape);
  if ('value' in read) return read.value;
  warn(`state file ${path} is damaged (${read.problem}); treating it as absent`);
  return undefined;
}
