import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPass } from '../../src/sync/pass';
import type { InstanceDirectory, Tenant, TenantController, TenantFinder } from '../../src/sync/ports';
import { TenantTargets } from '../../src/sync/targeted';

/** Two instances whose tokens each see only their own tenants; `lookups` records who was asked for what. */
function world(tenants: Record<number, Tenant[]>) {
  const lookups: string[] = [];
  const resyncs: string[] = [];
  const directory: InstanceDirectory = {
    listInstances: async () => Object.keys(tenants).map((id) => ({ id: Number(id), resourceId: `r-${id}` })),
    issueToken: async (id) => ({ token: `tok-${id}` }),
  };
  const controllerFor = (instance: { id: number }): TenantController & TenantFinder => ({
    listTenants: () => assert.fail('a targeted run must not walk the listing'),
    findTenant: async (id) => {
      lookups.push(`${instance.id}:${id}`);
      return tenants[instance.id]!.find((t) => t.id === id);
    },
    resync: async (id) => {
      resyncs.push(id);
      return { outcome: 'synced' };
    },
  });
  return { directory, controllerFor, lookups, resyncs };
}

const options = {
  appId: 41,
  concurrency: 2,
  dryRun: false,
  tokenRefreshEvery: 100,
  tokenMaxAgeMs: 60_000,
  maxConsecutiveFailures: 5,
};

test('only the asked-for tenants are resynced, each looked for until an instance has it', async () => {
  const w = world({
    1: [
      { id: 'a', status: 'aps:ready' },
      { id: 'b', status: 'aps:ready' },
    ],
    2: [
      { id: 'c', status: 'aps:ready' },
      { id: 'd', status: 'aps:provisioning' },
    ],
  });
  const targets = new TenantTargets(['c', 'a', 'd', 'zz']);
  const totals: number[] = [];
  const result = await runPass(options, {
    directory: w.directory,
    controllerFor: targets.controllerFor(w.controllerFor),
    events: { tenantsCounted: (_i, total) => totals.push(total) },
  });
  assert.deepEqual(w.resyncs.sort(), ['a', 'c']);
  assert.equal(result.synced, 2);
  assert.deepEqual(totals, [1, 1]);
  assert.deepEqual(
    w.lookups,
    ['1:c', '1:a', '1:d', '1:zz', '2:c', '2:d', '2:zz'],
    'a found tenant is not looked for again',
  );
  assert.deepEqual(targets.unresolved(), [
    { tenantId: 'd', reason: 'is aps:provisioning in instance 2, not aps:ready; not resynced' },
    { tenantId: 'zz', reason: 'not found in instance 1, 2' },
  ]);
});

test('an instance that could not be searched is not named as searched', async () => {
  const w = world({ 1: [{ id: 'a' }], 2: [] });
  const targets = new TenantTargets(['b']);
  const directory: InstanceDirectory = {
    ...w.directory,
    issueToken: async (id) => {
      if (id === 1) throw new Error('no token');
      return { token: `tok-${id}` };
    },
  };
  const result = await runPass(options, { directory, controllerFor: targets.controllerFor(w.controllerFor) });
  assert.equal(result.instanceFailures.length, 1);
  assert.deepEqual(targets.unresolved(), [{ tenantId: 'b', reason: 'not found in instance 2' }]);
});
