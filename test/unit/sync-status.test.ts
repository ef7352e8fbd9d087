import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApsError } from '../../src/errors';
import { runPass, type PassOptions } from '../../src/sync/pass';
import type {
  Authorized,
  InstanceDirectory,
  PassJournal,
  SyncStatus,
  Tenant,
  TenantController,
} from '../../src/sync/ports';
import { verdictOf } from '../../src/sync/sync-status';

/**
 * An in-memory OA and controller whose tenants answer a sync status: the pass's use of it is plain
 * logic, tested here without sockets. `status` undefined is "no such operation"; `removed` tenants
 * answer their resync with 404.
 */
function world(
  tenants: Record<number, string[]>,
  status: (tenant: string) => SyncStatus | undefined,
  removed: string[] = [],
) {
  const reads: string[] = [];
  const resyncs: string[] = [];
  let tokens = 0;
  const directory: InstanceDirectory = {
    listInstances: async () => Object.keys(tenants).map((id) => ({ id: Number(id), resourceId: `r-${id}` })),
    issueToken: async (id) => ({ token: `tok-${id}-${++tokens}` }),
  };
  const controllerFor = (instance: { id: number }): TenantController => ({
    async *listTenants() {
      for (const id of tenants[instance.id]!) yield { id } as Tenant;
    },
    resync: (tenantId: string, authorized: Authorized) =>
      authorized(async () => {
        await new Promise((r) => setTimeout(r, 1));
        if (removed.includes(tenantId))
          throw new ApsError(404, `Resource ${tenantId} not found`, 'APS::Util::NotFound');
        resyncs.push(tenantId);
        return { outcome: 'synced' as const };
      }),
    syncStatus: (tenantId: string, authorized: Authorized) =>
      authorized(async () => {
        await new Promise((r) => setTimeout(r, 1));
        reads.push(tenantId);
        return status(tenantId);
      }),
  });
  return { directory, controllerFor, reads, resyncs, tokens: () => tokens };
}

const options: PassOptions = {
  appId: 41,
  concurrency: 3,
  dryRun: false,
  tokenRefreshEvery: 100,
  tokenMaxAgeMs: 60_000,
  maxConsecutiveFailures: 5,
};
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('the verdict: in progress is busy whatever the last result; a non-zero lastSync is a failed last sync', () => {
  assert.equal(verdictOf({ inProgress: true, lastSync: 7 }), 'busy');
  assert.equal(verdictOf({ inProgress: false, lastSync: 7 }), 'lastSyncFailed');
  assert.equal(verdictOf({ inProgress: false, lastSync: -1 }), 'lastSyncFailed');
  assert.equal(verdictOf({ inProgress: false, lastSync: 0 }), 'resync');
  assert.equal(verdictOf(undefined), 'resync');
});

test('a busy tenant is not resynced; one whose last sync failed is resynced, counted and journaled with its value', async () => {
  const w = world({ 1: names('a', 6) }, (t) => ({
    inProgress: t === 'a1' || t === 'a4',
    lastSync: t === 'a2' ? 5 : 0,
  }));
  const journaled: [string, string, number | undefined][] = [];
  const journal: PassJournal = {
    resumePoint: () => undefined,
    retries: () => [],
    handOut: () => false,
    recordDone: (_i, t, { outcome, lastSync }) => void journaled.push([t, outcome, lastSync]),
  };
  const told: string[] = [];
  const result = await runPass(options, {
    ...w,
    journal,
    events: {
      tenantBusy: (_i, t) => told.push(`busy ${t.id}`),
      lastSyncFailed: (_i, t, l) => told.push(`${t.id} ${l}`),
    },
  });
  assert.deepEqual([...w.reads].sort(), names('a', 6));
  assert.deepEqual([...w.resyncs].sort(), ['a0', 'a2', 'a3', 'a5']);
  assert.deepEqual(
    { tenants: result.tenants, synced: result.synced, busy: result.busy, lastSyncFailed: result.lastSyncFailed },
    { tenants: 6, synced: 4, busy: 2, lastSyncFailed: 1 },
  );
  assert.deepEqual(told.sort(), ['a2 5', 'busy a1', 'busy a4']);
  assert.deepEqual(journaled.filter(([, o, l]) => o === 'busy' || l !== undefined).sort(), [
    ['a1', 'busy', undefined],
    ['a2', 'synced', 5],
    ['a4', 'busy', undefined],
  ]);
});

test('a dry run reads the status too: busy and failed last syncs are counted, nothing is resynced', async () => {
  const w = world({ 1: names('a', 4) }, (t) => ({ inProgress: t === 'a0', lastSync: t === 'a3' ? 2 : 0 }));
  const result = await runPass({ ...options, dryRun: true }, w);
  assert.equal(w.reads.length, 4);
  assert.equal(w.resyncs.length, 0);
  assert.deepEqual(
    { planned: result.planned, busy: result.busy, lastSyncFailed: result.lastSyncFailed },
    { planned: 3, busy: 1, lastSyncFailed: 1 },
  );
});

test('an application without the operation: each instance is asked at most 2 x concurrency times, told once, and every tenant resynced', async () => {
  const w = world({ 1: names('a', 40), 2: names('b', 40) }, () => undefined);
  const missing: number[] = [];
  const result = await runPass(options, { ...w, events: { syncStatusMissing: (i) => missing.push(i.id) } });
  assert.equal(result.synced, 80);
  assert.deepEqual(missing, [1, 2]);
  for (const prefix of ['a', 'b']) {
    const asked = w.reads.filter((t) => t.startsWith(prefix)).length;
    assert.ok(asked >= 1 && asked <= 2 * options.concurrency, `instance ${prefix}: ${asked} reads`);
  }
});

test('a tenant removed since the listing (404 to both calls) does not stop the reads; a status that answers keeps them going', async () => {
  const w = world({ 1: names('a', 10) }, (t) => (t === 'a0' ? undefined : { inProgress: false, lastSync: 0 }), ['a0']);
  const missing: number[] = [];
  const result = await runPass(
    { ...options, concurrency: 1 },
    { ...w, events: { syncStatusMissing: (i) => missing.push(i.id) } },
  );
  assert.deepEqual(missing, []);
  assert.equal(w.reads.length, 10, 'every tenant read');
  assert.deepEqual({ synced: result.synced, skipped: result.skipped }, { synced: 9, skipped: 1 });
});

test('an application without the operation whose tenants are all removed is still asked at most 2 x concurrency times', async () => {
  const w = world({ 1: names('a', 20) }, () => undefined, names('a', 20));
  const result = await runPass({ ...options, concurrency: 2 }, w);
  assert.equal(result.skipped, 20);
  assert.equal(w.reads.length, 4);
});

test('the status read and the resync count once towards the token renewal, as the resync alone did', async () => {
  const w = world({ 1: names('a', 10) }, () => ({ inProgress: false, lastSync: 0 }));
  const result = await runPass({ ...options, tokenRefreshEvery: 3 }, w);
  assert.equal(result.synced, 10);
  assert.equal(result.tokenRefreshes, 3);
});
