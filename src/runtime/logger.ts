import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Level, type Logger, type StreamEntry } from 'pino';
import { ConfigError } from '../errors';
import { LogFile } from './log-file';
import { fileProblem, openForAppend } from './own-files';
import type { SecretScrubber } from './secrets';

export const LOG_FILE_NAME = 'o365-backsync.log';

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
  path: string;
  /** Writes out what is buffered; call before the process exits. Never blocks, never throws. */
  flush(): void;
}

/**
 * The JSON log, one line per event, appended to LOG_DIR/o365-backsync.log. The file is opened here,
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
  const path = join(logDir, LOG_FILE_NAME);
  let fd: number;
  try {
    mkdirSync(logDir, { recursive: true, mode: 0o750 });
    fd = openForAppend(path, 0o640);
  } catch (e) {
    throw new ConfigError('LOG_DIR', `cannot write the log file ${path}: ${fileProblem(e as NodeJS.ErrnoException)}`);
  }
  const destination = new LogFile(fd, (error) => onWriteFailure(path, error));
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
  return { logger, path, flush: () => destination.flushSync() };
}
