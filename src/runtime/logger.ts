import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Level, type Logger, type StreamEntry } from 'pino';
import { LogFile } from './log-file';
import { cannotOpen, openForAppend } from './own-files';
import type { SecretScrubber } from './secrets';

export const LOG_FILE_NAME = 'o365-backsync.log';

/**
 * `LOG_DIR=-`: the log goes to standard output, one JSON object a line and nothing else there, as a
 * container's runtime (`kubectl logs`) and journald collect it.
 */
export const LOG_TO_STDOUT = '-';

/** Where the log goes, in an operator's words: the file's path, or standard output. */
export function logLocation(logDir: string): string {
  return logDir === LOG_TO_STDOUT ? 'standard output (LOG_DIR=-)' : join(logDir, LOG_FILE_NAME);
}

/** Field names that may hold a secret, blanked wherever they appear in a log line. */
const REDACT_PATHS = [
  'password',
  'token',
  'aps_token',
  '*.password',
  '*.token',
  '*.aps_token',
  'oaPassword',
  '*.oaPassword',
  'headers["aps-token"]',
  'headers.authorization',
];

export interface RunLog {
  logger: Logger;
  /** The log file's path, or where the log goes in words (logLocation). */
  path: string;
  onStdout: boolean;
  /** Writes out what is buffered; call before the process exits. Never blocks, never throws. */
  flush(): void;
}

/**
 * The JSON log, one line per event, appended to LOG_DIR/o365-backsync.log, or written to stdout. The file is opened here,
 * synchronously and never through a symlink, so an unwritable LOG_DIR (or a link planted at the log's
 * name) is a configuration error before any network call. `onWriteFailure` hears the first write
 * that fails later (a full disk); logging stops there. `echo` also sends the lines of its level and
 * above elsewhere: to the terminal of an interactive run.
 */
export function openRunLog(
  logDir: string,
  scrubber: SecretScrubber,
  level = 'info',
  echo?: StreamEntry,
  onWriteFailure: (path: string, error: NodeJS.ErrnoException) => void = () => undefined,
): RunLog {
  const path = logLocation(logDir);
  const destination = logDir === LOG_TO_STDOUT ? stdoutDestination() : logFile(path, logDir, onWriteFailure);
  const logger = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: { streamWrite: (line) => scrubber.scrub(line) },
    },
    echo ? pino.multistream([{ level: level as Level, stream: destination }, echo]) : destination,
  );
  return { logger, path, onStdout: logDir === LOG_TO_STDOUT, flush: () => destination.flushSync() };
}

function logFile(
  path: string,
  logDir: string,
  onWriteFailure: (path: string, error: NodeJS.ErrnoException) => void,
): LogFile {
  let fd: number;
  try {
    mkdirSync(logDir, { recursive: true, mode: 0o750 });
    fd = openForAppend(path, 0o640);
  } catch (e) {
    throw cannotOpen('LOG_DIR', `cannot write the log file ${path}`, e);
  }
  return new LogFile(fd, (error) => onWriteFailure(path, error));
}

/**
 * Through process.stdout, not write(2) on fd 1: once Node has opened stdout as a pipe, the pipe is
 * non-blocking, and a synchronous write to a reader that lags fails with EAGAIN. The stream queues
 * what the pipe cannot take yet and writes it out before the process exits.
 */
function stdoutDestination(): { write(line: string): boolean; flushSync(): void } {
  return { write: (line) => process.stdout.write(line), flushSync: () => undefined };
}
