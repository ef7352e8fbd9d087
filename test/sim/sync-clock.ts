import type { Clock } from './tokens';

/**
 * The Microsoft side of each tenant's synchronization, as `sync_status` reports it (src/aps/README.md): a
 * resync the controller accepted keeps the tenant `inProgress` for `durationMs`, and then its `lastSync`
 * is what the tenant's synchronizations end with: 0, or the non-zero value set for a failing tenant.
 * Before its first synchronization has ended a tenant reports its earlier (successful) one: 0.
 */
export class SyncClock {
  private readonly starts = new Map<string, { first: number; last: number }>();
  /** By tenant uuid: the lastSync its synchronizations end with, when not 0. */
  readonly failing = new Map<string, number>();

  constructor(
    private readonly durationMs: number,
    private readonly now: Clock,
  ) {}

  started(tenantId: string): void {
    const now = this.now();
    const seen = this.starts.get(tenantId);
    this.starts.set(tenantId, { first: seen?.first ?? now, last: now });
  }

  status(tenantId: string): { inProgress: boolean; lastSync: number } {
    const now = this.now();
    const seen = this.starts.get(tenantId);
    const ended = seen !== undefined && now - seen.first >= this.durationMs;
    return {
      inProgress: seen !== undefined && now - seen.last < this.durationMs,
      lastSync: ended ? (this.failing.get(tenantId) ?? 0) : 0,
    };
  }
}
