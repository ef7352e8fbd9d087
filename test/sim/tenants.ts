import { hash } from 'node:crypto';

export type TenantStatus = 'aps:ready' | 'aps:provisioning';
export interface SimTenant { id: string; instanceId: number; status: TenantStatus; subdomain: string }
export interface SimInstance { id: number; resourceId: string; tenants: SimTenant[] }

/** A v4-looking UUID derived from a label, so every run has the same ids. */
export function stableUuid(label: string): string {
  const h = hash('sha256', label, 'hex');
  const variant = '89ab'[parseInt(h[16], 16) & 0x3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface InstanceState {
  instance: SimInstance;
  ready: SimTenant[];
  nextIndex: number;
}

/**
 * Every instance keeps its tenants in an array (the listing order) plus the ready ones in a second
 * array, so a page is a slice and never a scan; a map finds a tenant by uuid.
 */
export class TenantStore {
  readonly instances: SimInstance[] = [];
  private readonly states = new Map<number, InstanceState>();
  private readonly byId = new Map<string, SimTenant>();

  constructor(counts: number[], private readonly provisioningEvery: number) {
    counts.forEach((count, i) => {
      const id = 1001 + i;
      const instance: SimInstance = { id, resourceId: stableUuid(`instance:${id}`), tenants: [] };
      this.instances.push(instance);
      this.states.set(id, { instance, ready: [], nextIndex: 0 });
      for (let n = 0; n < count; n++) this.add(id);
    });
  }

  instance(id: number): SimInstance | undefined {
    return this.states.get(id)?.instance;
  }

  /** Adds a tenant at the end of its instance's listing; by default every Nth one is provisioning. */
  add(instanceId: number, status?: TenantStatus): SimTenant {
    const state = this.states.get(instanceId);
    if (state === undefined) throw new Error(`no application instance ${instanceId} in the simulator`);
    const index = state.nextIndex++;
    const n = this.provisioningEvery;
    const tenant: SimTenant = {
      id: stableUuid(`tenant:${instanceId}:${index}`),
      instanceId,
      status: status ?? (n > 0 && index % n === n - 1 ? 'aps:provisioning' : 'aps:ready'),
      subdomain: `t${instanceId}n${index}`,
    };
    state.instance.tenants.push(tenant);
    if (tenant.status === 'aps:ready') state.ready.push(tenant);
    this.byId.set(tenant.id, tenant);
    return tenant;
  }

  remove(tenantId: string): void {
    const tenant = this.byId.get(tenantId);
    if (tenant === undefined) return;
    this.byId.delete(tenantId);
    const state = this.states.get(tenant.instanceId)!;
    for (const list of [state.instance.tenants, state.ready]) {
      const at = list.indexOf(tenant);
      if (at >= 0) list.splice(at, 1);
    }
  }

  get(tenantId: string): SimTenant | undefined {
    return this.byId.get(tenantId);
  }

  /** The instance's tenants, optionally only those with one status; the ready list is kept ready-made. */
  list(instanceId: number, status?: string): SimTenant[] {
    const state = this.states.get(instanceId);
    if (state === undefined) return [];
    if (status === undefined) return state.instance.tenants;
    if (status === 'aps:ready') return state.ready;
    return state.instance.tenants.filter((t) => t.status === status);
  }

  readyTenants(): SimTenant[] {
    return [...this.states.values()].flatMap((s) => s.ready);
  }
}

/** The tenant as the APS controller shows it (protocol.md §3). */
export function tenantJson(tenant: SimTenant, type: string): object {
  return {
    aps: { id: tenant.id, type, status: tenant.status, subscription: stableUuid(`subscription:${tenant.id}`) },
    initial_subdomain: tenant.subdomain,
    ms_account_id: stableUuid(`ms-account:${tenant.id}`),
  };
}
