import { closeSync, fdatasyncSync, fstatSync, readSync, writeSync } from 'node:fs';
import type { OwnFileError } from '../errors';
import { openForAppend, ownFileError, readOwnFile } from './own-files';
import { PassRecord, type DoneOutcome } from './pass-record';

/**
 * `journal.ndjson`: one line per tenant done in the unfinished pass, appended as tenants finish and
 * written out every JOURNAL_FLUSH_MS, so a kill -9 loses at most the last fraction of a second of
 * completions. About 70 bytes a tenant: 7 MB at 100,000 tenants. The file is 0600.
 */
export const JOURNAL_FILE = 'journal.ndjson';
const JOURNAL_FLUSH_MS = 200;

interface JournalLine {
  i: number;
  t: string;
  o: DoneOutcome;
  m?: string;
  /** The non-zero lastSync the tenant's status gave. */
  l?: number;
}

const OUTCOMES: readonly string[] = ['synced', 'failed', 'skipped', 'busy'] satisfies DoneOutcome[];

/** The record a journal file holds; a missing file is an empty record. */
export function readJournal(path: string, warn: (message: string) => void): PassRecord {
  const record = new PassRecord();
  let text = '';
  try {
    text = readOwnFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${path}: ${(e as Error).message}; resuming without it`);
    return record;
  }
  let damaged = 0;
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const line = JSON.parse(raw) as JournalLine;
      if (typeof line.i !== 'number' || typeof line.t !== 'string' || !OUTCOMES.includes(line.o)) throw new Error('shape');
      record.add(line.i, line.t, line.o, line.m, line.l);
    } catch {
      damaged++;
    }
  }
  // A kill can cut the last line short; those tenants are simply done again.
  if (damaged) warn(`${damaged} damaged line(s) in ${path} ignored; those tenants will be resynced`);
  return record;
}

/**
 * The journal a run appends to while it works on the pass. A write that fails (a full disk) is
 * reported once to `onFailure`, which stops the run; the journal then takes nothing more, so what it
 * already holds stays intact for the run that resumes. It is never opened through a symlink.
 */
export class JournalWriter {
  private readonly fd: number;
  private buffer: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private failed = false;

  constructor(
    private readonly path: string,
    private readonly onFailure: (error: OwnFileError) => void,
  ) {
    try {
      this.fd = openForAppend(path, 0o600);
      // A kill or a full disk can leave the last line cut short: end it, so that only it is lost
      // rather than the first line this run appends to it.
      const size = fstatSync(this.fd).size;
      if (size > 0 && !endsWithNewline(this.fd, size)) writeSync(this.fd, '\n');
    } catch (e) {
      throw ownFileError(path, e);
    }
    this.timer = setInterval(() => this.flush(), JOURNAL_FLUSH_MS);
    this.timer.unref();
  }

  append(instanceId: number, tenantId: string, outcome: DoneOutcome, message?: string, lastSync?: number): void {
    if (this.closed || this.failed) return;
    const line: JournalLine = { i: instanceId, t: tenantId, o: outcome, ...(message ? { m: message } : {}), ...(lastSync !== undefined ? { l: lastSync } : {}) };
    this.buffer.push(`${JSON.stringify(line)}\n`);
  }

  /** Writes buffered completions to disk; never throws, so it is safe from a timer or a signal handler. */
  flush(): void {
    if (!this.buffer.length || this.closed || this.failed) return;
    try {
      writeSync(this.fd, this.buffer.join(''));
      fdatasyncSync(this.fd);
    } catch (e) {
      this.failed = true;
      this.onFailure(ownFileError(this.path, e));
    }
    this.buffer = [];
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function endsWithNewline(fd: number, size: number): boolean {
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}
