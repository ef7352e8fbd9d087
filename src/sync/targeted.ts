import { ConfigError } from '../errors';
import type { Authorized, Instance, InstanceToken, Tenant, TenantController, TenantFinder } from './ports';

/** An asked-for tenant that was not resynced, and why. */
export interface UnresolvedTenant {
  tenantId: string;
  reason: string;
}

/**
 * The instances a run limited by `--instance` works on. An id that is not an instance of the
 * application is a mistake in the command, not an empty run: refused, listing the ones there are.
 */
export function chosenInstances(all: Instance[], wanted: number[] | undefined, appId: number): Instance[] {
  if (!wanted?.length) return all;
  const strangers = wanted.filter((id) => !all.some((i) => i.id === id));
  if (strangers.length) {
    const there = all.length ? `its instances are ${all.map((i) => i.id).join(', ')}` : 'it has none';
    throw new ConfigError(
      '--instance',
      `${strangers.join(', ')} ${strangers.length === 1 ? 'is not an instance' : 'are not instances'} of application ${appId} (OFFICE_APP_ID); ${there}`,
    );
  }
  return all.filter((i) => wanted.includes(i.id));
}

/**
 * A targeted run (`--tenant UUID`) is the usual pass over the usual instances, except that each
 * instance's "listing" holds only the asked-for tenants it can see. They are looked up one by one by
 * id rather than by walking the whole listing, and since a token sees only its own instance's tenants,
 * each id is looked for instance by instance until one has it.
 */
export class TenantTargets {
  private readonly pending: Set<string>;
  private readonly notReady: UnresolvedTenant[] = [];
  private readonly searched: number[] = [];

  constructor(tenantIds: string[]) {
    this.pending = new Set(tenantIds);
  }

  /** Wraps the pass's controllers so that their listing yields only the targets. */
  controllerFor(
    inner: (instance: Instance, token: InstanceToken) => TenantController & TenantFinder,
  ): (instance: Instance, token: InstanceToken) => TenantController {
    return (instance, token) => {
      const controller = inner(instance, token);
      return {
        listTenants: ({ authorized, onTotal }) => this.find(instance, controller, authorized, onTotal),
        resync: (tenantId, t) => controller.resync(tenantId, t),
        syncStatus: controller.syncStatus && ((tenantId, t) => controller.syncStatus!(tenantId, t)),
      };
    };
  }

  /** The asked-for tenants that were not resynced: found nowhere, or found but not ready. */
  unresolved(): UnresolvedTenant[] {
    const where = this.searched.length
      ? `instance ${this.searched.join(', ')}`
      : 'any instance (none could be searched)';
    return [...this.notReady, ...[...this.pending].map((tenantId) => ({ tenantId, reason: `not found in ${where}` }))];
  }

  private async *find(
    instance: Instance,
    controller: TenantFinder,
    authorized: Authorized,
    onTotal?: (total: number) => void,
  ): AsyncGenerator<Tenant> {
    const found: Tenant[] = [];
    for (const tenantId of [...this.pending]) {
      const tenant = await authorized((token) => controller.findTenant(tenantId, token));
      if (tenant === undefined) continue;
      this.pending.delete(tenantId);
      // The pass resyncs only ready tenants; one still provisioning would not take a resync either.
      if (tenant.status !== undefined && tenant.status !== 'aps:ready') {
        this.notReady.push({
          tenantId,
          reason: `is ${tenant.status} in instance ${instance.id}, not aps:ready; not resynced`,
        });
      } else found.push(tenant);
    }
    this.searched.push(instance.id);
    onTotal?.(found.length);
    yield* found;
  }
}
