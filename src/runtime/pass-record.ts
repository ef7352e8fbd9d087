import { emptyCounts, type PassCounts, type TenantCounts, tenantCounts, type TenantOutcome } from '../sync/counts';
import type { TenantDone } from '../sync/ports';
import { type CursorState, InstanceCursor } from './pass-cursor';
import { type Check, count, finite, shape, text, whole } from './state-shape';

/** What a full pass has done: kept in memory by the run working on it, rebuilt from its journal on resume. */

/** `last-pass.json` keeps this many failed tenants with their messages; the log has them all. */
export const MAX_RECORDED_FAILURES = 1000;

/**
 * A pass keeps this many tenants the controller failed to retry on resume; a tenant failed beyond
 * them is recorded failed at once, as a retried one would be. The journal stays small whatever the
 * controller does.
 */
export const MAX_KEPT_RETRIES = 1000;

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

/** How the state files hold these (state-shape.ts). */
export const tenantCountsShape = {
  tenants: count,
  synced: count,
  failed: count,
  skipped: count,
  busy: count,
  lastSyncFailed: count,
} satisfies { [K in keyof TenantCounts]: Check<number> };
export const failureFields = { instanceId: whole(1), tenantId: text, error: text };
export const failureShape: Check<TenantFailure> = shape(failureFields);
export const syncFailureShape: Check<TenantSyncFailure> = shape({
  instanceId: whole(1),
  tenantId: text,
  lastSync: finite,
});

/** A tenant the controller failed, kept to be tried once more when the pass resumes; `lastSync` as in TenantDone. */
export interface TenantRetry extends TenantFailure {
  lastSync?: number;
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
  lastSyncFailures: TenantSyncFailure[];
  lastSyncFailuresOmitted: number;
  /** Listed items that were not tenants, in the listing as the pass's last run walked it. */
  invalid: number;
  /** When the last pass that reached every instance finished: this one if it did, else carried over; absent if none did. */
  lastCompleteAt?: string;
}

/** What the pass itself reports when it finishes, beside what the record counted. */
export type PassEnding = Pick<LastPass, 'instances' | 'tokenRefreshes' | 'complete' | 'invalid'>;

/** What a journal snapshot holds: the record whole, in a size that does not grow with the tenants. */
export interface RecordSnapshot {
  counts: TenantCounts;
  failures: TenantFailure[];
  failuresOmitted: number;
  lastSyncFailures: TenantSyncFailure[];
  lastSyncFailuresOmitted: number;
  retries: TenantRetry[];
  cursors: Record<string, CursorState>;
}

/** A journal line after the snapshot: a tenant done (with `t` and `o`), or only a cursor moving. */
export interface JournalLine {
  i: number;
  t?: string;
  o?: DoneOutcome;
  m?: string;
  /** The non-zero lastSync the tenant's status gave. */
  l?: number;
  /** 1: the controller failed the tenant, and it is kept to be retried (not counted yet). */
  r?: 1;
  /** The instance's cursor after this line, and about where the listing had it. */
  c?: string;
  n?: number;
}

/**
 * What a pass has done, kept compact in memory: its counts as numbers, the first failures with their
 * messages, the tenants to retry, and per instance a cursor (pass-cursor.ts) rather than the tenants
 * one by one. Every change is a journal line: the live pass makes the line and applies it here, and
 * a journal read back applies the same lines, so the two cannot drift apart.
 */
export class PassRecord {
  private readonly counted: TenantCounts;
  readonly failures: TenantFailure[];
  failuresOmitted: number;
  /** Only tenants whose Microsoft sync failed; capped like the failures. */
  readonly lastSyncFailures: TenantSyncFailure[];
  lastSyncFailuresOmitted: number;
  /** By instance and tenant id, in the order the controller failed them. */
  private readonly retries = new Map<string, TenantRetry>();
  private readonly cursors = new Map<number, InstanceCursor>();

  constructor(snapshot?: RecordSnapshot) {
    this.counted = tenantCounts(snapshot?.counts ?? emptyCounts());
    this.failures = [...(snapshot?.failures ?? [])];
    this.failuresOmitted = snapshot?.failuresOmitted ?? 0;
    this.lastSyncFailures = [...(snapshot?.lastSyncFailures ?? [])];
    this.lastSyncFailuresOmitted = snapshot?.lastSyncFailuresOmitted ?? 0;
    for (const retry of snapshot?.retries ?? []) this.retries.set(retryKey(retry.instanceId, retry.tenantId), retry);
    for (const [instanceId, state] of Object.entries(snapshot?.cursors ?? {}))
      this.cursors.set(Number(instanceId), new InstanceCursor(state));
  }

