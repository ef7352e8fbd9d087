import type { PassCounts, TenantOutcome } from './counts';

/**
 * What the pass needs from the outside world, and what it tells it, as small interfaces. The OA and
 * APS adapters, the state files, the log and the progress bar implement them; tests of the pass
 * implement them in memory.
 */

/** Why an instance's token was renewed: its first, after `refreshEvery` tenants, by age, or refused by the controller. */
export type RenewalReason = 'first' | 'count' | 'age' | 'refused';

/** One instance of the Office 365 application in OA. */
export interface Instance {
  id: number;
  resourceId: string;
}

/** An APS token for one instance, and where that instance's controller is. */
export interface InstanceToken {
  token: string;
  controllerUri?: string;
}

/** The OA Public API, as far as the pass uses it. */
export interface InstanceDirectory {
  listInstances(appId: number): Promise<Instance[]>;
  issueToken(instanceId: number): Promise<InstanceToken>;
}

/** A tenant as listed by the controller. */
export interface Tenant {
  id: string;
  status?: string;
}

/** What one resync call ended in. A failure the controller reported in a 2xx body is `failed`. */
export type ResyncResult =
  | { outcome: 'synced' }
  | { outcome: 'failed'; message: string; failedObjects?: { objectName: string; comment: string | null }[] };

/**
 * Runs one call with a valid token of the instance, renewing the token first when the policy says so
 * and once more when the controller refuses it.
 */
export type Authorized = <T>(call: (token: string) => Promise<T>) => Promise<T>;

/**
 * A tenant's last synchronization with the Microsoft cloud as the application reports it
 * (src/aps/README.md, `sync_status`): `lastSync` 0 means that synchronization succeeded.
 */
export interface SyncStatus {
  inProgress: boolean;
  lastSync: number;
}

/** Which tenant types an instance's listing walks, and how they were chosen (src/aps/README.md, "The tenant type"). */
export interface TenantTypes {
  /** 'setting': APS_TENANT_TYPE; 'library': found in the types library; 'fallback': the library could not tell. */
  source: 'setting' | 'library' | 'fallback';
  /** The types the listing asks for. */
  listed: string[];
  /** Every tenant type version in the types library, oldest first; absent where it could not be read. */
  found?: string[];
  /** Why the types library could not be read, in the controller's words. */
  unreadable?: string;
}

/** How a listing is walked, what it tells as it goes, and how far ahead of its consumer it reads. */
export interface ListingOptions {
  /** Runs each page request with a valid token of the instance. */
  authorized: Authorized;
  /** A resumed pass's cursor: only tenants after it are listed. */
  after?: ResumePoint;
  /** The tenant types the listing walks, told before its first page. */
  onTenantTypes?(types: TenantTypes): void;
  /** How many tenants the controller says there are, with each page, for the progress bar. */
  onTotal?(total: number): void;
  /** A listed item that cannot be a tenant (no aps.id, or not a resource id), once per place in the listing; the walk goes on. */
  onInvalidItem?(reason: string): void;
  /** Ask for the next page once this many tenants of the current one are left; absent: once it is used up. */
  readAhead?: number;
}

/** One instance's controller, reached with that instance's token. */
export interface TenantController {
  /** Pages through the ready tenants in increasing id order as the consumer pulls, a page ahead with `readAhead`. */
  listTenants(options: ListingOptions): AsyncIterable<Tenant>;
  /**
   * Forces the tenant's synchronization. Each attempt, retries included, goes through `authorized`, so
   * a retry after a long wait still leaves with a token within its age.
   */
  resync(tenantId: string, authorized: Authorized): Promise<ResyncResult>;
  /**
   * Reads the tenant's sync status, with retries like the resync. `undefined` when the controller has
   * no such operation for the tenant: an application that predates it, or a tenant removed since the
   * listing (only the resync that follows tells which). Absent when the status read is switched off.
   */
  syncStatus?(tenantId: string, authorized: Authorized): Promise<SyncStatus | undefined>;
}

