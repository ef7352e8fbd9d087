import { emptyCounts, type PassCounts, type TenantOutcome } from '../sync/counts';

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

/** Which tenants a pass has done, and the first failures with their messages, kept compact in memory. */
export class PassRecord {
  private readonly outcomes = new Map<string, DoneOutcome>();
  readonly failures: TenantFailure[] = [];
  failuresOmitted = 0;
  /** By key; only tenants whose Microsoft sync failed, a few, so not capped in memory (last-pass.json is). */
  private readonly syncFailures = new Map<string, TenantSyncFailure>();

  has(instanceId: number, tenantId: string): boolean {
    return this.outcomes.has(key(instanceId, tenantId));
  }

  /** A tenant done again (failed, then synced on a later try) counts once, with its latest outcome. */
  add(instanceId: number, tenantId: string, outcome: DoneOutcome, message?: string, lastSync?: number): void {
    const k = key(instanceId, tenantId);
    if (this.outcomes.get(k) === 'failed') this.forgetFailure(instanceId, tenantId);
    this.outcomes.set(k, outcome);
    if (lastSync !== undefined) this.syncFailures.set(k, { instanceId, tenantId, lastSync });
    else this.syncFailures.delete(k);
    if (outcome !== 'failed') return;
    if (this.failures.length < MAX_RECORDED_FAILURES) this.failures.push({ instanceId, tenantId, error: message ?? '' });
    else this.failuresOmitted++;
  }

  counts(): PassCounts {
    const counts = emptyCounts();
    for (const o of this.outcomes.values()) {
      counts.tenants++;
      counts[o]++;
    }
    counts.lastSyncFailed = this.syncFailures.size;
    return counts;
  }

  /**
   * The pass as `last-pass.json` keeps it. `durationMs` is the working time of every run of the pass;
   * `previousCompleteAt` is the last complete pass before this one, carried over if this one is not.
   */
  finished(startedAt: string, durationMs: number, ending: PassEnding, now: number, previousCompleteAt: string | undefined): LastPass {
    const lastCompleteAt = ending.complete ? new Date(now).toISOString() : previousCompleteAt;
    return {
      ...this.counts(),
      planned: 0,
      alreadyDone: 0,
      ...ending,
      startedAt,
      finishedAt: new Date(now).toISOString(),
      durationMs,
      failures: this.failures,
      failuresOmitted: this.failuresOmitted,
      ...this.lastSyncFailures(),
      ...(lastCompleteAt ? { lastCompleteAt } : {}),
    };
  }

  /** The first MAX_RECORDED_FAILURES tenants whose last sync failed, and how many more there are. */
  private lastSyncFailures(): Pick<LastPass, 'lastSyncFailures' | 'lastSyncFailuresOmitted'> {
    const all = [...this.syncFailures.values()];
    return { lastSyncFailures: all.slice(0, MAX_RECORDED_FAILURES), lastSyncFailuresOmitted: Math.max(0, all.length - MAX_RECORDED_FAILURES) };
  }

  private forgetFailure(instanceId: number, tenantId: string): void {
    const at = this.failures.findIndex((f) => f.instanceId === instanceId && f.tenantId === tenantId);
    if (at >= 0) this.failures.splice(at, 1);
    else this.failuresOmitted--;
  }
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
