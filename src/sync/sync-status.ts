import type { SyncStatus } from './ports';

/** What a tenant's sync status says to do before its resync. */
export type StatusVerdict = 'busy' | 'lastSyncFailed' | 'resync';

/**
 * `inProgress` wins: a tenant still synchronizing is not started again, whatever its last result. A
 * failed last synchronization is resynced again and counted, so that one that keeps failing is seen.
 * No status (not read, or no such operation) resyncs as before the status existed.
 */
export function verdictOf(status: SyncStatus | undefined): StatusVerdict {
  if (status === undefined) return 'resync';
  if (status.inProgress) return 'busy';
  return status.lastSync !== 0 ? 'lastSyncFailed' : 'resync';
}

/**
 * Whether to go on reading sync statuses on one instance. An application before 20.7.2 lacks the
 * operation and answers "no such operation" (404), but so does a tenant removed since the listing; a
 * tenant that answered so and then took its resync tells the two apart, and the instance is not asked
 * again. Until one answer settles it, at most `limit` reads are started, so an old application costs
 * a bounded number of calls however its resyncs go.
 */
export class StatusSupport {
  private state: 'unknown' | 'present' | 'absent' = 'unknown';
  private started = 0;

  constructor(
    private readonly limit: number,
    /** Told once, when a resync shows that the instance's application has no status operation. */
    private readonly onAbsent: () => void,
  ) {}

  /** Whether to read this tenant's status; a yes counts as a read started. */
  shouldAsk(): boolean {
    if (this.state === 'present') return true;
    if (this.state === 'absent' || this.started >= this.limit) return false;
    this.started++;
    return true;
  }

  /** A status read came back; `undefined` is "no such operation". */
  answered(status: SyncStatus | undefined): void {
    if (status !== undefined) this.state = 'present';
  }

  /** A tenant whose status read found no operation took its resync: the operation is missing, not the tenant. */
  resyncedWithoutStatus(): void {
    if (this.state !== 'unknown') return;
    this.state = 'absent';
    this.onAbsent();
  }
}
