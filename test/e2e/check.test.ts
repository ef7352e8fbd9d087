import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { closedPort, simulatorSetup, summaryOf } from './harness';

/** `check`: one line per step, ok or FAIL with the fix; never a resync. */
const setup = simulatorSetup();

const outcomes = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!);

test('all ok over https with the CA: a line per step, tenant counts per instance, and no resync sent', async () => {
  const { sim, run } = await setup({ instances: 2, tenantsPerInstance: [7, 3], https: true, provisioningEvery: 3 });
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.deepEqual(outcomes(result.stdout), Array(14).fill('ok'), result.stdout);
  assert.match(result.stdout, /^ok {3}OA Public API: answered at 127\.0\.0\.1:\d+$/m);
  assert.match(result.stdout, /^ok {3}application 41: 2 instances \(1001, 1002\)$/m);
  assert.match(
    result.stdout,
    /^ok {3}controller https:\/\/127\.0\.0\.1:\d+\/: reachable, certificate trusted by .*ca\.pem \(APS_CA_FILE\)$/m,
  );
  assert.match(
    result.stdout,
    /^ok {3}instance 1001: 5 ready tenants of the tenant types found, walked as http:\/\/www\.parallels\.com\/Office365\/Tenant\/2\.0$/m,
  );
  assert.match(result.stdout, /^ok {3}instance 1002: 2 ready tenants of the tenant types found/m);
  assert.match(
    result.stdout,
    /^ok {3}instance 1001: sync_status answered \(tenant [0-9a-f-]{36}: inProgress false, lastSync 0\)$/m,
  );
  assert.equal(sim.stats.resyncOperations.length, 0);
  assert.equal(sim.stats.tokensIssued, 2);
});

test('a tenant type that finds no tenant is said, with the likely fix, without failing the check', async () => {
  const { run } = await setup(
    { instances: 1, tenantsPerInstance: 4 },
    { APS_TENANT_TYPE: 'http://www.parallels.com/Office365/Tenant/2.8' },
  );
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout);
  assert.match(
    result.stdout,
    /^warn instance 1001: 0 ready tenants of type http:\/\/www\.parallels\.com\/Office365\/Tenant\/2\.8; if this instance has tenants, APS_TENANT_TYPE is probably wrong/m,
  );
});

test('OA down: the OA step fails with what to check, and nothing after it runs (exit 3); sync names the same fix', async () => {
  const { sim, run } = await setup({}, { RETRIES: '0' });
  await sim.close();
  const result = await run(['check']);
  assert.equal(result.code, 3);
  assert.deepEqual(outcomes(result.stdout), ['ok', 'ok', 'FAIL'], result.stdout);
  const fix =
    /^FAIL OA Public API: OA Public API at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*(; fix: check OA_HOST and OA_PORT \(\d+\), that the OA Public API is enabled there, and that it allows this host's IP)$/m.exec(
      result.stdout,
    );
  assert.ok(fix, result.stdout);
  const synced = await run(['sync']);
  assert.equal(synced.code, 3);
  assert.ok(synced.stderr.endsWith(`${fix[1]}\n`), synced.stderr);
});

test('an untrusted controller certificate fails the controller step and names APS_CA_FILE (exit 3)', async () => {
  const { sim, run } = await setup({ instances: 1, tenantsPerInstance: 2, https: true }, { APS_CA_FILE: '' });
  const result = await run(['check']);
  assert.equal(result.code, 3, result.stdout);
  assert.match(
    result.stdout,
    /^FAIL controller https:\/\/127\.0\.0\.1:\d+\/: certificate of https:\/\/127\.0\.0\.1:\d+ not trusted: .*APS_CA_FILE/m,
  );
  assert.equal(sim.stats.requests, 0, 'the handshake failed before any request');
});

test('a wrong application ID: OA answered, the application step fails with OA words (exit 3)', async () => {
  const { run } = await setup({}, { OFFICE_APP_ID: '999' });
  const result = await run(['check']);
  assert.equal(result.code, 3);
  assert.match(result.stdout, /^ok {3}OA Public API: answered/m);
  assert.match(
    result.stdout,
    /^FAIL application 999: OA pem\.APS\.getApplicationInstances failed: Application with ID 999 is not found\..*; fix: OFFICE_APP_ID must be/m,
  );
});

test('bad settings fail the config step and exit 2, before any network call', async () => {
  const { sim, run } = await setup({}, { OA_HOST: '' });
  const result = await run(['check']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, 'FAIL config: OA_HOST: is required but not set (see config.example.env)\n');
  assert.equal(sim.stats.oaCalls.length, 0);
});

