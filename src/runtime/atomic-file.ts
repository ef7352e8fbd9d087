import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTempBeside, ownFileError } from './own-files';

/**
 * Replaces a file so that a reader, or the next run after a crash or power loss, sees either the old
 * content or the new, never a torn mix: write a temporary file beside it, fsync it, rename it over
 * the old one, then fsync the folder so the rename itself is on disk. The temporary file is created
 * exclusively under a random name (see own-files.ts), and rename replaces whatever is at `path`, a
 * planted symlink included, without writing through it. Any failure (a full disk, a read-only
 * folder) is an OwnFileError naming the file.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  try {
    replace(path, data, mode);
  } catch (e) {
    throw ownFileError(path, e);
  }
}

function replace(path: string, data: string, mode: number): void {
  const { fd, tmp } = createTempBeside(path, mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  syncFolder(dirname(path));
}

export function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
