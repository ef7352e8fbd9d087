/** What happened to each tenant of a pass, counted. */
export type TenantOutcome = 'synced' | 'failed' | 'skipped' | 'planned' | 'busy';

export interface PassCounts {
  /** Tenants this run handled (resynced, tried, or in a dry run planned). */
  tenants: number;
  synced: number;
  failed: number;
  /** Removed between the listing and their resync (404). */
  skipped: number;
  /** Dry run: tenants that would have been resynced. */
  planned: number;
  /** Not started again: their sync status said the last synchronization was still in progress. */
  busy: number;
  /** Resynced (or in a dry run planned) although their sync status said the last synchronization had failed. */
  lastSyncFailed: number;
  /** Resumed pass: tenants an earlier run of the same pass had already done. */
  alreadyDone: number;
}

export function emptyCounts(): PassCounts {
  return { tenants: 0, synced: 0, failed: 0, skipped: 0, planned: 0, busy: 0, lastSyncFailed: 0, alreadyDone: 0 };
}
