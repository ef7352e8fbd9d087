import { BacksyncError, ControllerDownError, traitsOf } from '../errors';
import type { Authorized, Instance, InstanceDirectory, InstanceToken, PassEvents, PassJournal, Tenant, TenantController } from './ports';
import { TokenLifetime } from './token-lifetime';
import { TokenPolicy } from './token-policy';
import { chosenInstances } from './targeted';
import { runWorkers } from './workers';
import { StatusSupport, verdictOf } from './sync-status';
import { emptyCounts, type PassCounts, type TenantOutcome } from './counts';

/**
 * One back-sync pass: the application's instances, then each instance's ready tenants, then one
 * resync per tenant. A tenant's failure is counted and the pass goes on; only a controller that keeps
 * failing for reasons unrelated to any one tenant stops it.
 */
export interface PassOptions {
  appId: number;
  concurrency: number;
  dryRun: boolean;
  tokenRefreshEvery: number;
  tokenMaxAgeMs: number;
  maxConsecutiveFailures: number;
  /** Limit the pass to these instance ids. */
  instances?: number[];
}

export interface PassDeps {
  directory: InstanceDirectory;
  controllerFor(instance: Instance, token: InstanceToken): TenantController;
  events?: PassEvents;
  journal?: PassJournal;
  /**
   * Raised to stop starting tenants; those in flight finish. Its reason says why: one of our errors
   * (a file of the host's own that cannot be written), or anything else for a signal.
   */
  stop?: AbortSignal;
  /** The number of tenants to run at once, read before each tenant; defaults to the option. */
  concurrency?: () => number;
  /** A monotonic clock for token ages. */
  now?: () => number;
  /** The token age rule with what earlier runs learned; by default APS_TOKEN_MAX_AGE alone. */
  tokenLifetime?: TokenLifetime;
}

export interface InstanceFailure {
  instanceId: number;
  error: BacksyncError | Error;
}

export interface PassResult extends PassCounts {
  instances: number;
  tokenRefreshes: number;
  instanceFailures: InstanceFailure[];
  /** Listed items that could not be tenants (no or an invalid aps.id): not resynced, so the pass is not clean. */
  invalid: number;
  /** Set when the pass ended early: a stop signal, a controller that kept failing, or the stop's own reason. */
  interruptedBy?: 'signal' | BacksyncError;
}

export async function runPass(options: PassOptions, deps: PassDeps): Promise<PassResult> {
  const events = deps.events ?? {};
  const counts = emptyCounts();
  const result: PassResult = { ...counts, instances: 0, tokenRefreshes: 0, instanceFailures: [], invalid: 0 };
  const health = new ControllerHealth(options.maxConsecutiveFailures);
  const stopped = (): boolean => deps.stop?.aborted === true || health.down !== undefined;
  // Tenants failed by the controller rather than by themselves are journaled only once the pass has
  // run to its end, so that a pass stopped early tries them again when it is resumed.
  const failedByController: { instanceId: number; tenantId: string; message?: string; lastSync?: number }[] = [];

  let listed: Instance[];
  try {
    listed = await deps.directory.listInstances(options.appId);
  } catch (e) {
    if (deps.stop?.aborted) return { ...result, interruptedBy: 'signal' };
    throw e;
  }
  const instances = chosenInstances(listed, options.instances, options.appId);
  result.instances = instances.length;
  events.instancesListed?.(instances);

  const instanceFailed = (instance: Instance, e: Error): void => {
    result.instanceFailures.push({ instanceId: instance.id, error: e });
    events.instanceFailed?.(instance, e);
    // A listing or token request that still fails after its retries leaves the rest of the instance
    // unreachable, and the next instance shares the controller: stop, so the next run resumes here.
    // A failure that ends the pass (tokens that cannot be kept within their age) does too.
    const { retryable, scope } = traitsOf(e);
    if (retryable || scope === 'pass') health.unreachable(instance.id, e);
    else if (scope === 'service') health.generalFailure(e);
  };
  const lifetime = deps.tokenLifetime ?? new TokenLifetime({ configuredMaxAgeMs: options.tokenMaxAgeMs });
  for (const instance of instances) {
    if (stopped()) break;
    // For the token policy: how many tenants are still to come, as the listing last counted them.
    let listed: number | undefined;
    let handed = 0;
    const policy = new TokenPolicy({
      refreshEvery: options.tokenRefreshEvery,
      lifetime,
      issue: () => deps.directory.issueToken(instance.id),
      now: deps.now,
      onRenewed: (reason) => events.tokenRenewed?.(instance, reason),
      tenantsAhead: () => (listed === undefined ? undefined : listed - handed),
    });
    // Two reads per worker: enough for one to meet a tenant that then takes its resync.
    const statusSupport = new StatusSupport(2 * options.concurrency, () => events.syncStatusMissing?.(instance));
    const before = { ...result };
    try {
      const controller = deps.controllerFor(instance, await policy.token());
      events.instanceStarted?.(instance);
      const tenants = controller.listTenants((call) => policy.run(call), undefined, {
        onTotal: (total) => {
          listed = total;
          events.tenantsCounted?.(instance, total);
        },
        onInvalidItem: (reason) => {
          result.invalid++;
          events.listingItemInvalid?.(instance, reason);
        },
      });
      await runWorkers(
        tenants,
        deps.concurrency ?? (() => options.concurrency),
        async (tenant) => {
          handed++;
          if (deps.journal?.isDone(instance.id, tenant.id)) {
            result.alreadyDone++;
            events.tenantAlreadyDone?.(instance, tenant);
            return;
          }
          const { outcome, general, message, lastSync } = await resyncOne(instance, tenant, controller, policy, statusSupport, options.dryRun, events);
          result.tenants++;
          result[outcome]++;
          if (lastSync !== undefined) result.lastSyncFailed++;
          if (general) health.generalFailure(general);
          else health.success();
          if (general) failedByController.push({ instanceId: instance.id, tenantId: tenant.id, message, lastSync });
          else if (outcome !== 'planned') deps.journal?.recordDone(instance.id, tenant.id, outcome, message, lastSync);
          events.tenantDone?.(instance, tenant);
        },
        stopped,
      );
    } catch (e) {
      if (!deps.stop?.aborted) instanceFailed(instance, e as Error);
      // else a stop abandoned an OA request in flight: what it left undone is the next run's, not a failure.
    } finally {
      result.tokenRefreshes += policy.renewals;
    }
    events.instanceFinished?.(instance, diffCounts(before, result));
  }
  if (health.down) result.interruptedBy = health.down;
  else if (deps.stop?.aborted) result.interruptedBy = deps.stop.reason instanceof BacksyncError ? deps.stop.reason : 'signal';
  else for (const f of failedByController) deps.journal?.recordDone(f.instanceId, f.tenantId, 'failed', f.message, f.lastSync);
  return result;
}

