import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Status } from '../../src/cli/status-command';
import type { Simulator } from '../sim';
import { simulatorSetup, summaryOf } from './harness';

/** The tenant's sync status (src/aps/README.md), read before each resync: the real CLI against the simulator. */
const setup = simulatorSetup({ SYNC_CONCURRENCY: '4' });

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const counts = (s: Record<string, unknown>) =>
  (({ tenants, synced, failed, busy, lastSyncFailed, exitCode }) => ({
    tenants,
    synced,
    failed,
    busy,
    lastSyncFailed,
    exitCode,
  }))(s);

/** Every ready tenant resynced `times` times so far, and nothing else. */
function assertResyncedEach(sim: Simulator, times: number): void {
  assert.deepEqual(
    [...sim.stats.resyncCalls.keys()].sort(),
    sim
      .readyTenants()
      .map((t) => t.id)
      .sort(),
  );
  for (const [tenant, calls] of sim.stats.resyncCalls)
    assert.equal(calls, times, `tenant ${tenant} resynced ${calls} times`);
}

test('2 x 100 tenants, syncs of 4 s, 5 failing: run 1 starts all, run 2 at once finds all busy, run 3 after 4.5 s reports the 5 and exits 1', async () => {
  // The simulator runs on this test's clock: run 2 comes "at once" and run 3 "4.5 s later" on it
  // exactly, so the outcome does not hang on how fast a loaded machine runs each pass.
  let clock = 0;
  const { sim, w, run } = await setup({
    instances: 2,
    tenantsPerInstance: 100,
    syncDurationMs: 4000,
    clock: () => clock,
  });
  const failing = sim.readyTenants().filter((_, i) => i % 40 === 7);
  assert.equal(failing.length, 5);
  for (const t of failing) sim.setSyncResult(t.id, 3);
  mkdirSync(join(w.cwd, 'textfile'));
  const metricsFile = join(w.cwd, 'textfile', 'o365-backsync.prom');

  const first = await run(['sync', '--json', '--force']);
  assert.deepEqual(counts(summaryOf(first)), {
    tenants: 200,
    synced: 200,
    failed: 0,
    busy: 0,
    lastSyncFailed: 0,
    exitCode: 0,
  });
  assert.equal(first.code, 0, first.stderr);
  assertResyncedEach(sim, 1);
  assert.equal(sum(sim.stats.syncStatusReads), 200, 'one status read per tenant');

  const second = await run(['sync', '--json', '--force']);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(counts(summaryOf(second)), {
    tenants: 200,
    synced: 0,
    failed: 0,
    busy: 200,
    lastSyncFailed: 0,
    exitCode: 0,
  });
  assertResyncedEach(sim, 1);
  assert.equal(sim.readyTenants().length, 200);
  assert.equal(
    w.log().filter((l) => l.msg === 'tenant busy: its last synchronization is still in progress').length,
    200,
  );

  clock += 4500;
  const third = await run(['sync', '--json', '--force', '--metrics-file', metricsFile]);
  assert.equal(third.code, 1, third.stderr);
  assert.deepEqual(counts(summaryOf(third)), {
    tenants: 200,
    synced: 200,
    failed: 0,
    busy: 0,
    lastSyncFailed: 5,
    exitCode: 1,
  });
  assertResyncedEach(sim, 2);
  assert.match(
    third.stderr,
    /^o365-backsync: 5 of 200 tenants' last synchronization had failed; details in .*o365-backsync\.log\n$/,
  );
  const logged = w.log().filter((l) => l.msg === "tenant's last synchronization failed");
  assert.deepEqual(logged.map((l) => [l.tenantId, l.lastSync]).sort(), failing.map((t) => [t.id, 3]).sort());
  // Each run's summary line, found by its message: the order of a run's last lines in the file is not asserted here.
  const summaryLines = w.log().filter((l) => l.msg === 'pass finished');
  assert.deepEqual(
    summaryLines.map((l) => [l.busy, l.lastSyncFailed]),
    [
      [0, 0],
      [200, 0],
      [0, 5],
    ],
  );

  // status: the last pass's counts and its tenants whose sync failed, with their lastSync.
  const status = JSON.parse((await run(['status', '--json'])).stdout) as Status;
  assert.deepEqual([status.lastRun?.busy, status.lastRun?.lastSyncFailed], [0, 5]);
  assert.deepEqual(
    status.lastSyncFailedTenants.map((f) => [f.instanceId, f.tenantId, f.lastSync]).sort(),
    failing.map((t) => [t.instanceId, t.id, 3]).sort(),
  );
  const human = (await run(['status'])).stdout;
  assert.match(human, /200 synced, 0 failed, 0 skipped; 5 last syncs failed of 200 tenants/);
  assert.match(human, new RegExp(`^ {2}instance ${failing[0]!.instanceId} tenant ${failing[0]!.id}: lastSync 3$`, 'm'));
  const metrics = readFileSync(metricsFile, 'utf8');
  assert.match(metrics, /^o365_backsync_last_pass_last_sync_failed 5$/m);
  assert.match(metrics, /^o365_backsync_last_pass_tenants\{outcome="busy"\} 0$/m);
});