test('a controller_uri carrying user:password is shown without them, in check and in the sync log', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 2, controllerUriCredentials: 'admin:Ctl-S3cret' });
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^ok {3}instance 1001: token issued; controller http:\/\/127\.0\.0\.1:\d+\/$/m);
  assert.match(result.stdout, /^ok {3}controller http:\/\/127\.0\.0\.1:\d+\/: reachable, plain http$/m);
  const synced = await run(['sync', '--json'], { LOG_LEVEL: 'debug' });
  assert.equal(synced.code, 0, synced.stderr);
  for (const text of [result.stdout, result.stderr, synced.stdout, synced.stderr, JSON.stringify(w.log())]) {
    assert.doesNotMatch(text, /Ctl-S3cret|admin:/);
  }
});

test('check lists misspelt settings and a token max age above the token life as warnings, and still passes', async () => {
  const { run } = await setup(
    { instances: 1, tenantsPerInstance: 2 },
    { SYNC_CONCURENCY: '8', APS_TOKEN_MAX_AGE: '3600' },
  );
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    /^warn config: SYNC_CONCURENCY \(in the environment\) is not a setting and is ignored; did you mean SYNC_CONCURRENCY\?$/m,
  );
  assert.match(result.stdout, /^warn config: APS_TOKEN_MAX_AGE \(3600s\) is above the 1800s a token lives by default/m);
});

test('check fails where sync refuses STATE_DIR, in the same words: mode 0777, mode 2770, another user its owner', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 2 });
  mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
  const cases: [string, () => void][] = [
    ['0777', () => chmodSync(w.stateDir, 0o777)],
    ['2770', () => chmodSync(w.stateDir, 0o2770)],
  ];
  // Only root can give a folder away; as another user the test has the first two cases.
  if (process.getuid?.() === 0)
    cases.push([
      'owned by uid 65534',
      () => {
        chmodSync(w.stateDir, 0o700);
        chownSync(w.stateDir, 65534, 65534);
      },
    ]);
  for (const [name, make] of cases) {
    make();
    const sync = await run(['sync']);
    assert.equal(sync.code, 2, `${name}: ${sync.stderr}`);
    assert.match(sync.stderr, /^o365-backsync: STATE_DIR: .*; it must be this user's alone: .*\n$/, name);
    const refusal = sync.stderr.replace(/^o365-backsync: /, '').trimEnd();
    const check = await run(['check']);
    assert.equal(check.code, 3, `${name}: ${check.stdout}`);
    assert.ok(check.stdout.includes(`\nFAIL folders: ${refusal}\n`), `${name}:\n${check.stdout}`);
  }
  assert.equal(sim.stats.resyncOperations.length, 0);
});

test('a LOG_DIR others can write: check warns in the words sync logs, and the run goes on', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 2 });
  mkdirSync(w.logDir, { recursive: true });
  chmodSync(w.logDir, 0o777);
  assert.equal((await run(['sync'])).code, 0);
  const logged = w.log().find((l) => l.level === 40 && String(l.msg).startsWith('LOG_DIR '));
  assert.match(String(logged?.msg), /can be written by group or others \(mode 0777\): .*chmod 750 it$/);
  const check = await run(['check']);
  assert.equal(check.code, 0, check.stdout);
  assert.ok(check.stdout.includes(`\nwarn folders: ${String(logged!.msg)}\n`), check.stdout);
});

test('a controller that refuses connections: sync names the fix check names, on stderr and in --json', async () => {
  const port = await closedPort();
  const { run } = await setup(
    { instances: 1, tenantsPerInstance: 2 },
    { RETRIES: '0', APS_URL: `http://127.0.0.1:${port}/` },
  );
  const check = await run(['check']);
  assert.equal(check.code, 3, check.stdout);
  const fix = /^FAIL controller \S+: APS controller at [^\n]*ECONNREFUSED[^\n]*; fix: ([^\n]+)$/m.exec(check.stdout);
  assert.ok(fix, check.stdout);
  const cron = await run(['sync']);
  assert.equal(cron.code, 3);
  assert.ok(cron.stderr.endsWith(`; fix: ${fix[1]}\n`), cron.stderr);
  const json = summaryOf(await run(['sync', '--json']));
  assert.deepEqual(
    (json.instanceFailures as { instanceId: number; fix?: string }[]).map((f) => [f.instanceId, f.fix]),
    [[1001, fix[1]]],
  );
});