async function resyncOne(
  instance: Instance,
  tenant: Tenant,
  controller: TenantController,
  policy: TokenPolicy,
  statusSupport: StatusSupport,
  dryRun: boolean,
  events: PassEvents,
): Promise<{ outcome: TenantOutcome; general?: Error; message?: string; lastSync?: number }> {
  // The tenant counts towards the token's renewal once, on its first call, not on each retry or its resync after its status.
  let attempts = 0;
  const authorized: Authorized = (call) => policy.run(call, attempts++ === 0);
  let lastSync: number | undefined;
  try {
    const asked = controller.syncStatus !== undefined && statusSupport.shouldAsk();
    const status = asked ? await controller.syncStatus!(tenant.id, authorized) : undefined;
    if (asked) statusSupport.answered(status);
    const verdict = verdictOf(status);
    if (verdict === 'busy') {
      events.tenantBusy?.(instance, tenant);
      return { outcome: 'busy' };
    }
    if (verdict === 'lastSyncFailed') {
      lastSync = status!.lastSync;
      events.lastSyncFailed?.(instance, tenant, lastSync);
    }
    if (dryRun) {
      events.wouldResync?.(instance, tenant);
      return { outcome: 'planned', lastSync };
    }
    const result = await controller.resync(tenant.id, authorized);
    events.resyncAnswered?.(instance, tenant);
    if (asked && status === undefined) statusSupport.resyncedWithoutStatus();
    if (result.outcome === 'synced') return { outcome: 'synced', lastSync };
    events.tenantFailed?.(instance, tenant, result.message, result.failedObjects);
    return { outcome: 'failed', message: result.message, lastSync };
  } catch (e) {
    const { tenantGone, scope } = traitsOf(e);
    // Not the tenant's doing, and no other tenant can be done: the instance stops with it.
    if (scope === 'pass') throw e;
    const error = e as Error;
    if (tenantGone) {
      events.tenantSkipped?.(instance, tenant, error.message);
      return { outcome: 'skipped', lastSync };
    }
    events.tenantFailed?.(instance, tenant, error.message);
    return { outcome: 'failed', general: scope === 'service' ? error : undefined, message: error.message, lastSync };
  }
}

/** Counts failures in a row that were not about any one tenant; too many means the controller is down. */
class ControllerHealth {
  private consecutive = 0;
  down: ControllerDownError | undefined;

  constructor(private readonly limit: number) {}

  success(): void {
    this.consecutive = 0;
  }

  generalFailure(e: Error): void {
    if (++this.consecutive >= this.limit && !this.down) this.down = new ControllerDownError(this.consecutive, e);
  }

  unreachable(instanceId: number, e: Error): void {
    this.down ??= new ControllerDownError(++this.consecutive, e, instanceId);
  }
}

function diffCounts(before: PassCounts, after: PassCounts): PassCounts {
  const d = emptyCounts();
  for (const k of Object.keys(d) as (keyof PassCounts)[]) d[k] = after[k] - before[k];
  return d;
}
