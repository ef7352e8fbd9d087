import { writeSync } from 'node:fs';

/**
 * The log file as pino's destination. pino's own (sonic-boom) retries a failed write every 100 ms
 * for as long as it fails, so a full LOG_DIR would hang the run for good, signals and all. Here a
 * write either succeeds or ends logging: the first failure is handed to `onFailure` once (the run
 * then stops and says why), and every later line is dropped, so logging can never block an exit.
 *
 * Lines are gathered and written in one synchronous call every FLUSH_MS or BATCH_BYTES, whichever
 * comes first: one system call per batch rather than per line, and lines always land in order. A
 * kill -9 loses at most the last FLUSH_MS of lines; the journal, not the log, is what resumes a pass.
 */
const FLUSH_MS = 100;
const BATCH_BYTES = 64 * 1024;

export type WriteFn = (fd: number, data: Buffer) => number;

export class LogFile {
  private batch: string[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private failure: NodeJS.ErrnoException | undefined;

  constructor(
    private readonly fd: number,
    private readonly onFailure: (error: NodeJS.ErrnoException) => void,
    private readonly writeTo: WriteFn = writeSync,
  ) {}

  get failed(): NodeJS.ErrnoException | undefined {
    return this.failure;
  }

  write(line: string): boolean {
    if (this.failure) return true;
    this.batch.push(line);
    this.batchBytes += line.length;
    if (this.batchBytes >= BATCH_BYTES) this.flushSync();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flushSync(), FLUSH_MS);
      this.timer.unref();
    }
    return true;
  }

  /** Writes out what is gathered; a failure is reported, never retried. */
  flushSync(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure || !this.batch.length) return;
    let data = Buffer.from(this.batch.join(''));
    this.batch = [];
    this.batchBytes = 0;
    try {
      // A short write (the disk filled midway) is followed by the rest, which then fails on its own.
      while (data.length) data = data.subarray(this.writeTo(this.fd, data));
    } catch (e) {
      this.failure = e as NodeJS.ErrnoException;
      this.onFailure(this.failure);
    }
  }
}