/** Finds one tenant by id among those an instance's token can see, whatever its status: for targeted runs. */
export interface TenantFinder {
  findTenant(tenantId: string, token: string): Promise<Tenant | undefined>;
}

/** Where a resumed walk of an instance starts: after tenant `id`, asking first from about listing place `near`. */
export interface ResumePoint {
  id: string;
  near: number;
}

/** What became of a tenant, as the pass tells its journal. */
export interface TenantDone {
  outcome: TenantOutcome;
  /** Why it failed, or why it was skipped, in the remote's words. */
  message?: string;
  /** The non-zero result of the tenant's last synchronization, when its status said so. */
  lastSync?: number;
  /** It failed for a reason of the controller's (a timeout, a 503 after retries), not its own. */
  byController?: boolean;
}

/**
 * What the pass remembers between runs: the state files implement it (src/runtime/pass-state.ts).
 * A tenant the controller failed is recorded at once, so the instance's cursor moves past it, and is
 * kept to be tried once more: a pass that runs to its end counts it failed; a resumed pass retries
 * it once, at the start of its instance's turn, before walking on (see src/runtime/pass-record.ts).
 */
export interface PassJournal {
  /** Where the instance's listing resumes; undefined: from its start. */
  resumePoint(instanceId: number): ResumePoint | undefined;
  /** The instance's tenants an earlier run left to retry, in the order the controller failed them. */
  retries(instanceId: number): string[];
  /** A tenant the listing handed out, in its order; true when an earlier run of the pass already did it. */
  handOut(instanceId: number, tenantId: string): boolean;
  /** A tenant handed out, or retried, is done. */
  recordDone(instanceId: number, tenantId: string, done: TenantDone): void;
}

/**
 * What a pass tells its onlookers (the log, the progress bar, the concurrency limiter) as it goes.
 * Every hook is optional; several onlookers are combined with `fanOut` (events.ts).
 */
export interface PassEvents {
  instancesListed?(instances: Instance[]): void;
  /** OA listed this instance more than once; it is walked once. */
  instanceListedTwice?(instance: Instance): void;
  instanceStarted?(instance: Instance): void;
  /** The tenant types the instance's listing walks. */
  tenantTypes?(instance: Instance, types: TenantTypes): void;
  /** How many ready tenants the controller says the instance has; heard again with each listing page. */
  tenantsCounted?(instance: Instance, total: number): void;
  instanceFinished?(instance: Instance, counts: PassCounts): void;
  instanceFailed?(instance: Instance, error: Error): void;
  tokenRenewed?(instance: Instance, reason: RenewalReason): void;
  tenantDone?(instance: Instance, tenant: Tenant): void;
  /** A tenant an earlier run of this pass had already done, passed over. */
  tenantAlreadyDone?(instance: Instance, tenant: Tenant): void;
  /** The controller answered a tenant's resync with 2xx, whatever its report says: it kept up. */
  resyncAnswered?(instance: Instance, tenant: Tenant): void;
  tenantFailed?(
    instance: Instance,
    tenant: Tenant,
    message: string,
    failedObjects?: { objectName: string; comment: string | null }[],
  ): void;
  tenantSkipped?(instance: Instance, tenant: Tenant, message: string): void;
  /** A listed item that is not a tenant was passed over. */
  listingItemInvalid?(instance: Instance, reason: string): void;
  wouldResync?(instance: Instance, tenant: Tenant): void;
  /** The tenant's last synchronization is still in progress: it is not started again. */
  tenantBusy?(instance: Instance, tenant: Tenant): void;
  /** The tenant's last synchronization ended with this non-zero `lastSync`; it is resynced again. */
  lastSyncFailed?(instance: Instance, tenant: Tenant, lastSync: number): void;
  /** The instance's application has no sync status operation; its status is not read again this pass. */
  syncStatusMissing?(instance: Instance): void;
}
