import { closeSync, fdatasyncSync, writeSync } from 'node:fs';
import { sortsAfter } from '../sync/tenant-order';
import type { OwnFileError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { openForAppend, ownFileError, readOwnFile } from './own-files';
import type { CursorState } from './pass-cursor';
import { PassRecord, type DoneOutcome, type RecordSnapshot } from './pass-record';

/**
 * `journal.ndjson`: the unfinished pass's record (pass-record.ts), kept so that a kill -9 loses at
 * most the last fraction of a second of completions:
 * - its first line is a snapshot of the record, `{"v":2,"s":{...}}`: counts, the first failures,
 *   and per instance the cursor and the few tenants done beyond it;
 * - then one line per tenant done, `{"i":instance,"t":tenant,"o":outcome,...}`, with `"c"` (and `"n"`,
 *   about where the listing had it) when that moved the instance's cursor, and a line `{"i","c","n"}`
 *   when a tenant an earlier run did moved it. Lines are written out every JOURNAL_FLUSH_MS.
 * Every COMPACT_AFTER_LINES lines the file is replaced, atomically, by a fresh snapshot, so its size
 * stays bounded whatever the number of tenants. The file is 0600.
 */
export const JOURNAL_FILE = 'journal.ndjson';
const JOURNAL_FLUSH_MS = 200;
/** About 100 bytes a line: the file stays under a megabyte or so beside its snapshot. */
export const COMPACT_AFTER_LINES = 5000;
const VERSION = 2;

/** A line after the snapshot: a tenant done (with `o`), or only the cursor moving. */
export interface JournalLine {
  i: number;
  t?: string;
  o?: DoneOutcome;
  m?: string;
  /** The non-zero lastSync the tenant's status gave. */
  l?: number;
  /** The instance's cursor after this line, and about where the listing had it. */
  c?: string;
  n?: number;
}

const OUTCOMES: readonly string[] = ['synced', 'failed', 'skipped', 'busy'] satisfies DoneOutcome[];

/** The record a journal file holds; a missing file is an empty record. */
export function readJournal(path: string, warn: (message: string) => void): PassRecord {
  let text: string;
  try {
    text = readOwnFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      warn(`cannot read ${path}: ${(e as Error).message}; resuming without it`);
    return new PassRecord();
  }
  return parseJournal(text, path, warn);
}

/** The record a journal's text holds; `path` names it in warnings. */
export function parseJournal(text: string, path: string, warn: (message: string) => void): PassRecord {
  const lines = text.split('\n').filter(Boolean);
  const snapshot = snapshotOf(lines[0]);
  if (!snapshot && lines[0]?.startsWith('{"v":')) {
    // The lines after a snapshot only make sense on top of it.
    warn(`${path} has a damaged snapshot; the pass's tenants will be resynced`);
    return new PassRecord();
  }
  if (lines.length && !snapshot) {
    // Journals before the cursor held one line per tenant done, in no useful order: those tenants are
    // passed over as done beyond the start of each instance, and the file is rewritten in this format.
    warn(
      `${path} is from an earlier version: its ${lines.length} line(s) are read as tenants done; each instance is walked again from its start, passing over them`,
    );
  }
  const replay = new Replay(snapshot);
  let damaged = 0;
  for (const raw of snapshot ? lines.slice(1) : lines) {
    try {
      replay.apply(lineOf(raw));
    } catch {
      damaged++;
    }
  }
  // A kill can cut the last line short; those tenants are simply done again.
  if (damaged) warn(`${damaged} damaged line(s) in ${path} ignored; those tenants will be resynced`);
  return replay.record();
}

/** Rebuilds the record from a snapshot and the lines after it. */
class Replay {
  private readonly counting: PassRecord;
  private readonly cursors = new Map<number, { through?: string; near?: number; beyond: Set<string> }>();

  constructor(snapshot: RecordSnapshot | undefined) {
    this.counting = new PassRecord(snapshot && { ...snapshot, cursors: {} });
    for (const [id, state] of Object.entries(snapshot?.cursors ?? {}))
      this.cursors.set(Number(id), { ...state, beyond: new Set(state.beyond) });
  }

  apply(line: JournalLine): void {
    let cursor = this.cursors.get(line.i);
    if (!cursor) this.cursors.set(line.i, (cursor = { beyond: new Set() }));
    if (line.t !== undefined && line.o !== undefined) {
      // Each tenant is journaled once a pass; a repeat (only old journals had them) is not counted twice.
      const repeat = (cursor.through !== undefined && !sortsAfter(line.t, cursor.through)) || cursor.beyond.has(line.t);
      if (!repeat) {
        this.counting.add(line.i, line.t, line.o, line.m, line.l);
        cursor.beyond.add(line.t);
      }
    }
    if (line.c !== undefined) {
      cursor.through = line.c;
      cursor.near = line.n;
      // Ids now behind the cursor stay in `beyond` until the end, where InstanceCursor drops them:
      // pruning here would cost the whole set per line.
    }
  }

  record(): PassRecord {
    const cursors: Record<string, CursorState> = {};
    for (const [id, { through, near, beyond }] of this.cursors)
      cursors[id] = { ...(through === undefined ? {} : { through, near }), beyond: [...beyond] };
    return new PassRecord({ ...this.counting.snapshot(), cursors });
  }
}

function snapshotOf(raw: string | undefined): RecordSnapshot | undefined {
  try {
    const line = JSON.parse(raw ?? '') as { v?: unknown; s?: RecordSnapshot };
    return line.v === VERSION && isSnapshot(line.s) ? line.s : undefined;
  } catch {
    return undefined;
  }
}

/** A snapshot whose every part has its shape: one that does not is read as no snapshot (a damaged line). */
function isSnapshot(s: RecordSnapshot | undefined): s is RecordSnapshot {
  const isCursor = (c: CursorState): boolean =>
    !!c &&
    Array.isArray(c.beyond) &&
    c.beyond.every((id) => typeof id === 'string') &&
    (c.through === undefined || typeof c.through === 'string') &&
    (c.near === undefined || typeof c.near === 'number');
  return (
    !!s &&
    typeof s === 'object' &&
    !!s.counts &&
    Object.values(s.counts).every((n) => typeof n === 'number') &&
    Array.isArray(s.failures) &&
    Array.isArray(s.lastSyncFailures) &&
    typeof s.failuresOmitted === 'number' &&
    typeof s.lastSyncFailuresOmitted === 'number' &&
    !!s.cursors &&
    typeof s.cursors === 'object' &&
    Object.values(s.cursors).every(isCursor)
  );
}

function lineOf(raw: string): JournalLine {
  const line = JSON.parse(raw) as JournalLine;
  const done = typeof line.t === 'string' && OUTCOMES.includes(line.o as string);
  if (
    typeof line.i !== 'number' ||
    (!done && typeof line.c !== 'string') ||
    (line.c !== undefined && typeof line.c !== 'string')
  )
    throw new Error('shape');
  return line;
}

/**
 * The journal a run appends to while it works on the pass. It starts by replacing the file with a
 * snapshot of `record`, and does so again every COMPACT_AFTER_LINES lines. A write that fails (a full
 * disk) is reported once to `onFailure`, which stops the run; the journal then takes nothing more, so
 * what it already holds stays intact for the run that resumes. It is never opened through a symlink.
 */
export class JournalWriter {
  private fd: number;
  private buffer: string[] = [];
  private sinceSnapshot = 0;
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
    this.sinceSnapshot++;
  }

  /** Writes buffered lines to disk; never throws, so it is safe from a timer or a signal handler. */
  flush(): void {
    if (!this.buffer.length || this.closed || this.failed) return;
    try {
      if (this.sinceSnapshot >= COMPACT_AFTER_LINES) {
        // The record already holds every buffered line: its snapshot replaces them and all before.
        const old = this.fd;
        this.fd = this.writeSnapshot();
        closeSync(old);
      } else {
        writeSync(this.fd, this.buffer.join(''));
        fdatasyncSync(this.fd);
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
    writeFileAtomic(this.path, `${JSON.stringify({ v: VERSION, s: this.record.snapshot() })}\n`);
    this.sinceSnapshot = 0;
    try {
      return openForAppend(this.path, 0o600);
    } catch (e) {
      throw ownFileError(this.path, e);
    }
  }
}
