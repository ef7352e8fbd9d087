import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PassCounts, TenantOutcome } from '../sync/counts';
import type { PassJournal, ResumePoint } from '../sync/ports';
import { RecordJournal } from './record-journal';
import type { PassIdentity, RunState } from '../sync/run-decision';
import type { OwnFileError } from '../errors';
import type { RunClock } from './run-clock';
import { writeFileAtomic } from './atomic-file';
import { readOwnFile, removeUnlessFile } from './own-files';
import { JOURNAL_FILE, JournalWriter, readJournal } from './pass-journal';
import { lastSuccessAt, PassRecord, type LastPass, type PassEnding } from './pass-record';

/**
 * What survives between runs, in STATE_DIR:
 * - `pass.json`: the full pass in progress (what it is for, its start, how long runs have worked on
 *   it). Present only while a pass is unfinished.
 * - `journal.ndjson`: how far that pass has got, per instance a cursor, and its counts (pass-journal.ts).
 * - `last-pass.json`: the last finished full pass, for pacing and `status`.
 * Every file is 0600; the JSON files are replaced atomically. Whether a run resumes the unfinished
 * pass is decided by `decideRun` (sync/run-decision.ts), from what `runState` reads here.
 */
export const PASS_FILE = 'pass.json';
export const LAST_PASS_FILE = 'last-pass.json';
export { JOURNAL_FILE };

export interface PassHeader extends PassIdentity {
  version: 1;
  startedAt: string;
  /** Time runs have spent on this pass, up to the last time one stopped cleanly. */
  activeMs: number;
  runs: number;
}

export class PassStateStore {
  constructor(
    private readonly stateDir: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** The state files as they are, read without touching anything: safe for onlookers while a run writes. */
  runState(): Omit<RunState<PassHeader>, 'running'> & { last: LastPass | undefined } {
    return { unfinished: this.unfinished(), last: this.lastPass() };
  }

  /** The unfinished pass's header; 'damaged' when the file is there but is not one. */
  unfinished(): PassHeader | 'damaged' | undefined {
    const header = this.readJson<PassHeader>(PASS_FILE);
    if (header === undefined) return undefined;
    return isHeader(header) ? header : 'damaged';
  }

  /** What the unfinished pass's journal says is done so far. */
  doneSoFar(): PassCounts {
    return readJournal(this.path(JOURNAL_FILE), this.warn).counts();
  }

  lastPass(): LastPass | undefined {
    const last = this.readJson<LastPass>(LAST_PASS_FILE);
    if (last === null) {
      this.warn(`state file ${this.path(LAST_PASS_FILE)} is damaged; treating it as absent`);
      return undefined;
    }
    return last;
  }

  /**
   * Starts a fresh pass for `identity`, or continues `resume`, and opens its journal. A journal write
   * that fails later goes to `onJournalFailure`.
   */
  open(
    identity: Required<PassIdentity>,
    clock: RunClock,
    resume: PassHeader | undefined,
    onJournalFailure: (error: OwnFileError) => void,
  ): RunningPass {
    const header: PassHeader = resume
      ? { ...resume, runs: resume.runs + 1 }
      : {
          version: 1,
          appId: identity.appId,
          tenantType: identity.tenantType,
          startedAt: clock.startedAt.toISOString(),
          activeMs: 0,
          runs: 1,
        };
    if (!resume) rmSync(this.path(JOURNAL_FILE), { force: true, recursive: true });
    this.writeHeader(header);
    const record = resume ? readJournal(this.path(JOURNAL_FILE), this.warn) : new PassRecord();
    // What readJournal could not read as a file (a folder in its place) it has warned about; clear it.
    removeUnlessFile(this.path(JOURNAL_FILE));
    return new RunningPass(
      this,
      header,
      record,
      clock,
      new JournalWriter(this.path(JOURNAL_FILE), record, onJournalFailure),
    );
  }

  path(name: string): string {
    return join(this.stateDir, name);
  }

  /** Forgets the unfinished pass. */
  discard(): void {
    // recursive: a state file found as a folder is damaged state too, and goes the same way.
    rmSync(this.path(PASS_FILE), { force: true, recursive: true });
    rmSync(this.path(JOURNAL_FILE), { force: true, recursive: true });
  }

  writeHeader(header: PassHeader): void {
    removeUnlessFile(this.path(PASS_FILE));
    writeFileAtomic(this.path(PASS_FILE), JSON.stringify(header));
  }

  /** Records `last` as the last finished pass and forgets its journal. */
  writeLastPass(last: LastPass): void {
    removeUnlessFile(this.path(LAST_PASS_FILE));
    writeFileAtomic(this.path(LAST_PASS_FILE), JSON.stringify(last));
    this.discard();
  }

  /** undefined: no file; null: a file that cannot be parsed. */
  private readJson<T>(name: string): T | undefined | null {
    let text: string;
    try {
      text = readOwnFile(this.path(name));
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
}

/** The pass this run works on: its record in memory, its journal on disk. */
export class RunningPass implements PassJournal {
  /** What earlier runs of this pass had done when this run started. */
  readonly prior: PassCounts;
  private readonly tenants: RecordJournal;

  constructor(
    private readonly store: PassStateStore,
    readonly header: PassHeader,
    private readonly record: PassRecord,
    private readonly clock: RunClock,
    private readonly journal: JournalWriter,
  ) {
    this.prior = record.counts();
    this.tenants = new RecordJournal(record, (line) => journal.append(line));
  }

  get resumed(): boolean {
    return this.header.runs > 1;
  }

  resumePoint(instanceId: number): ResumePoint | undefined {
    return this.tenants.resumePoint(instanceId);
  }

  handOut(instanceId: number, tenantId: string): boolean {
    return this.tenants.handOut(instanceId, tenantId);
  }

  /** Once the journal is closed the record no longer changes: it is what the pass is saved as. */
  recordDone(instanceId: number, tenantId: string, outcome: TenantOutcome, message?: string, lastSync?: number): void {
    if (!this.journal.isClosed) this.tenants.recordDone(instanceId, tenantId, outcome, message, lastSync);
  }

  /** Writes buffered completions to disk; safe to call from a signal handler. */
  flush(): void {
    this.journal.flush();
  }

  /** Earlier runs' working time and this run's; an earlier version could store a negative one, taken as none. */
  private workedMs(): number {
    return Math.max(0, this.header.activeMs) + this.clock.elapsedMs();
  }

  /** The pass is not finished: keep it for the next run, with this run's working time added. */
  suspend(): void {
    this.journal.close();
    this.store.writeHeader({ ...this.header, activeMs: this.workedMs() });
  }

  /** The pass is finished: record it as the last pass and forget its journal. */
  finish(ending: PassEnding): LastPass {
    this.journal.close();
    const durationMs = this.workedMs();
    const last = this.record.finished(
      this.header.startedAt,
      durationMs,
      ending,
      this.clock.now(),
      lastSuccessAt(this.store.lastPass()),
    );
    this.store.writeLastPass(last);
    return last;
  }
}

/** A header this version can resume: older ones have no tenantType and still are. */
function isHeader(header: PassHeader | null): header is PassHeader {
  return (
    !!header &&
    header.version === 1 &&
    typeof header.appId === 'number' &&
    typeof header.activeMs === 'number' &&
    typeof header.runs === 'number' &&
    (header.tenantType === undefined || typeof header.tenantType === 'string') &&
    typeof header.startedAt === 'string' &&
    !Number.isNaN(Date.parse(header.startedAt))
  );
}
