import { closeSync, fdatasyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PassJournal } from '../sync/ports';
import { emptyCounts, type PassCounts, type TenantOutcome } from '../sync/counts';
import { writeFileAtomic } from './atomic-file';

/**
 * What survives between runs, in STATE_DIR:
 * - `pass.json`: the full pass in progress (its start, how long runs have worked on it). Present only
 *   while a pass is unfinished, so its presence alone tells the next run to resume.
 * - `journal.ndjson`: one line per tenant done in that pass, appended as tenants finish and written
 *   out every JOURNAL_FLUSH_MS, so a kill -9 loses at most the last fraction of a second of
 *   completions. About 70 bytes a tenant: 7 MB at 100,000 tenants.
 * - `last-pass.json`: the last finished full pass, for pacing and `status`.
 * Every file is 0600; the JSON files are replaced atomically.
 */
export const PASS_FILE = 'pass.json';
export const JOURNAL_FILE = 'journal.ndjson';
export const LAST_PASS_FILE = 'last-pass.json';
const JOURNAL_FLUSH_MS = 200;
/** `last-pass.json` keeps this many failed tenants with their messages; the log has them all. */
export const MAX_RECORDED_FAILURES = 1000;

export interface PassHeader {
  version: 1;
  appId: number;
  startedAt: string;
  /** Time runs have spent on this pass, up to the last time one stopped cleanly. */
  activeMs: number;
  runs: number;
}

export interface TenantFailure {
  instanceId: number;
  tenantId: string;
  error: string;
}

export interface LastPass extends PassCounts {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  instances: number;
  tokenRefreshes: number;
  complete: boolean;
  failures: TenantFailure[];
  failuresOmitted: number;
  /** When the last pass that reached every instance finished: this one if it did, else carried over. */
  lastCompleteAt?: string;
}

interface JournalLine {
  i: number;
  t: string;
  o: Exclude<TenantOutcome, 'planned'>;
  m?: string;
}

