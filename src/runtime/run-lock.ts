import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { readOwnFile, removeStaleTemps } from './own-files';
import { stateDirRefusal } from './host-folders';

/**
 * One run at a time per STATE_DIR. The lock is an OS object, not a file: a Unix socket bound in
 * Linux's abstract namespace under a name derived from STATE_DIR. Binding is atomic, so of two runs
 * started in the same instant exactly one gets it, and the kernel releases it the moment its holder
 * dies, however it dies (kill -9, OOM, reboot), so there is never a stale lock to detect or take over,
 * and none of the races that taking one over brings. The holder's pid and start time are written
 * beside it for the operator; that file is information only and never decides who holds the lock.
 * Limit: the abstract namespace belongs to a network namespace, so runs in different containers that
 * share one STATE_DIR do not see each other's lock.
 */
export interface LockHolder {
  pid: number;
  startedAt: string;
}

export type LockAttempt = { acquired: true; release(): Promise<void> } | { acquired: false; holder?: LockHolder };

export const HOLDER_FILE = 'lock.json';

export async function acquireRunLock(stateDir: string, startedAt: Date): Promise<LockAttempt> {
  const folder = ensureStateDir(stateDir, 'run');
  const server = createServer();
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
    server.listen(lockName(folder), () => resolve(true));
  });
  if (!bound) return { acquired: false, holder: await holderOnceWritten(folder) };
  // Nothing ever connects; the socket must not keep the process alive on its own.
  server.unref();
  // First who holds it, for a run that lost the race by a moment and is looking.
  const holderFile = join(folder, HOLDER_FILE);
  writeFileAtomic(
    holderFile,
    JSON.stringify({ pid: process.pid, startedAt: startedAt.toISOString() } satisfies LockHolder),
  );
  // Whatever a killed run left half-written is ours to clear, now that no other run can be writing.
  removeStaleTemps(folder);
  return { acquired: true, release: () => release(server, holderFile) };
}

/** How long a run that lost the lock looks for its holder's file, and how often. */
const HOLDER_WAIT_MS = 100;
const HOLDER_POLL_MS = 5;

/**
 * The holder writes its file just after it binds the lock, so a run that lost by a moment can look
 * before the file is there, or while the file of a run that was killed is still there: it looks again,
 * for a moment, until the file names a live process. Past that it names none.
 */
async function holderOnceWritten(folder: string): Promise<LockHolder | undefined> {
  for (let waited = 0; ; waited += HOLDER_POLL_MS) {
    const holder = readHolder(folder);
    if (holder && isAlive(holder.pid)) return holder;
    if (waited >= HOLDER_WAIT_MS) return undefined;
    await sleep(HOLDER_POLL_MS);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it is there, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether some run holds the lock now, found by knocking on its socket rather than taking it: for `status`. */
export async function lockHolder(stateDir: string): Promise<LockHolder | 'unknown' | undefined> {
  const folder = ensureStateDir(stateDir, 'look');
  const held = await new Promise<boolean>((resolve) => {
    const probe = connect(lockName(folder));
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  return held ? (readHolder(folder) ?? 'unknown') : undefined;
}

/**
 * STATE_DIR, created if need be, and refused where `stateDirRefusal` says (host-folders.ts, which
 * `check` asks too). Onlookers (`status`) only read it.
 */
function ensureStateDir(stateDir: string, use: 'run' | 'look'): string {
  let folder: string;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    folder = realpathSync(stateDir);
  } catch (e) {
    throw new ConfigError(
      'STATE_DIR',
      `cannot use ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const refusal = use === 'run' ? stateDirRefusal(stateDir, folder) : undefined;
  if (refusal) throw new ConfigError('STATE_DIR', refusal);
  return folder;
}

function lockName(folder: string): string {
  return `\0o365-backsync/${createHash('sha256').update(folder).digest('hex').slice(0, 40)}`;
}

function readHolder(folder: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readOwnFile(join(folder, HOLDER_FILE))) as LockHolder;
    return typeof h.pid === 'number' && typeof h.startedAt === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function release(server: Server, holderFile: string): Promise<void> {
  rmSync(holderFile, { force: true });
  return new Promise((resolve) => server.close(() => resolve()));
}
