import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  realpathSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { type BacksyncError, ConfigError, openFilesLimit, OwnFileError } from '../errors';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * How this tool opens the files it owns (log, journal, state, metrics). Their folders may be writable
 * by someone else, and a run is often root, so a name in them is never trusted to be a plain file:
 * no open follows a symlink (O_NOFOLLOW answers ELOOP), no open waits (O_NONBLOCK: a FIFO with no
 * reader, or a device, cannot hold the run), and what was opened must be a regular file (ENOTREG
 * otherwise). A file found with a looser mode than ours is put back to ours. A temporary file is
 * created exclusively under a name nobody can guess, so nobody can plant a link there first.
 */
const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_APPEND, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * Opens one of our files by the rules above: `flags` plus O_NOFOLLOW and O_NONBLOCK, created with
 * `mode`, refused unless it is a regular file, its mode narrowed to `mode` if it was wider (a
 * file this user cannot chmod is refused with EPERM).
 */
export function openOwnFile(path: string, flags: number, mode: number): number {
  const fd = openSync(path, flags | O_NOFOLLOW | O_NONBLOCK, mode);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegularFile(path);
    if (st.mode & 0o777 & ~mode) fchmodSync(fd, mode);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Opens `path` for appending (and reading back), creating it with `mode`, by the rules above. */
export function openForAppend(path: string, mode: number): number {
  return openOwnFile(path, O_RDWR | O_CREAT | O_APPEND, mode);
}

/** Opens `path` for writing from its start, emptied only once it is known to be a regular file of ours. */
export function openForRewrite(path: string, mode: number): number {
  const fd = openOwnFile(path, O_WRONLY | O_CREAT, mode);
  try {
    ftruncateSync(fd, 0);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Reads a file the operator points us at (the env file, a CA bundle): symlinks are followed, as
 * configuration management and mounted secrets use them, but a FIFO or a device is refused rather
 * than waited on.
 */
export function readInputFile(path: string): Buffer {
  const fd = openSync(path, O_RDONLY | O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw notRegularFile(path);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function notRegularFile(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG', path });
}

/** The failure of a write to one of our files, in the operator's words. */
export function ownFileError(path: string, e: unknown): OwnFileError {
  return e instanceof OwnFileError
    ? e
    : new OwnFileError(path, e as NodeJS.ErrnoException, fileProblem(e as NodeJS.ErrnoException));
}

/**
 * Moves whatever is at `path` aside unless it is a plain file (or nothing): one of our state files
 * found as a folder (or a link, or a device) is damaged state, and the run must write the real one;
 * what is there may be someone's, so it is renamed, with its contents, never deleted. Returns the
 * name it now has, or undefined when nothing was moved. Only for names in STATE_DIR, which the run
 * lock and folderExposure make this user's alone.
 */
export function moveAsideUnlessFile(path: string): string | undefined {
  try {
    if (lstatSync(path).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const aside = `${path}.moved-aside-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  renameSync(path, aside);
  return aside;
}

/** Reads one of our files, never through a symlink (ELOOP), so nobody can feed a run forged state. */
export function readOwnFile(path: string): string {
  const fd = openOwnFile(path, O_RDONLY, 0o600);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Creates a fresh temporary file beside `path` and opens it for writing. */
export function createTempBeside(path: string, mode: number): { fd: number; tmp: string } {
  const tmp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  return { fd: openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode), tmp };
}

/**
 * Removes the temporary files a killed run left in `folder` (this version's random names and the
 * older `<pid>.tmp` ones), only those beside `forFile` when it is given. Called only under the run
 * lock, so no live writer owns them. Unlinking removes a planted symlink itself, never its target.
 */
export function removeStaleTemps(folder: string, forFile?: string): number {
  const stale = new RegExp(`^${forFile ? escapeRegExp(forFile) : '.+'}\\.[0-9a-f]+\\.tmp$`);
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!stale.test(name)) continue;
    try {
      unlinkSync(join(folder, name));
      removed++;
    } catch {
      // Gone meanwhile, or not ours to remove: nothing to clean.
    }
  }
  return removed;
}

/** Why a folder of ours is unsafe to trust, if it is: writable by others, or owned by another user. */
export function folderExposure(folder: string): string | undefined {
  const st = statSync(folder);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `is owned by uid ${st.uid}, not by this user (uid ${uid})`;
  if (st.mode & 0o022)
    return `can be written by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'it is a symbolic link, which this tool never follows',
  ENOTREG: 'it is not a regular file (a FIFO, a device or a socket), which this tool never opens',
  ENXIO: 'it is a FIFO or a device, which this tool never opens',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a folder on its path is not a folder',
  EIO: 'input/output error',
};

/**
 * A file named by a setting that cannot be opened, as that setting's error, with the system's word
 * for why; unless the open-files limit is what stopped it, which is the host's error (openFilesLimit).
 */
export function cannotOpen(variable: string, problem: string, e: unknown): BacksyncError {
  return openFilesLimit(e) ?? new ConfigError(variable, `${problem}: ${fileProblem(e as NodeJS.ErrnoException)}`);
}

/** A failed file operation in an operator's words: the system's code, and what it means. */
export function fileProblem(e: NodeJS.ErrnoException): string {
  return e.code && FILE_PROBLEMS[e.code] ? `${e.code} (${FILE_PROBLEMS[e.code]})` : (e.code ?? e.message);
}

/**
 * Why `path`, given for a file this tool writes of its own accord (--trace, METRICS_FILE), would
 * overwrite one of the files it keeps: anything in STATE_DIR, or the log. Compared by the real
 * folder, and by inode when the file is there, so no other spelling or hard link gets around it.
 */
export interface KeptFiles {
  stateDir: string;
  logFile: string;
}

export function claimedPath(path: string, own: KeptFiles): string | undefined {
  const real = realLocation(path);
  if (real.folder === realOrAsGiven(own.stateDir))
    return `it is in STATE_DIR (${own.stateDir}), whose files only this tool may write`;
  if (real.path === realLocation(own.logFile).path || sameInode(path, own.logFile)) return `it is the log file`;
  return undefined;
}

function realLocation(path: string): { folder: string; path: string } {
  const folder = realOrAsGiven(dirname(path));
  return { folder, path: join(folder, basename(path)) };
}

function realOrAsGiven(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // A folder that does not exist yet holds nothing of ours.
    return resolve(path);
  }
}

function sameInode(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