export class PassStateStore {
  constructor(
    private readonly stateDir: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** The pass a previous run left unfinished, if any; a damaged one is reported and dropped. */
  unfinished(appId: number): PassHeader | undefined {
    const header = this.readJson<PassHeader>(PASS_FILE);
    if (header === undefined) return undefined;
    if (!isHeader(header)) {
      this.warn(`state file ${this.path(PASS_FILE)} is damaged; starting a fresh pass`);
      this.discard();
      return undefined;
    }
    if (header.appId !== appId) {
      this.warn(`unfinished pass in ${this.path(PASS_FILE)} was for application ${header.appId}, not ${appId}; starting a fresh pass`);
      this.discard();
      return undefined;
    }
    return header;
  }

  /** The unfinished pass, read without touching anything, for onlookers (`status`, metrics) while a run may be writing. */
  peekUnfinished(): PassHeader | undefined {
    const header = this.readJson<PassHeader>(PASS_FILE);
    return isHeader(header) ? header : undefined;
  }

  /** What the unfinished pass's journal says is done so far. */
  doneSoFar(): PassCounts {
    return this.readJournal().counts();
  }

  lastPass(): LastPass | undefined {
    const last = this.readJson<LastPass>(LAST_PASS_FILE);
    if (last === null) {
      this.warn(`state file ${this.path(LAST_PASS_FILE)} is damaged; treating it as absent`);
      return undefined;
    }
    return last;
  }

  /** Starts a fresh pass, or continues `resume`, and opens its journal. */
  open(appId: number, startedAt: Date, resume?: PassHeader): RunningPass {
    const header: PassHeader = resume
      ? { ...resume, runs: resume.runs + 1 }
      : { version: 1, appId, startedAt: startedAt.toISOString(), activeMs: 0, runs: 1 };
    if (!resume) rmSync(this.path(JOURNAL_FILE), { force: true });
    writeFileAtomic(this.path(PASS_FILE), JSON.stringify(header));
    const record = resume ? this.readJournal() : new PassRecord();
    return new RunningPass(this, header, record, startedAt.getTime());
  }

  path(name: string): string {
    return join(this.stateDir, name);
  }

  discard(): void {
    rmSync(this.path(PASS_FILE), { force: true });
    rmSync(this.path(JOURNAL_FILE), { force: true });
  }

  /** undefined: no file; null: a file that cannot be parsed. */
  private readJson<T>(name: string): T | undefined | null {
    let text: string;
    try {
      text = readFileSync(this.path(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return null;
    }
    try {
      const value = JSON.parse(text) as T;
      return value && typeof value === 'object' ? value : null;
    } catch {
      return null;
    }
  }

  private readJournal(): PassRecord {
    const done = new PassRecord();
    let text = '';
    try {
      text = readFileSync(this.path(JOURNAL_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.warn(`cannot read ${this.path(JOURNAL_FILE)}: ${(e as Error).message}; resuming without it`);
      return done;
    }
    let damaged = 0;
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      try {
        const line = JSON.parse(raw) as JournalLine;
        if (typeof line.i !== 'number' || typeof line.t !== 'string' || !['synced', 'failed', 'skipped'].includes(line.o)) throw new Error('shape');
        done.add(line);
      } catch {
        damaged++;
      }
    }
    // A kill can cut the last line short; those tenants are simply done again.
    if (damaged) this.warn(`${damaged} damaged line(s) in ${this.path(JOURNAL_FILE)} ignored; those tenants will be resynced`);
    return done;
  }
}

/** Which tenants a pass has done, and the first failures with their messages, kept compact in memory. */
class PassRecord {
  private readonly outcomes = new Map<string, JournalLine['o']>();
  readonly failures: TenantFailure[] = [];
  failuresOmitted = 0;

  has(instanceId: number, tenantId: string): boolean {
    return this.outcomes.has(key(instanceId, tenantId));
  }

  add(line: JournalLine): void {
    const k = key(line.i, line.t);
    if (this.outcomes.get(k) === 'failed') this.forgetFailure(line.i, line.t);
    this.outcomes.set(k, line.o);
    if (line.o !== 'failed') return;
    if (this.failures.length < MAX_RECORDED_FAILURES) this.failures.push({ instanceId: line.i, tenantId: line.t, error: line.m ?? '' });
    else this.failuresOmitted++;
  }

  counts(): PassCounts {
    const counts = emptyCounts();
    for (const o of this.outcomes.values()) {
      counts.tenants++;
      counts[o]++;
    }
    return counts;
  }

  private forgetFailure(instanceId: number, tenantId: string): void {
    const at = this.failures.findIndex((f) => f.instanceId === instanceId && f.tenantId === tenantId);
    if (at >= 0) this.failures.splice(at, 1);
    else this.failuresOmitted--;
  }
}

/** The journal of the pass this run works on. */
export class RunningPass implements PassJournal {
  private readonly fd: number;
  private buffer: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** What earlier runs of this pass had done when this run started. */
  readonly prior: PassCounts;

  constructor(
    private readonly store: PassStateStore,
    readonly header: PassHeader,
    private readonly record: PassRecord,
    private readonly runStartedAt: number,
  ) {
    this.prior = record.counts();
    this.fd = openSync(store.path(JOURNAL_FILE), 'a', 0o600);
    this.timer = setInterval(() => this.flush(), JOURNAL_FLUSH_MS);
    this.timer.unref();
  }

  get resumed(): boolean {
    return this.header.runs > 1;
  }

  isDone(instanceId: number, tenantId: string): boolean {
    return this.record.has(instanceId, tenantId);
  }

  recordDone(instanceId: number, tenantId: string, outcome: TenantOutcome, message?: string): void {
    if (outcome === 'planned' || this.closed) return;
    const line: JournalLine = { i: instanceId, t: tenantId, o: outcome, ...(message ? { m: message } : {}) };
    this.record.add(line);
    this.buffer.push(`${JSON.stringify(line)}\n`);
  }

  /** Writes buffered completions to disk; safe to call from a signal handler. */
  flush(): void {
    if (!this.buffer.length || this.closed) return;
    writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    fdatasyncSync(this.fd);
  }

  /** The pass is not finished: keep it for the next run, with this run's working time added. */
  suspend(now = Date.now()): void {
    this.close();
    const header: PassHeader = { ...this.header, activeMs: this.header.activeMs + (now - this.runStartedAt) };
    writeFileAtomic(this.store.path(PASS_FILE), JSON.stringify(header));
  }

  /** The pass is finished: record it as the last pass and forget its journal. */
  finish(result: Pick<LastPass, 'instances' | 'tokenRefreshes' | 'complete'>, now = Date.now()): LastPass {
    this.close();
    const lastCompleteAt = result.complete ? new Date(now).toISOString() : this.store.lastPass()?.lastCompleteAt;
    const last: LastPass = {
      ...this.record.counts(),
      planned: 0,
      alreadyDone: 0,
      ...result,
      startedAt: this.header.startedAt,
      finishedAt: new Date(now).toISOString(),
      durationMs: this.header.activeMs + (now - this.runStartedAt),
      failures: this.record.failures,
      failuresOmitted: this.record.failuresOmitted,
      ...(lastCompleteAt ? { lastCompleteAt } : {}),
    };
    writeFileAtomic(this.store.path(LAST_PASS_FILE), JSON.stringify(last));
    this.store.discard();
    return last;
  }

  private close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}

function isHeader(header: PassHeader | null | undefined): header is PassHeader {
  return !!header && header.version === 1 && typeof header.startedAt === 'string' && !Number.isNaN(Date.parse(header.startedAt));
}

const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A tenant's key in the record, which holds one per tenant of the pass (100,000 and more), so it is
 * kept small: a UUID, the usual id, becomes its 16 bytes after the instance id's 8, in one flat
 * 24-character string. Joining the texts instead made a 41-character string that also kept the id's
 * own string alive, about twice the memory. Any other id is kept as written, followed by a character
 * above U+00FF, which no packed key contains, so the two kinds of key never collide.
 */
function key(instanceId: number, tenantId: string): string {
  if (!LOWERCASE_UUID.test(tenantId)) return `${instanceId}/${tenantId}\u0100`;
  const packed = Buffer.allocUnsafe(24);
  packed.writeDoubleLE(instanceId, 0);
  packed.write(tenantId.replace(/-/g, ''), 8, 'hex');
  return packed.toString('latin1');
}
