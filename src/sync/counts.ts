/** What happened to each tenant of a pass, counted. */
export type TenantOutcome = 'synced' | 'failed' | 'skipped' | 'planned' | 'busy';

/** What a full pass records of its tenants, and what `status` shows of a pass: kept across runs. */
export interface TenantCounts {
  /** Tenants this run handled (resynced, tried, or in a dry run planned). */
  tenants: number;
  synced: number;
  failed: number;
  /** Removed between the listing and their resync (404). */
  skipped: number;
  /** Not started again: their sync status said the last synchronization was still in progress. */
  busy: number;
  /** Resynced (or in a dry run planned) although their sync status said the last synchronization had failed. */
  lastSyncFailed: number;
}

/** A run's counts: the recorded ones, and two that only a run has. */
export interface PassCounts extends TenantCounts {
  /** Dry run: tenants that would have been resynced. */
  planned: number;
  /** Resumed pass: tenants an earlier run of the same pass had already done. */
  alreadyDone: number;
}

const TENANT_COUNTS = ['tenants', 'synced', 'failed', 'skipped', 'busy', 'lastSyncFailed'] as const;

export function emptyCounts(): PassCounts {
  return { tenants: 0, synced: 0, failed: 0, skipped: 0, planned: 0, busy: 0, lastSyncFailed: 0, alreadyDone: 0 };
}

/** The tenant counts of anything that carries them (a run's counts, a record, a last pass), and nothing else. */
export function tenantCounts(from: TenantCounts): TenantCounts {
  const out = {} as TenantCounts;
  for (const key of TENANT_COUNTS) out[key] = from[key];
  return out;
}

/** Adds `more` to `total`, count by count. */
export function addCounts(total: PassCounts, more: PassCounts): void {
  for (const key of Object.keys(more) as (keyof PassCounts)[]) total[key] += more[key];
}
