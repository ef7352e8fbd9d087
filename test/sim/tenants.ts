import { hash } from 'node:crypto';

export type TenantStatus = 'aps:ready' | 'aps:provisioning';
export interface SimTenant {
  id: string;
  instanceId: number;
  /** Its APS type: the tenant type of its instance's application. */
  type: string;
  status: TenantStatus;
  subdomain: string;
}
export interface SimInstance {
  id: number;
  resourceId: string;
  /** The APS type of its tenants. */
  tenantType: string;
  tenants: SimTenant[];
}

/** A v4-looking UUID derived from a label, so every run has the same ids. */
export function stableUuid(label: string): string {
  const h = hash('sha256', label, 'hex');
  const variant = '89ab'[parseInt(h[16], 16) & 0x3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The controller's order of ids: it stores `aps.id` as a UUID and sorts it by value, which for
 * lowercase hex is plain string order, code unit by code unit. The tool compares the same way
 * (src/sync/tenant-order.ts); if the two disagreed, the tool would see pages out of order.
 */
export function sortsAfter(a: string, b: string): boolean {
  return a > b;
}

const byId = (a: SimTenant, b: SimTenant): number => (sortsAfter(a.id, b.id) ? 1 : sortsAfter(b.id, a.id) ? -1 : 0);

interface InstanceState {
  instance: SimInstance;
  ready: SimTenant[];
  /** The ready tenants sorted by id, made when first asked for and dropped when the tenants change. */
  readyById?: SimTenant[];
  nextIndex: number;
}

/** What one churn did, per instance: see TenantStore.churn. */
export interface Churned {
  removed: SimTenant[];
  added: SimTenant[];
}

/**
 * Every instance keeps its tenants in an array (the order they were added, which is the listing order
 * when no sort is asked for) plus the ready ones in a second array, so a page is a slice and never a
 * scan; a map finds a tenant by uuid.
 */
export class TenantStore {
  readonly instances: SimInstance[] = [];
  private readonly states = new Map<number, InstanceState>();
  private readonly byId = new Map<string, SimTenant>();

  /** `tenantTypes[i]`: the tenant type of the i-th instance; `mixed`: see SimOptions.mixedTenantType. */
  constructor(
    counts: number[],
    private readonly provisioningEvery: number,
    tenantTypes: string[],
    private readonly mixed?: { type: string; every: number },
  ) {
    counts.forEach((count, i) => {
      const id = 1001 + i;
      const instance: SimInstance = {
        id,
        resourceId: stableUuid(`instance:${id}`),
        tenantType: tenantTypes[i]!,
        tenants: [],
      };
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
      type:
        this.mixed && index % this.mixed.every === this.mixed.every - 1 ? this.mixed.type : state.instance.tenantType,
      status: status ?? (n > 0 && index % n === n - 1 ? 'aps:provisioning' : 'aps:ready'),
      subdomain: `t${instanceId}n${index}`,
    };
    state.instance.tenants.push(tenant);
    if (tenant.status === 'aps:ready') state.ready.push(tenant);
    state.readyById = undefined;
    this.byId.set(tenant.id, tenant);
    return tenant;
  }

  remove(tenantId: string): void {
    const tenant = this.byId.get(tenantId);
    if (tenant === undefined) return;
    this.byId.delete(tenantId);
    const state = this.states.get(tenant.instanceId)!;
    state.readyById = undefined;
    for (const list of [state.instance.tenants, state.ready]) {
      const at = list.indexOf(tenant);
      if (at >= 0) list.splice(at, 1);
    }
  }

  get(tenantId: string): SimTenant | undefined {
    return this.byId.get(tenantId);
  }

  /**
   * The instance's tenants, optionally only those with one status, in the order they were added or
   * sorted by id. The ready list is kept ready-made, and so is its sorted copy while nothing changes.
   */
  list(instanceId: number, status: string | undefined, sortedById: boolean): SimTenant[] {
    const state = this.states.get(instanceId);
    if (state === undefined) return [];
    if (status === 'aps:ready') return sortedById ? (state.readyById ??= [...state.ready].sort(byId)) : state.ready;
    const tenants =
      status === undefined ? state.instance.tenants : state.instance.tenants.filter((t) => t.status === status);
    return sortedById ? [...tenants].sort(byId) : tenants;
  }

  /**
   * Customers at work mid-pass: removes `removeFraction` of each instance's ready tenants, drawn with
   * `random`, and adds `addPerInstance` new ones to each; new ids fall anywhere in the sort order.
   * `first`, when ready, is among the removed: the tenant whose resync is on its way as this happens.
   */
  churn(removeFraction: number, addPerInstance: number, random: () => number, first?: string): Churned {
    const churned: Churned = { removed: [], added: [] };
    for (const { instance, ready } of this.states.values()) {
      const pool = [...ready];
      const count = Math.round(pool.length * removeFraction);
      const firstAt = pool.findIndex((t) => t.id === first);
      for (let n = 0; n < count; n++) {
        const at = n === 0 && firstAt >= 0 ? firstAt : Math.floor(random() * pool.length);
        const [tenant] = pool.splice(at, 1);
        this.remove(tenant.id);
        churned.removed.push(tenant);
      }
      for (let n = 0; n < addPerInstance; n++) churned.added.push(this.add(instance.id, 'aps:ready'));
    }
    return churned;
  }

  readyTenants(): SimTenant[] {
    return [...this.states.values()].flatMap((s) => s.ready);
  }
}

/** The tenant as the APS controller shows it (src/aps/README.md, "The Office 365 tenant"). */
export function tenantJson(tenant: SimTenant): object {
  return {
    aps: {
      id: tenant.id,
      type: tenant.type,
      status: tenant.status,
      subscription: stableUuid(`subscription:${tenant.id}`),
    },
    initial_subdomain: tenant.subdomain,
    ms_account_id: stableUuid(`ms-account:${tenant.id}`),
  };
}
