import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Level, type Logger, type StreamEntry } from 'pino';
import { ConfigError } from '../errors';
import type { SecretScrubber } from './secrets';

export const LOG_FILE_NAME = 'o365-backsync.log';

/** Field names that may hold a secret, blanked wherever they appear in a log line. */
const REDACT_PATHS = ['password', 'token', 'aps_token', '*.password', '*.token', '*.aps_token', 'oaPassword', '*.oaPassword', 'headers["aps-token"]', 'headers.authorization'];

export interface RunLog {
  logger: Logger;
  path: string;
  /** Writes out what is buffered; call before the process exits. */
  flush(): void;
}

/**
 * The JSON log, one line per event, appended to LOG_DIR/o365-backsync.log. The file is opened here,
 * synchronously, so an unwritable LOG_DIR is a configuration error before any network call. `echo`
 * also sends the lines of its level and above elsewhere: to the terminal of an interactive run.
 */
export function openRunLog(logDir: string, scrubber: SecretScrubber, level = 'info', echo?: StreamEntry): RunLog {
  const path = join(logDir, LOG_FILE_NAME);
  let fd: number;
  try {
    mkdirSync(logDir, { recursive: true, mode: 0o750 });
    fd = openSync(path, 'a', 0o640);
  } catch (e) {
    throw new ConfigError('LOG_DIR', `cannot write the log file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const destination = pino.destination({ fd, sync: false });
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