  /** The instance's cursor, a fresh one for an instance not met yet. */
  cursor(instanceId: number): InstanceCursor {
    let cursor = this.cursors.get(instanceId);
    if (!cursor) this.cursors.set(instanceId, (cursor = new InstanceCursor()));
    return cursor;
  }

  /** The instance's tenants to retry, in the order the controller failed them. */
  retriesOf(instanceId: number): string[] {
    return [...this.retries.values()].filter((r) => r.instanceId === instanceId).map((r) => r.tenantId);
  }

  /** A tenant the walk handed out: whether an earlier run did it, and the line to journal if the cursor moved. */
  handOut(instanceId: number, tenantId: string): { alreadyDone: boolean; line?: JournalLine } {
    const cursor = this.cursor(instanceId);
    const { alreadyDone, moved } = cursor.handOut(tenantId);
    return { alreadyDone, ...(moved ? { line: { i: instanceId, c: cursor.cursor, n: cursor.cursorNear } } : {}) };
  }

  /**
   * A tenant done in this run, recorded; returns its journal line. A tenant the controller failed is
   * kept to retry, unless it was itself a retry (each is retried once) or MAX_KEPT_RETRIES are kept.
   */
  done(instanceId: number, tenantId: string, done: TenantDone & { outcome: DoneOutcome }): JournalLine {
    const { outcome, message, lastSync, byController } = done;
    const retry =
      byController === true &&
      this.retries.size < MAX_KEPT_RETRIES &&
      !this.retries.has(retryKey(instanceId, tenantId));
    const line: JournalLine = {
      i: instanceId,
      t: tenantId,
      o: outcome,
      ...(message ? { m: message } : {}),
      ...(lastSync !== undefined ? { l: lastSync } : {}),
      ...(retry ? { r: 1 } : {}),
    };
    this.apply(line);
    const cursor = this.cursor(instanceId);
    if (cursor.done(tenantId)) {
      line.c = cursor.cursor;
      line.n = cursor.cursorNear;
    }
    return line;
  }

  /** A journal line read back, on top of the snapshot and the lines before it. */
  replay(line: JournalLine): void {
    this.apply(line);
    this.cursor(line.i).replay(line.t, line.c, line.n);
  }

  /** What the line says of the tenant: counted, or kept to retry. */
  private apply({ i, t, o, m, l, r }: JournalLine): void {
    if (t === undefined || o === undefined) return;
    if (r) {
      this.retries.set(retryKey(i, t), {
        instanceId: i,
        tenantId: t,
        error: m ?? '',
        ...(l !== undefined ? { lastSync: l } : {}),
      });
      return;
    }
    // Most passes keep none: no key to make for every tenant then.
    if (this.retries.size) this.retries.delete(retryKey(i, t));
    this.add(i, t, o, m, l);
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

  /** The tenants counted so far; those kept to retry are not, until they are retried or the pass ends. */
  counts(): PassCounts {
    return { ...emptyCounts(), ...this.counted };
  }

  snapshot(): RecordSnapshot {
    const cursors: Record<string, CursorState> = {};
    for (const [instanceId, cursor] of this.cursors) cursors[instanceId] = cursor.state();
    return {
      counts: tenantCounts(this.counted),
      failures: this.failures,
      failuresOmitted: this.failuresOmitted,
      lastSyncFailures: this.lastSyncFailures,
      lastSyncFailuresOmitted: this.lastSyncFailuresOmitted,
      retries: [...this.retries.values()],
      cursors,
    };
  }

  /**
   * The pass as `last-pass.json` keeps it; the tenants still kept to retry count as failed. `durationMs`
   * is the working time of every run of the pass; `previousCompleteAt` is the last complete pass
   * before this one, carried over if this one is not.
   */
  finished(
    startedAt: string,
    durationMs: number,
    ending: PassEnding,
    now: number,
    previousCompleteAt: string | undefined,
  ): LastPass {
    for (const { instanceId, tenantId, error, lastSync } of this.retries.values())
      this.add(instanceId, tenantId, 'failed', error, lastSync);
    this.retries.clear();
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

const retryKey = (instanceId: number, tenantId: string): string => `${instanceId} ${tenantId}`;
