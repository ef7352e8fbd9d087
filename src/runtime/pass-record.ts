import { emptyCounts, type PassCounts, type TenantOutcome } from '../sync/counts';
import { type CursorState, InstanceCursor } from './pass-cursor';

/** What a full pass has done: kept in memory by the run working on it, rebuilt from its journal on resume. */

/** `last-pass.json` keeps this many failed tenants with their messages; the log has them all. */
export const MAX_RECORDED_FAILURES = 1000;

/** A tenant's outcome once it is done; a dry run's 'planned' is never recorded. */
export type DoneOutcome = Exclude<TenantOutcome, 'planned'>;

export interface TenantFailure {
  instanceId: number;
  tenantId: string;
  error: string;
}

/** A tenant whose sync status said its last synchronization failed, with the value it gave. */
export interface TenantSyncFailure {
  instanceId: number;
  tenantId: string;
  lastSync: number;
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
  /** Absent in files written before the sync status was read. */
  lastSyncFailures?: TenantSyncFailure[];
  lastSyncFailuresOmitted?: number;
  /** Listed items that were not tenants, in the listing as the pass's last run walked it; absent in older files. */
  invalid?: number;
  /** When the last pass that reached every instance finished: this one if it did, else carried over. */
  lastCompleteAt?: string;
}

/** When the last full pass that reached every instance finished, if one did. */
export function lastSuccessAt(last: LastPass | undefined): string | undefined {
  // last-pass.json files from before lastCompleteAt existed still say whether their pass was complete.
  return last?.lastCompleteAt ?? (last?.complete ? last.finishedAt : undefined);
}

/** What the pass itself reports when it finishes, beside what the record counted. */
export type PassEnding = Pick<LastPass, 'instances' | 'tokenRefreshes' | 'complete' | 'invalid'>;

/** The counts a journal keeps: what a pass can record of a tenant (never 'planned' or 'alreadyDone'). */
export type RecordedCounts = Omit<PassCounts, 'planned' | 'alreadyDone'>;

/** What a journal snapshot holds: the record whole, in a size that does not grow with the tenants. */
export interface RecordSnapshot {
  counts: RecordedCounts;
  failures: TenantFailure[];
  failuresOmitted: number;
  lastSyncFailures: TenantSyncFailure[];
  lastSyncFailuresOmitted: number;
  cursors: Record<string, CursorState>;
}

/**
 * What a pass has done, kept compact in memory: its counts as numbers, the first failures with their
 * messages, and per instance a cursor (pass-cursor.ts) rather than the tenants one by one. A tenant
 * is done at most once per pass: the cursor passes over those an earlier run did.
 */
export class PassRecord {
  private readonly counted: RecordedCounts;
  readonly failures: TenantFailure[];
  failuresOmitted: number;
  /** Only tenants whose Microsoft sync failed; capped like the failures. */
  readonly lastSyncFailures: TenantSyncFailure[];
  lastSyncFailuresOmitted: number;
  private readonly cursors = new Map<number, InstanceCursor>();

  constructor(snapshot?: RecordSnapshot) {
    const { tenants, synced, failed, skipped, busy, lastSyncFailed } = snapshot?.counts ?? emptyCounts();
    this.counted = { tenants, synced, failed, skipped, busy, lastSyncFailed };
    this.failures = [...(snapshot?.failures ?? [])];
    this.failuresOmitted = snapshot?.failuresOmitted ?? 0;
    this.lastSyncFailures = [...(snapshot?.lastSyncFailures ?? [])];
    this.lastSyncFailuresOmitted = snapshot?.lastSyncFailuresOmitted ?? 0;
    for (const [instanceId, state] of Object.entries(snapshot?.cursors ?? {}))
      this.cursors.set(Number(instanceId), new InstanceCursor(state));
  }

  /** The instance's cursor, a fresh one for an instance not met yet. */
  cursor(instanceId: number): InstanceCursor {
    let cursor = this.cursors.get(instanceId);
    if (!cursor) this.cursors.set(instanceId, (cursor = new InstanceCursor()));
    return cursor;
  }

  /** Counts a tenant done; `lastSync` is the non-zero result its sync status gave. */
  add(instanceId: number, tenantId: string, outcome: DoneOutcome, message?: string, lastSync?: number): void {
    this.counted.tenants++;
    this.counted[outcome]++;
    if (lastSync !== undefined) {
      this.counted.lastSyncFailed++;
      if (this.lastSyncFailures.length < MAX_RECORDED_FAILURES)
        this.lastSyncFailures.push({ instanceId, tenantId, lastSync });
      else this.lastSyncFailuresOmitted++;
    }
    if (outcome !== 'failed') return;
    if (this.failures.length < MAX_RECORDED_FAILURES)
      this.failures.push({ instanceId, tenantId, error: message ?? '' });
    else this.failuresOmitted++;
  }

  counts(): PassCounts {
    return { ...emptyCounts(), ...this.counted };
  }

  snapshot(): RecordSnapshot {
    const cursors: Record<string, CursorState> = {};
    for (const [instanceId, cursor] of this.cursors) cursors[instanceId] = cursor.state();
    return {
      counts: { ...this.counted },
      failures: this.failures,
      failuresOmitted: this.failuresOmitted,
      lastSyncFailures: this.lastSyncFailures,
      lastSyncFailuresOmitted: this.lastSyncFailuresOmitted,
      cursors,
    };
  }

  /**
   * The pass as `last-pass.json` keeps it. `durationMs` is the working time of every run of the pass;
   * `previousCompleteAt` is the last complete pass before this one, carried over if this one is not.
   */
  finished(
    startedAt: string,
    durationMs: number,
    ending: PassEnding,
    now: number,
    previousCompleteAt: string | undefined,
  ): LastPass {
    const lastCompleteAt = ending.complete ? new Date(now).toISOString() : previousCompleteAt;
    return {
      ...this.counts(),
      ...ending,
      startedAt,
      finishedAt: new Date(now).toISOString(),
      durationMs,
      failures: this.failures,
      failuresOmitted: this.failuresOmitted,
      lastSyncFailures: this.lastSyncFailures,
      lastSyncFailuresOmitted: this.lastSyncFailuresOmitted,
      ...(lastCompleteAt ? { lastCompleteAt } : {}),
    };
  }
}
