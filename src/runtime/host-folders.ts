import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOG_TO_STDOUT, logLocation } from './logger';
import { folderExposure } from './own-files';

/**
 * The judgement of this host's folders a run writes to, made once for `sync` and `check`: what `sync`
 * refuses, `check` fails, in the same words, as `decideRun` is the one decision to start a pass.
 */
export interface FolderVerdict {
  setting: 'LOG_DIR' | 'STATE_DIR' | 'METRICS_FILE';
  /** The folder, or where the log goes when it is no folder (LOG_DIR=-). */
  folder: string;
  /** Why a run refuses (or cannot use) the folder; `sync` exits 2 with it after the setting's name. */
  refusal?: string;
  /** Why the folder is doubtful, though a run goes on; `sync` logs it. */
  warning?: string;
}

export function judgeFolders(config: { logDir: string; stateDir: string; metricsFile?: string }): FolderVerdict[] {
  const stateDir: FolderVerdict = {
    setting: 'STATE_DIR',
    folder: config.stateDir,
    refusal: stateDirRefusal(config.stateDir) ?? unwritable(config.stateDir),
  };
  const written = (setting: 'LOG_DIR' | 'METRICS_FILE', folder: string): FolderVerdict => ({
    setting,
    folder,
    refusal: unwritable(folder),
  });
  return [
    // LOG_DIR=-: the log goes to stdout, and there is no folder to judge.
    config.logDir === LOG_TO_STDOUT
      ? { setting: 'LOG_DIR', folder: logLocation(LOG_TO_STDOUT) }
      : { ...written('LOG_DIR', config.logDir), warning: logDirWarning(config.logDir) },
    stateDir,
    ...(config.metricsFile ? [written('METRICS_FILE', dirname(config.metricsFile))] : []),
  ];
}

/**
 * Why a run refuses STATE_DIR, if it does. A run trusts what it finds there (which tenants are done,
 * which pass is under way), so a folder another user could write is refused: anyone who can would
 * forge journal lines to suppress chosen tenants' resyncs. `folder` is where the path leads, once the
 * run has made it; a STATE_DIR not made yet is made this user's alone.
 */
export function stateDirRefusal(stateDir: string, folder = existingPath(stateDir)): string | undefined {
  const exposure = folder === undefined ? undefined : folderExposure(folder);
  return (
    exposure &&
    `${stateDir} ${exposure}; it must be this user's alone: chown it to this user and chmod 700 it, or choose another STATE_DIR`
  );
}

/** Why LOG_DIR is doubtful, if it is: whoever else can write it can tamper with the log. */
export function logDirWarning(logDir: string): string | undefined {
  const folder = logDir === LOG_TO_STDOUT ? undefined : existingPath(logDir);
  const exposure = folder === undefined ? undefined : folderExposure(folder);
  return exposure && `LOG_DIR ${logDir} ${exposure}: whoever can write it can tamper with the log; chmod 750 it`;
}

/** Where a path leads, or undefined when there is nothing there yet. */
function existingPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** A folder this user cannot write (or the parent a run would create it in), in the system's words. */
function unwritable(folder: string): string | undefined {
  let at = folder;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (e) {
    return `${at} is not writable (${(e as NodeJS.ErrnoException).code}); run as the user that runs sync, or chown the folder to it`;
  }
}