test('an application without sync_status (404): all 200 started, exit 0, at most 16 status reads, said once per instance', async () => {
  const { sim, w, run } = await setup({ instances: 2, tenantsPerInstance: 100, syncStatus: false });
  const result = await run(['sync', '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(counts(summaryOf(result)), {
    tenants: 200,
    synced: 200,
    failed: 0,
    busy: 0,
    lastSyncFailed: 0,
    exitCode: 0,
  });
  assertResyncedEach(sim, 1);
  const reads = sum(sim.stats.syncStatusReads);
  assert.ok(reads >= 2 && reads <= 16, `${reads} sync_status calls`);
  const said = w
    .log()
    .filter((l) => String(l.msg).startsWith('the application of this instance has no sync status operation'));
  assert.deepEqual(
    said.map((l) => [l.instanceId, l.level]),
    [
      [1001, 30],
      [1002, 30],
    ],
  );
});

test('APS_SYNC_STATUS_OPERATION empty: no status read at all, and a tenant still synchronizing is started again', async () => {
  const { sim, run } = await setup(
    { instances: 1, tenantsPerInstance: 10, syncDurationMs: 60_000 },
    { APS_SYNC_STATUS_OPERATION: '' },
  );
  for (const _ of [1, 2]) {
    const result = await run(['sync', '--json', '--force']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(counts(summaryOf(result)), {
      tenants: 10,
      synced: 10,
      failed: 0,
      busy: 0,
      lastSyncFailed: 0,
      exitCode: 0,
    });
  }
  assert.equal(sum(sim.stats.syncStatusReads), 0);
  assertResyncedEach(sim, 2);
});

test('a dry run reads the status: busy and failed last syncs are shown, nothing is resynced, and a failed one exits 1', async () => {
  // Synchronizations that end at once, one of them failing.
  const ended = await setup({ instances: 1, tenantsPerInstance: 8 });
  const failing = ended.sim.readyTenants()[5]!;
  ended.sim.setSyncResult(failing.id, -7);
  assert.equal((await ended.run()).code, 0);
  const dry = await ended.run(['sync', '--json', '--dry-run']);
  assert.equal(dry.code, 1, dry.stderr);
  assert.deepEqual((({ planned, busy, lastSyncFailed }) => ({ planned, busy, lastSyncFailed }))(summaryOf(dry)), {
    planned: 8,
    busy: 0,
    lastSyncFailed: 1,
  });
  assert.deepEqual(
    ended.w
      .log()
      .filter((l) => l.msg === "tenant's last synchronization failed")
      .map((l) => [l.tenantId, l.lastSync]),
    [[failing.id, -7]],
  );
  assertResyncedEach(ended.sim, 1);

  // Synchronizations still running.
  const running = await setup({ instances: 1, tenantsPerInstance: 8, syncDurationMs: 60_000 });
  assert.equal((await running.run()).code, 0);
  const busy = await running.run(['sync', '--json', '--dry-run']);
  assert.equal(busy.code, 0, busy.stderr);
  assert.deepEqual((({ planned, busy, lastSyncFailed }) => ({ planned, busy, lastSyncFailed }))(summaryOf(busy)), {
    planned: 0,
    busy: 8,
    lastSyncFailed: 0,
  });
  assert.equal(sum(running.sim.stats.syncStatusReads), 16);
  assertResyncedEach(running.sim, 1);
});

test('a targeted run reads the status too: an asked-for tenant still synchronizing is not started again', async () => {
  const { sim, run } = await setup({ instances: 2, tenantsPerInstance: 3, syncDurationMs: 60_000 });
  const tenant = sim.readyTenants()[4]!;
  assert.equal((await run(['sync', '--json', '--tenant', tenant.id])).code, 0);
  const again = await run(['sync', '--json', '--tenant', tenant.id]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(counts(summaryOf(again)), {
    tenants: 1,
    synced: 0,
    failed: 0,
    busy: 1,
    lastSyncFailed: 0,
    exitCode: 0,
  });
  assert.deepEqual([...sim.stats.resyncCalls], [[tenant.id, 1]]);
  assert.deepEqual([...sim.stats.syncStatusReads], [[tenant.id, 2]]);
});

test('check says per instance whether the application has the operation', async () => {
  const withIt = await setup({ instances: 1, tenantsPerInstance: 3 });
  const ok = await withIt.run(['check']);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(
    ok.stdout,
    /^ok {3}instance 1001: sync_status answered \(tenant [0-9a-f-]{36}: inProgress false, lastSync 0\)$/m,
  );
  const without = await setup({ instances: 2, tenantsPerInstance: 3, syncStatus: false });
  const warned = await without.run(['check']);
  assert.equal(warned.code, 0, warned.stdout);
  for (const id of [1001, 1002])
    assert.match(
      warned.stdout,
      new RegExp(`^warn instance ${id}: no sync_status operation \\(application before 20\\.7\\.2\\)`, 'm'),
    );
  assert.equal(without.sim.stats.resyncOperations.length, 0);
});
