import { BacksyncError, traitsOf } from '../errors';
import type {
  Authorized,
  Instance,
  InstanceDirectory,
  InstanceToken,
  PassEvents,
  PassJournal,
  ResumePoint,
  Tenant,
  TenantController,
  TenantTypes,
} from './ports';
import { unmatchedTenantType, type UnmatchedTenantType } from './tenant-types';
import { TokenLifetime } from './token-lifetime';
import { TokenPolicy } from './token-policy';
import { chosenInstances } from './targeted';
import { runWorkers } from './workers';
import { InstanceChain, type InstanceLanes } from './instance-chain';
import { ControllerHealth } from './controller-health';
import { StatusSupport, verdictOf } from './sync-status';
import { addCounts, emptyCounts, type PassCounts, type TenantOutcome } from './counts';

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
  /** APS_TENANT_TYPE found no tenant anywhere while the controller holds other tenant types. */
  tenantTypeUnmatched?: UnmatchedTenantType;
}

/** The pass reached every instance, and the tenant type it walked found tenants where any exist. */
export function isComplete(result: PassResult): boolean {
  return !result.interruptedBy && result.instanceFailures.length === 0 && !result.tenantTypeUnmatched;
}

export async function runPass(options: PassOptions, deps: PassDeps): Promise<PassResult> {
  const events = deps.events ?? {};
  const result: PassResult = { ...emptyCounts(), instances: 0, tokenRefreshes: 0, instanceFailures: [], invalid: 0 };
  const health = new ControllerHealth(options.maxConsecutiveFailures);
  const stopped = (): boolean => deps.stop?.aborted === true || health.down !== undefined;

  let listed: Instance[];
  try {
    listed = await deps.directory.listInstances(options.appId);
  } catch (e) {
    if (deps.stop?.aborted) return { ...result, interruptedBy: 'signal' };
    throw e;
  }
  const instances = chosenInstances(distinctInstances(listed, events), options.instances, options.appId);
  result.instances = instances.length;
  events.instancesListed?.(instances);

  const lifetime = deps.tokenLifetime ?? new TokenLifetime({ configuredMaxAgeMs: options.tokenMaxAgeMs });
  const concurrency = deps.concurrency ?? (() => options.concurrency);
  // How many tenants ahead the next page and the next instance are asked for: a round trip or two, in
  // which each worker gets through about two tenants.
  const lead = (): number => 4 * concurrency();
  const runs: InstanceRun[] = [];
  const lanes: InstanceLanes<InstanceRun> = {
    prepare: (instance) => {
      // A resumed walk starts after the instance's cursor, about where the listing had it.
      const resume = deps.journal?.resumePoint(instance.id);
      const run: InstanceRun = {
        instance,
        resume,
        retrying: new Set(deps.journal?.retries(instance.id)),
        policy: new TokenPolicy({
          refreshEvery: options.tokenRefreshEvery,
          lifetime,
          issue: () => deps.directory.issueToken(instance.id),
          now: deps.now,
          onRenewed: (reason) => events.tokenRenewed?.(instance, reason),
          tenantsAhead: () => lanes.tenantsLeft(run),
        }),
        // Two reads per worker: enough for one to meet a tenant that then takes its resync.
        statusSupport: new StatusSupport(2 * options.concurrency, () => events.syncStatusMissing?.(instance)),
        counts: emptyCounts(),
        listed: undefined,
        handed: resume ? resume.near + 1 : 0,
      };
      runs.push(run);
      return run;
    },
    open: async (run) => {
      run.controller = deps.controllerFor(run.instance, await run.policy.token());
      events.instanceStarted?.(run.instance);
      const listing = run.controller.listTenants({
        authorized: (call) => run.policy.run(call),
        after: run.resume,
        // As far ahead as the next instance is opened: the page arrives before the workers run out.
        readAhead: lead(),
        onTenantTypes: (types) => {
          run.types = types;
          events.tenantTypes?.(run.instance, types);
        },
        onTotal: (total) => {
          run.listed = total;
          events.tenantsCounted?.(run.instance, total);
        },
        onInvalidItem: (reason) => {
          result.invalid++;
          events.listingItemInvalid?.(run.instance, reason);
        },
      });
      // The tenants an earlier run left to retry go first: the walk then passes over them, as done.
      return run.retrying.size ? retriesThen([...run.retrying], listing) : listing;
    },
    tenantsLeft: (run) => (run.listed === undefined ? undefined : run.listed - run.handed),
    failed: ({ instance }, e) => {
      // A stop that abandoned an OA request in flight: what it left undone is the next run's, not a failure.
      if (deps.stop?.aborted) return;
      result.instanceFailures.push({ instanceId: instance.id, error: e });
      events.instanceFailed?.(instance, e);
      // A listing or token request that still fails after its retries leaves the rest of the instance
      // unreachable, and the next instance shares the controller: stop, so the next run resumes here.
      // A failure that ends the pass (tokens that cannot be kept within their age) does too.
      const { retryable, scope } = traitsOf(e);
      if (scope === 'host') health.hostFailure(e);
      else if (retryable || scope === 'pass') health.unreachable(instance.id, e);
      else if (scope === 'service') health.generalFailure(e);
    },
    finished: (run) => {
      addCounts(result, run.counts);
      result.tokenRefreshes += run.policy.renewals;
      events.instanceFinished?.(run.instance, run.counts);
    },
  };
  const chain = new InstanceChain(instances, lanes, lead, stopped);
  await runWorkers(
    chain,
    concurrency,
    async ({ lane, tenant }) => {
      const run = lane.context;
      const { instance, counts } = run;
      const retry = run.retrying.delete(tenant.id);
      if (!retry) run.handed++;
      try {
        if (!retry && deps.journal?.handOut(instance.id, tenant.id)) {
          counts.alreadyDone++;
          events.tenantAlreadyDone?.(instance, tenant);
          return;
        }
        const { outcome, general, message, lastSync } = await resyncOne(run, tenant, options.dryRun, events);
        counts.tenants++;
        counts[outcome]++;
        if (lastSync !== undefined) counts.lastSyncFailed++;
        if (general) health.generalFailure(general);
        else health.success();
        if (outcome !== 'planned')
          deps.journal?.recordDone(instance.id, tenant.id, { outcome, message, lastSync, byController: !!general });
        events.tenantDone?.(instance, tenant);
      } catch (e) {
        // Not the tenant's doing, and no other tenant of its instance can be done: the instance ends.
        chain.abandon(lane, e as Error);
      } finally {
        chain.settled(lane);
      }
    },
    stopped,
  );
  if (!stopped() && result.instanceFailures.length === 0) {
    const unmatched = unmatchedTenantType(runs);
    if (unmatched) result.tenantTypeUnmatched = unmatched;
  }
  if (health.down) result.interruptedBy = health.down;
  else if (deps.stop?.aborted)
    result.interruptedBy = deps.stop.reason instanceof BacksyncError ? deps.stop.reason : 'signal';
  return result;
}

