import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, HostError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { cannotOpen, openOwnFile, readOwnFile, removeStaleTemps } from './own-files';
import { readShape, shape, time, whole } from './state-shape';
import { stateDirRefusal } from './host-folders';

/**
 * One run at a time per STATE_DIR: an exclusive flock(2) on STATE_DIR/run.lock.
 *
 * - Nobody else can take it: the file is inside STATE_DIR, which a run requires to be this user's alone
 *   (mode 700), so no other local user can even open it. (An abstract Unix socket, which has no
 *   permissions, could be bound first by any user.)
 * - No path gets around it: the lock belongs to the file's inode, so a bind mount, a symlink or any
 *   other spelling of STATE_DIR meets the same lock; and so do containers on one host sharing the
 *   folder, whatever their network namespace.
 * - It cannot go stale: the kernel drops it when the last descriptor of the open file closes, which
 *   happens however the holder dies (kill -9, OOM); a reboot leaves no lock at all.
 * - Taking it never waits (LOCK_NB), and nothing ever connects to it, so no one can hold a run up.
 *
 * Node has no flock(2), and the npm bindings for it are native addons built for one Node ABI at
 * install. flock(1) from util-linux (or busybox) takes the lock instead, on a descriptor it inherits:
 * a flock belongs to the open file description, which the child shares with us, so the lock stays
 * ours after the child exits, until this process closes the file or dies.
 *
 * Not guarded: runs on different hosts sharing STATE_DIR over NFS (flock there becomes an NFS lock
 * only on some servers, and a lost client's lock lasts until its lease expires), and Kubernetes pods on
 * different nodes. Run one scheduler (one CronJob with concurrencyPolicy Forbid) for one STATE_DIR.
 *
 * The holder's pid and start time are written beside the lock (lock.json) for the operator and for
 * the runs it turns away; the file is information only and never decides who holds the lock.
 */
export interface LockHolder {
  pid: number;
  startedAt: string;
}

/**
 * A run that did not get the lock learns who holds it: a run of this tool (`holder`), or, when no
 * live run says it does, something else, named by the kernel's pid for the lock when it has one.
 */
export type LockAttempt =
  { acquired: true; release(): Promise<void> } | { acquired: false; holder?: LockHolder; lockPid?: number };

export const LOCK_FILE = 'run.lock';
export const HOLDER_FILE = 'lock.json';

/**
 * Where flock(1) is found: beside the Node.js that runs the tool first (the self-contained release
 * carries its own there), then where the systems the tool runs on keep it. PATH is not trusted for a
 * root run.
 */
const FLOCK_PROGRAMS = [join(dirname(process.execPath), 'flock'), '/usr/bin/flock', '/bin/flock'];
const FLOCK_BUSY = 75;

