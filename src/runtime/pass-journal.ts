import { closeSync, fdatasyncSync, writeSync } from 'node:fs';
import type { OwnFileError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { openForAppend, ownFileError, readOwnFile } from './own-files';
import type { CursorState } from './pass-cursor';
import {
  type DoneOutcome,
  failureFields,
  failureShape,
  type JournalLine,
  PassRecord,
  type RecordSnapshot,
  syncFailureShape,
  tenantCountsShape,
} from './pass-record';
import {
  byInstance,
  type Check,
  count,
  exactly,
  finite,
  listOf,
  oneOf,
  optional,
  readShape,
  shape,
  text,
  whole,
} from './state-shape';

/**
 * `journal.ndjson`: the unfinished pass's record (pass-record.ts), kept so that a kill -9 loses at
 * most the last fraction of a second of completions:
 * - its first line is a snapshot of the record, `{"v":3,"s":{...}}`: counts, the first failures, the
 *   tenants to retry, and per instance the cursor and the few tenants done beyond it;
 * - then one line per change (pass-record.ts's JournalLine): a tenant done, `{"i","t","o",...}`, with
 *   `"c"` and `"n"` when that moved the instance's cursor, or only the cursor moving, `{"i","c","n"}`.
 *   Lines are written out every JOURNAL_FLUSH_MS.
 * Once the lines written since the snapshot would outweigh COMPACT_AFTER_BYTES (or the snapshot itself,
 * if that is larger) the file is replaced, atomically, by a fresh snapshot instead: the file stays
 * within the snapshot plus the larger of it and COMPACT_AFTER_BYTES, and the snapshot does not grow
 * with the tenants (pass-cursor.ts, pass-record.ts). The file is 0600.
 *
 * A file in any other shape is damaged: its reader warns and the pass's tenants are resynced; a line
 * in another shape (a kill cut it short) is passed over, and its tenant is resynced.
 */
export const JOURNAL_FILE = 'journal.ndjson';
const JOURNAL_FLUSH_MS = 200;
/** About 650 lines of 100 bytes: a compaction costs one small atomic write per some hundreds of tenants. */
export const COMPACT_AFTER_BYTES = 64 * 1024;
const VERSION = 3;

const OUTCOMES = ['synced', 'failed', 'skipped', 'busy'] as const satisfies readonly DoneOutcome[];

const snapshotShape: Check<{ v: 3; s: RecordSnapshot }> = shape({
  v: exactly(VERSION),
  s: shape<RecordSnapshot>({
    counts: shape(tenantCountsShape),
    failures: listOf(failureShape),
    failuresOmitted: count,
    lastSyncFailures: listOf(syncFailureShape),
    lastSyncFailuresOmitted: count,
    retries: listOf(shape({ ...failureFields, lastSync: optional(finite) })),
    cursors: byInstance(shape<CursorState>({ through: optional(text), near: optional(count), beyond: listOf(text) })),
  }),
});
const lineShape: Check<JournalLine> = shape<JournalLine>({
  i: whole(1),
  t: optional(text),
  o: optional(oneOf(OUTCOMES)),
  m: optional(text),
  l: optional(finite),
  r: optional(exactly(1)),
  c: optional(text),
  n: optional(count),
});

/** The record a journal file holds; a missing file is an empty record. */
export function readJournal(path: string, warn: (message: string) => void): PassRecord {
  let content: string;
  try {
    content = readOwnFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      warn(`cannot read ${path}: ${(e as Error).message}; the pass's tenants will be resynced`);
    return new PassRecord();
  }
  return parseJournal(content, path, warn);
}

/** The record a journal's text holds; `path` names it in warnings. */
export function parseJournal(content: string, path: string, warn: (message: string) => void): PassRecord {
  const lines = content.split('\n').filter(Boolean);
  if (!lines.length) return new PassRecord();
  const snapshot = readShape(lines[0], snapshotShape);
  if ('problem' in snapshot) {
    // The lines after a snapshot only make sense on top of it.
    warn(`${path} is damaged (its first line: ${snapshot.problem}); the pass's tenants will be resynced`);
    return new PassRecord();
  }
  const record = new PassRecord(snapshot.value.s);
  let damaged = 0;
  for (const raw of lines.slice(1)) {
    const line = readShape(raw, lineShape);
    if ('value' in line && isChange(line.value)) record.replay(line.value);
    else damaged++;
  }
  // A kill can cut the last line short; those tenants are simply done again.
  if (damaged) warn(`${damaged} damaged line(s) in ${path} ignored; those tenants will be resynced`);
  return record;
}

/** A line says a tenant was done (with its outcome), or the cursor moved, or both. */
function isChange({ t, o, c }: JournalLine): boolean {
  return (t !== undefined && o !== undefined) || (t === undefined && o === undefined && c !== undefined);
}

/**
 * The journal a run appends to while it works on the pass. It starts by replacing the file with a
 * snapshot of `record`, and does so again instead of writing lines once they would outweigh the
 * snapshot or COMPACT_AFTER_BYTES. A write that fails (a full disk) is reported once to `onFailure`,
 * which stops the run; the journal then takes nothing more, so what it already holds stays intact for
 * the run that resumes. It is never opened through a symlink.
 */
export class JournalWriter {
  private fd: number;
  private buffer: string[] = [];
  /** Characters of the lines written since the snapshot, and of the snapshot: about their bytes. */
  private linesSize = 0;
  private snapshotSize = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private failed = false;

  constructor(
    private readonly path: string,
    private readonly record: PassRecord,
    private readonly onFailure: (error: OwnFileError) => void,
  ) {
    this.fd = this.writeSnapshot();
    this.timer = setInterval(() => this.flush(), JOURNAL_FLUSH_MS);
    this.timer.unref();
  }

  /** A line whose effect the record already holds. */
  append(line: JournalLine): void {
    if (this.closed || this.failed) return;
    this.buffer.push(`${JSON.stringify(line)}\n`);
  }

  /** Writes buffered lines to disk; never throws, so it is safe from a timer or a signal handler. */
  flush(): void {
    if (!this.buffer.length || this.closed || this.failed) return;
    try {
      const lines = this.buffer.join('');
      if (this.linesSize + lines.length > Math.max(COMPACT_AFTER_BYTES, this.snapshotSize)) {
        // The record already holds every buffered line: its snapshot replaces them and all before.
        const old = this.fd;
        this.fd = this.writeSnapshot();
        closeSync(old);
      } else {
        writeSync(this.fd, lines);
        fdatasyncSync(this.fd);
        this.linesSize += lines.length;
      }
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

  /** Replaces the file with the record's snapshot and opens it for appending. */
  private writeSnapshot(): number {
    const snapshot = `${JSON.stringify({ v: VERSION, s: this.record.snapshot() })}\n`;
    writeFileAtomic(this.path, snapshot);
    this.snapshotSize = snapshot.length;
    this.linesSize = 0;
    try {
      return openForAppend(this.path, 0o600);
    } catch (e) {
      throw ownFileError(this.path, e);
    }
  }
}
