import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { OwnFileError } from '../errors';
import { join } from 'node:path';

/**
 * How this tool opens the files it owns (log, journal, state, metrics). Their folders may be writable
 * by someone else, and a run is often root, so a name in them is never trusted to be a plain file:
 * no open follows a symlink (O_NOFOLLOW answers ELOOP), and a temporary file is created exclusively
 * under a name nobody can guess, so nobody can plant a link there first.
 */
const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_APPEND, O_EXCL, O_NOFOLLOW } = constants;

/** Opens `path` for appending (and reading back), creating it with `mode`; a symlink there is refused (ELOOP). */
export function openForAppend(path: string, mode: number): number {
  return openSync(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, mode);
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
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW);
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
  EISDIR: 'it is a directory',
  ENOTDIR: 'a folder on its path is not a folder',
  EIO: 'input/output error',
};

/** A failed file operation in an operator's words: the system's code, and what it means. */
export function fileProblem(e: NodeJS.ErrnoException): string {
  return e.code && FILE_PROBLEMS[e.code] ? `${e.code} (${FILE_PROBLEMS[e.code]})` : (e.code ?? e.message);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
