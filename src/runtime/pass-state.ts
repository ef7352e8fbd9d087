import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { PassCounts } from '../sync/counts';
import type { PassJournal, ResumePoint, TenantDone } from '../sync/ports';
import type { PassIdentity, RunState } from '../sync/run-decision';
import type { OwnFileError } from '../errors';
import type { RunClock } from './run-clock';
import { writeFileAtomic } from './atomic-file';
import { moveAsideUnlessFile, readOwnFile } from './own-files';
import { JOURNAL_FILE, JournalWriter, readJournal } from './pass-journal';
import {
  type DoneOutcome,
  failureShape,
  type LastPass,
  type PassEnding,
  PassRecord,
  syncFailureShape,
  tenantCountsShape,
} from './pass-record';
import {
  type Check,
  count,
  durationMs,
  exactly,
  MAX_DURATION_MS,
  flag,
  listOf,
  optional,
  readShape,
  shape,
  text,
  time,
  whole,
} from './state-shape';

/**
 * What survives between runs, in STATE_DIR:
 * - `pass.json`: the full pass in progress (what it is for, its start, how long runs have worked on
 *   it). Present only while a pass is unfinished.
 * - `journal.ndjson`: how far that pass has got, per instance a cursor, and its counts (pass-journal.ts).
 * - `last-pass.json`: the last finished full pass, for pacing and `status`.
 * Every file is 0600; the JSON files are replaced atomically. Each is checked field by field when read
 * (state-shape.ts): one in another shape is damaged, which its reader says in a warning naming it, and
 * the run goes on as if it were not there (a damaged pass.json or journal: the pass is started afresh
 * or its tenants resynced). Something other than a file at one of these names (a folder) is moved
 * aside by the run that writes the file, never deleted. Whether a run resumes the unfinished pass is
 * decided by `decideRun` (sync/run-decision.ts), from what `runState` reads here.
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

const headerShape: Check<PassHeader> = shape<PassHeader>({
  version: exactly(1),
  appId: whole(1),
  tenantType: text,
  startedAt: time,
  activeMs: durationMs,
  runs: whole(1),
});

const lastPassShape: Check<LastPass> = shape<LastPass>({
  ...tenantCountsShape,
  planned: count,
  alreadyDone: count,
  startedAt: time,
  finishedAt: time,
  durationMs,
  instances: count,
  tokenRefreshes: count,
  complete: flag,
  failures: listOf(failureShape),
  failuresOmitted: count,
  lastSyncFailures: listOf(syncFailureShape),
  lastSyncFailuresOmitted: count,
  invalid: count,
  lastCompleteAt: optional(time),
});

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
    const header = this.read(PASS_FILE, headerShape);
    return header === null ? 'damaged' : header;
  }

  /** What the unfinished pass's journal says is done so far. */
  doneSoFar(): PassCounts {
    return readJournal(this.path(JOURNAL_FILE), this.warn).counts();
  }

  /** The last finished pass; a damaged file is warned about and read as none. */
  lastPass(): LastPass | undefined {
    const last = this.read(LAST_PASS_FILE, lastPassShape, 'treating it as no last pass');
    return last ?? undefined;
  }

  /**
   * Starts a fresh pass for `identity`, or continues `resume`, and opens its journal. Messages go to
   * the journal through `scrub`; a journal write that fails later goes to `onJournalFailure`.
   */
  open(
    identity: Required<PassIdentity>,
    clock: RunClock,
    resume: PassHeader | undefined,
    scrub: (message: string) => string,
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
    this.moveAside(JOURNAL_FILE);
    if (!resume) this.remove(JOURNAL_FILE);
    this.writeHeader(header);
    const record = resume ? readJournal(this.path(JOURNAL_FILE), this.warn) : new PassRecord();
    const journal = new JournalWriter(this.path(JOURNAL_FILE), record, onJournalFailure);
    return new RunningPass(this, header, record, clock, journal, scrub);
  }

  path(name: string): string {
    return join(this.stateDir, name);
  }

  /** Forgets the unfinished pass. */
  discard(): void {
    for (const name of [PASS_FILE, JOURNAL_FILE]) {
      this.moveAside(name);
      this.remove(name);
    }
  }

  writeHeader(header: PassHeader): void {
    this.moveAside(PASS_FILE);
    writeFileAtomic(this.path(PASS_FILE), JSON.stringify(header));
  }

  /** Records `last` as the last finished pass and forgets its journal. */
  writeLastPass(last: LastPass): void {
    this.moveAside(LAST_PASS_FILE);
    writeFileAtomic(this.path(LAST_PASS_FILE), JSON.stringify(last));
    this.discard();
  }

  /** A folder (or anything but a file) where a state file belongs is kept, under another name, for a person to look at. */
  private moveAside(name: string): void {
    const aside = moveAsideUnlessFile(this.path(name));
    if (aside)
      this.warn(
        `${this.path(name)} is not a file; moved it aside to ${aside} (look, then remove it) and wrote the file`,
      );
  }

  private remove(name: string): void {
    try {
      unlinkSync(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** undefined: no file; null: a file that cannot be read, or not in `check`'s shape (warned about). */
  private read<T>(name: string, check: Check<T>, otherwise = 'treating it as absent'): T | undefined | null {
    let content: string;
    try {
      content = readOwnFile(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.warn(`cannot read state file ${this.path(name)}: ${(e as Error).message}; ${otherwise}`);
      return null;
    }
    const read = readShape(content, check);
    if ('value' in read) return read.value;
    this.warn(`state file ${this.path(name)} is damaged (${read.problem}); ${otherwise}`);
    return null;
  }
}

/**
 * The pass this run works on, as the pass's journal port: its record in memory (pass-record.ts), and
 * the lines that change it appended to its journal on disk (pass-journal.ts), messages scrubbed.
 */
export class RunningPass implements PassJournal {
  /** What earlier runs of this pass had done when this run started. */
  readonly prior: PassCounts;

  constructor(
    private readonly store: PassStateStore,
    readonly header: PassHeader,
    private readonly record: PassRecord,
    private readonly clock: RunClock,
    private readonly journal: JournalWriter,
    private readonly scrub: (message: string) => string,
  ) {
    this.prior = record.counts();
  }

  get resumed(): boolean {
    return this.header.runs > 1;
  }

  resumePoint(instanceId: number): ResumePoint | undefined {
    return this.record.cursor(instanceId).resumePoint();
  }

  retries(instanceId: number): string[] {
    return this.record.retriesOf(instanceId);
  }

  handOut(instanceId: number, tenantId: string): boolean {
    const { alreadyDone, line } = this.record.handOut(instanceId, tenantId);
    if (line) this.journal.append(line);
    return alreadyDone;
  }

  /**
   * Once the journal is closed the record no longer changes: it is what the pass is saved as. Failure
   * messages quote the remote, which may echo a token back: the state files must not keep it.
   */
  recordDone(instanceId: number, tenantId: string, done: TenantDone): void {
    const { outcome, message } = done;
    if (outcome === 'planned' || this.journal.isClosed) return;
    const recorded = done as TenantDone & { outcome: DoneOutcome };
    // Only failures and skips carry a message: most tenants are recorded as the pass told them, uncopied.
    this.journal.append(
      this.record.done(instanceId, tenantId, message ? { ...recorded, message: this.scrub(message) } : recorded),
    );
  }

  /** Writes buffered completions to disk; safe to call from a signal handler. */
  flush(): void {
    this.journal.flush();
  }

  /** Earlier runs' working time and this run's. */
  private workedMs(): number {
    // Past the bound a state file may hold, the pass would read back as damaged.
    return Math.min(MAX_DURATION_MS, this.header.activeMs + this.clock.elapsedMs());
  }

  /** The pass is not finished: keep it for the next run, with this run's working time added. */
  suspend(): void {
    this.journal.close();
    this.store.writeHeader({ ...this.header, activeMs: this.workedMs() });
  }

  /** The pass is finished: record it as the last pass and forget its journal. */
  finish(ending: PassEnding): LastPass {
    this.journal.close();
    const last = this.record.finished(
      this.header.startedAt,
      this.workedMs(),
      ending,
      this.clock.now(),
      this.store.lastPass()?.lastCompleteAt,
    );
    this.store.writeLastPass(last);
    return last;
  }
}
