import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, simulatorSetup, summaryOf, until, workdir } from './harness';

/** `--tenant UUID`: resync just those tenants now; the lock applies, pacing and the full-pass state do not. */
const setup = simulatorSetup();

test('only the named tenants are resynced, found in whichever instance has them, even when no pass is due', async () => {
  const { sim, w, run } = await setup({ instances: 3, tenantsPerInstance: 8 }, { SYNC_MIN_INTERVAL: '3600' });
  assert.equal((await run(['sync'])).code, 0);
  const lastPass = readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8');
  sim.stats.resyncCalls.clear();
  const [a, b] = [sim.instances[0]!.tenants[2]!, sim.instances[2]!.tenants[5]!];

  const result = await run(['sync', '--json', '--tenant', b.id, '--tenant', a.id.toUpperCase()]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    [...sim.stats.resyncCalls.entries()].sort(),
    [
      [a.id, 1],
      [b.id, 1],
    ].sort(),
  );
  const s = summaryOf(result);
  assert.deepEqual(
    { synced: s.synced, tenants: s.tenants, notResynced: s.notResynced },
    { synced: 2, tenants: 2, notResynced: undefined },
  );
  assert.equal(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8'), lastPass, 'the full-pass state is left alone');
  assert.equal(existsSync(join(w.stateDir, 'pass.json')), false);
});

test('a tenant found nowhere, or not ready, is reported and makes the exit 1; the others are still resynced', async () => {
  const { sim, run } = await setup({ instances: 2, tenantsPerInstance: 6, provisioningEvery: 3 });
  const provisioning = sim.instances[1]!.tenants[2]!;
  const ready = sim.instances[1]!.tenants[0]!;
  const unknown = '00000000-0000-4000-8000-000000000000';
  assert.equal(provisioning.status, 'aps:provisioning');

  const json = await run(['sync', '--json', '--tenant', unknown, '--tenant', provisioning.id, '--tenant', ready.id]);
  assert.equal(json.code, 1);
  assert.deepEqual([...sim.stats.resyncCalls.keys()], [ready.id]);
  assert.deepEqual(summaryOf(json).notResynced, [
    { tenantId: provisioning.id, reason: 'is aps:provisioning in instance 1002, not aps:ready; not resynced' },
    { tenantId: unknown, reason: 'not found in instance 1001, 1002' },
  ]);
  const cron = await run(['sync', '--tenant', unknown, '--instance', '1002']);
  assert.deepEqual(
    { code: cron.code, stdout: cron.stdout, stderr: cron.stderr },
    { code: 1, stdout: '', stderr: `o365-backsync: tenant ${unknown} not found in instance 1002\n` },
  );
});

test('the lock still applies: a targeted run while a pass runs exits 0 and resyncs nothing', async () => {
  const { sim, w, run, start } = await setup(
    { instances: 1, tenantsPerInstance: 100, latencyMs: 40 },
    { SYNC_CONCURRENCY: '1' },
  );
  const target = sim.instances[0]!.tenants[99]!;
  // The controller holds every resync, so the pass is still running when the targeted run starts.
  const release = sim.holdResyncs();
  const pass = start(['sync']);
  await until(() => w.log().some((l) => l.msg === 'instance started'));
  const targeted = await run(['sync', '--tenant', target.id]);
  assert.deepEqual({ code: targeted.code, out: targeted.stdout + targeted.stderr }, { code: 0, out: '' });
  assert.ok(w.log().some((l) => String(l.msg).startsWith(`another run is active (pid ${pass.child.pid}`)));
  pass.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  await pass.done;
  assert.equal(sim.stats.resyncCalls.get(target.id), undefined);
});

test('a --tenant that is not a UUID is a usage error', async () => {
  const { sim, run } = await setup({});
  const result = await run(['sync', '--tenant', '../etc']);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, "o365-backsync: --tenant: must be a tenant's APS resource id (a UUID), got '../etc'\n");
  assert.equal(sim.stats.oaCalls.length, 0);
});

test('an --instance that is not a whole number is a usage error, before any setting is read', async () => {
  const w = workdir();
  for (const bad of ['10x', '-1', '1e3']) {
    const result = await runCli(['sync', '--instance', '1001', '--instance', bad], w.env, w.cwd);
    assert.deepEqual(
      [result.code, result.stdout, result.stderr],
      [2, '', `o365-backsync: --instance: must be an instance id (a whole number), got '${bad}'\n`],
    );
  }
});
