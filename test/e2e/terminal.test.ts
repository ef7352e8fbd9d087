import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missing } from '../tools';
import { runCliOnTerminal, simulatorSetup } from './harness';

/** A person at a terminal: live progress per instance, readable warnings, a short summary. */
const setup = simulatorSetup();

test(
  'a run on a terminal shows each instance progress, warnings as readable lines, and a summary; the log stays JSON',
  { skip: missing('script') },
  async () => {
    const { sim, w, env } = await setup({ instances: 2, tenantsPerInstance: 10 });
    const bad = sim.readyTenants()[12]!;
    sim.setFault(bad.id, 'fail500');
    const result = await runCliOnTerminal(['sync'], env, w.cwd);
    assert.equal(result.code, 1, result.stdout);
    const screen = result.stdout.replace(/\r/g, '');
    assert.match(screen, /instance 1001: 10\/10 tenants, \d+\/s, ETA 0s/);
    assert.match(screen, /instance 1002: 10\/10 tenants, \d+\/s, ETA 0s/);
    assert.match(
      screen,
      new RegExp(
        `\\[\\d\\d:\\d\\d:\\d\\d\\] WARN: tenant failed \\{"instanceId":1002,"tenantId":"${bad.id}","error":"APS controller answered 500 `,
      ),
    );
    assert.match(
      screen,
      /\n19 synced, 1 failed, 0 skipped of 20 tenants across 2 instances in \d+\.\ds\nlog: .*\/o365-backsync\.log\n$/,
    );
    const failed = w.log().find((l) => l.msg === 'tenant failed');
    assert.equal(failed?.tenantId, bad.id, 'the file log keeps JSON lines');
  },
);

test('--json on a terminal prints only the JSON summary', { skip: missing('script') }, async () => {
  const { w, env } = await setup({ instances: 1, tenantsPerInstance: 5 });
  const result = await runCliOnTerminal(['sync', '--json'], env, w.cwd);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^\{"ran":true,"startedAt":.*"synced":5,.*\}\r\n$/);
});

test(
  '--dry-run on a terminal lists each tenant it would resync before its summary',
  { skip: missing('script') },
  async () => {
    const { sim, w, env } = await setup({ instances: 2, tenantsPerInstance: 3 });
    const result = await runCliOnTerminal(['sync', '--dry-run'], env, w.cwd);
    assert.equal(result.code, 0, result.stdout);
    const listed = [...result.stdout.replace(/\r/g, '').matchAll(/^would resync instance (\d+) tenant (\S+)$/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    assert.deepEqual(
      listed.sort(),
      sim
        .readyTenants()
        .map((t) => `${t.instanceId} ${t.id}`)
        .sort(),
    );
    assert.match(result.stdout, /\ndry run: 6 tenants would be resynced across 2 instances in \d+\.\ds\r\n/);
    assert.equal(sim.stats.resyncOperations.length, 0);
  },
);
