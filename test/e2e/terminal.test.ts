import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missing } from '../tools';
import { closedPort, runCli, runCliOnTerminal, simulatorSetup } from './harness';

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

test(
  'while OA or the controller does not answer, a terminal shows a line for each retry; cron only the last word',
  { skip: missing('script') },
  async () => {
    const { sim, w, env } = await setup(
      { instances: 1, tenantsPerInstance: 2 },
      { REQUEST_TIMEOUT_MS: '200', RETRIES: '2', RETRY_MAX_DELAY_MS: '50' },
    );
    sim.setOaFault('hang');
    const oa = await runCliOnTerminal(['sync'], env, w.cwd);
    assert.equal(oa.code, 3, oa.stdout);
    const oaScreen = oa.stdout.replace(/\r/g, '');
    for (const n of [1, 2])
      assert.match(
        oaScreen,
        new RegExp(`WARN: OA at 127\\.0\\.0\\.1:${env.OA_PORT} not answering; retry ${n} of 2 in [\\d.]+ s`),
      );
    assert.doesNotMatch(oaScreen, /retry 3 of/);
    const cron = await runCli(['sync'], env, w.cwd);
    assert.match(cron.stderr, /^o365-backsync: OA Public API at [^\n]+: no answer within 200 ms; fix: [^\n]+\n$/);

    sim.setOaFault(undefined);
    const port = await closedPort();
    const aps = await runCliOnTerminal(['sync'], { ...env, APS_URL: `http://127.0.0.1:${port}/` }, w.cwd);
    assert.equal(aps.code, 3, aps.stdout);
    const apsScreen = aps.stdout.replace(/\r/g, '');
    for (const n of [1, 2])
      assert.match(
        apsScreen,
        new RegExp(`WARN: controller at 127\\.0\\.0\\.1:${port} not answering; retry ${n} of 2 in`),
      );
  },
);