/** One instance of the pass: its token, its controller, its counts. */
interface InstanceRun {
  instance: Instance;
  policy: TokenPolicy;
  statusSupport: StatusSupport;
  controller?: TenantController;
  counts: PassCounts;
  /** Where a resumed pass's walk of the instance starts; undefined: from its start. */
  resume: ResumePoint | undefined;
  /** The tenant types its listing walks, once told. */
  types?: TenantTypes;
  /** Tenants an earlier run left to retry, not handed out yet. */
  retrying: Set<string>;
  /** How many ready tenants the listing last said there are, and how many it has handed out (counted from `resume`). */
  listed: number | undefined;
  handed: number;
}

async function resyncOne(
  { instance, controller, policy, statusSupport }: InstanceRun,
  tenant: Tenant,
  dryRun: boolean,
  events: PassEvents,
): Promise<{ outcome: TenantOutcome; general?: Error; message?: string; lastSync?: number }> {
  // The tenant counts towards the token's renewal once, on its first call, not on each retry or its resync after its status.
  let attempts = 0;
  const authorized: Authorized = (call) => policy.run(call, attempts++ === 0);
  let lastSync: number | undefined;
  try {
    const asked = controller!.syncStatus !== undefined && statusSupport.shouldAsk();
    const status = asked ? await controller!.syncStatus!(tenant.id, authorized) : undefined;
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
    const result = await controller!.resync(tenant.id, authorized);
    events.resyncAnswered?.(instance, tenant);
    if (asked && status === undefined) statusSupport.resyncedWithoutStatus();
    if (result.outcome === 'synced') return { outcome: 'synced', lastSync };
    events.tenantFailed?.(instance, tenant, result.message, result.failedObjects);
    return { outcome: 'failed', message: result.message, lastSync };
  } catch (e) {
    const { tenantGone, scope } = traitsOf(e);
    // Not the tenant's doing, and no other tenant can be done: the instance stops with it.
    if (scope === 'pass' || scope === 'host') throw e;
    const error = e as Error;
    if (tenantGone) {
      events.tenantSkipped?.(instance, tenant, error.message);
      return { outcome: 'skipped', lastSync };
    }
    events.tenantFailed?.(instance, tenant, error.message);
    return { outcome: 'failed', general: scope === 'service' ? error : undefined, message: error.message, lastSync };
  }
}

/** The tenants to retry, then the listing. */
async function* retriesThen(retries: string[], listing: AsyncIterable<Tenant>): AsyncGenerator<Tenant> {
  for (const id of retries) yield { id };
  yield* listing;
}

/** Each instance once, as first listed: OA listing one twice must not walk (and resync) it twice. */
function distinctInstances(listed: Instance[], events: PassEvents): Instance[] {
  const seen = new Set<number>();
  return listed.filter((instance) => {
    if (!seen.has(instance.id)) return seen.add(instance.id);
    events.instanceListedTwice?.(instance);
    return false;
  });
}