export async function acquireRunLock(stateDir: string, startedAt: Date): Promise<LockAttempt> {
  const folder = ensureStateDir(stateDir, 'run');
  const lockFile = join(folder, LOCK_FILE);
  let fd: number;
  try {
    fd = openOwnFile(lockFile, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (e) {
    throw cannotOpen('STATE_DIR', `cannot open the run lock ${lockFile}`, e);
  }
  if (!flockNow(fd, lockFile)) {
    closeSync(fd);
    const holder = await holderOnceWritten(folder);
    return holder ? { acquired: false, holder } : { acquired: false, lockPid: kernelLockPid(lockFile) };
  }
  // First who holds it, for a run that lost the race by a moment and is looking.
  const holderFile = join(folder, HOLDER_FILE);
  writeFileAtomic(
    holderFile,
    JSON.stringify({ pid: process.pid, startedAt: startedAt.toISOString() } satisfies LockHolder),
  );
  // Whatever a killed run left half-written is ours to clear, now that no other run can be writing.
  removeStaleTemps(folder);
  return {
    acquired: true,
    release: () => {
      rmSync(holderFile, { force: true });
      closeSync(fd);
      return Promise.resolve();
    },
  };
}

/** Takes an exclusive flock on `fd` without waiting: true if taken, false if someone holds it. */
function flockNow(fd: number, lockFile: string): boolean {
  const program = FLOCK_PROGRAMS.find((p) => existsSync(p));
  if (!program)
    throw new HostError(
      `the run lock needs flock(1), found in none of ${FLOCK_PROGRAMS.join(', ')}: install util-linux`,
    );
  const taken = spawnSync(program, ['--nonblock', '--conflict-exit-code', String(FLOCK_BUSY), '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
  });
  if (taken.error) throw taken.error;
  if (taken.status === 0) return true;
  if (taken.status === FLOCK_BUSY) return false;
  throw new HostError(
    `cannot lock ${lockFile}: ${program} exited ${taken.status ?? taken.signal}: ${String(taken.stderr).trim()}`,
  );
}

/** How long a run that lost the lock looks for its holder's file, and how often. */
const HOLDER_WAIT_MS = 2000;
const HOLDER_POLL_MS = 5;

/**
 * The holder writes its file just after it takes the lock, so a run that lost by a moment can look
 * before the file is there, or while the file of a run that was killed is still there: it looks again,
 * for a moment, until the file names a live process. Past that the lock is held by something else.
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

/**
 * Whether some process holds the lock now, read from the kernel's table of locks (/proc/locks) rather
 * than by trying to take it, which could turn a starting run away: for `status`.
 */
export function lockHolder(stateDir: string): Promise<LockHolder | 'unknown' | undefined> {
  const folder = ensureStateDir(stateDir, 'look');
  if (kernelLockPid(join(folder, LOCK_FILE)) === undefined) return Promise.resolve(undefined);
  const holder = readHolder(folder);
  return Promise.resolve(holder && isAlive(holder.pid) ? holder : 'unknown');
}

/**
 * The pid the kernel lists for a flock on `lockFile`, if one is held: the process that took it (for a
 * run of this tool, its flock(1) child, long gone), 0 when the kernel does not say.
 */
function kernelLockPid(lockFile: string): number | undefined {
  let id: string;
  let table: string;
  try {
    const fd = openOwnFile(lockFile, constants.O_RDONLY, 0o600);
    try {
      const st = fstatSync(fd);
      // /proc/locks names a file as major:minor:inode, the device numbers in hex.
      const major = ((st.dev >> 8) & 0xfff) | (Math.floor(st.dev / 2 ** 32) & ~0xfff);
      const minor = (st.dev & 0xff) | ((st.dev >> 12) & ~0xff);
      id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
    } finally {
      closeSync(fd);
    }
    table = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; a waiter's line starts "1: ->".
    if (fields[1] === 'FLOCK' && fields[5] === id) return Number(fields[4]) || 0;
  }
  return undefined;
}

/** How long a lock may be held, against the last finished pass, before the runs it turns away say so. */
const STUCK_FACTOR = 3;
const STUCK_FLOOR_MS = 15 * 60_000;
const STUCK_WITHOUT_HISTORY_MS = 24 * 3600_000;

/**
 * Why a run that found the lock busy without a live run of this tool holding it must not exit 0: no
 * pass can run until that holder lets go.
 */
export function foreignHolder(stateDir: string, lockPid: number | undefined): string {
  const lockFile = join(stateDir, LOCK_FILE);
  return `the run lock ${lockFile} is held by ${lockPid ? `pid ${lockPid}` : 'a process'}, which is not a run of this tool (${HOLDER_FILE} names no live run); no pass can run until it lets go: find it with 'fuser -v ${lockFile}'`;
}

/**
 * Why a run that found the lock held by a run of this tool must not exit 0: that run has gone on far
 * longer than the last finished pass took (stuck, say, on a hung file). Undefined while it may well
 * still be working.
 */
export function stuckHolder(holder: LockHolder, lastPassMs: number | undefined, nowMs: number): string | undefined {
  const heldMs = nowMs - Date.parse(holder.startedAt);
  const limitMs =
    lastPassMs === undefined ? STUCK_WITHOUT_HISTORY_MS : Math.max(STUCK_FACTOR * lastPassMs, STUCK_FLOOR_MS);
  if (!(heldMs > limitMs)) return undefined;
  const against =
    lastPassMs === undefined
      ? 'and no pass has finished yet'
      : `over ${STUCK_FACTOR} x the last pass's ${Math.round(lastPassMs / 60_000)} min`;
  return `the run holding the lock (pid ${holder.pid}, since ${holder.startedAt}) has gone on for ${Math.round(heldMs / 60_000)} min, ${against}: it may be stuck; see its lines in the log, or stop it (kill ${holder.pid})`;
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
    throw cannotOpen('STATE_DIR', `cannot use ${stateDir}`, e);
  }
  const refusal = use === 'run' ? stateDirRefusal(stateDir, folder) : undefined;
  if (refusal) throw new ConfigError('STATE_DIR', refusal);
  return folder;
}

const holderShape = shape<LockHolder>({ pid: whole(1), startedAt: time });

/**
 * The holder the file names, checked like every state file; a file that is missing, half-written or
 * of another shape names no holder (it is information only, and the lock itself is the kernel's).
 */
function readHolder(folder: string): LockHolder | undefined {
  let content: string;
  try {
    content = readOwnFile(join(folder, HOLDER_FILE));
  } catch {
    return undefined;
  }
  const read = readShape(content, holderShape);
  return 'value' in read ? read.value : undefined;
}
