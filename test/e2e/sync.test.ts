import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertEachReadyTenantOnce, runCli, simulatorSetup, summaryOf } from './harness';

/** The real CLI against the simulator, each test on its own servers and folders. */
const setup = simulatorSetup();

test('several instances with short pages: every ready tenant resynced exactly once, provisioning ones left alone', async () => {
  const { sim, run } = await setup(
    { instances: 3, tenantsPerInstance: [120, 75, 101], pageCap: 7, provisioningEvery: 6 },
    { APS_PAGE_SIZE: '50' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  const s = summaryOf(result);
  const ready = sim.readyTenants().length;
  assert.ok(ready < 296 && ready > 200);
  assert.deepEqual(
    {
      instances: s.instances,
      tenants: s.tenants,
      synced: s.synced,
      failed: s.failed,
      skipped: s.skipped,
      dryRun: s.dryRun,
    },
    { instances: 3, tenants: ready, synced: ready, failed: 0, skipped: 0, dryRun: false },
  );
  for (const key of ['startedAt', 'durationMs', 'tokenRefreshes']) assert.ok(key in s, key);
  assertEachReadyTenantOnce(sim);
  assert.ok(
    sim.stats.resyncOperations.every(
      (o) => o.method === 'GET' && o.path === 'synchronize_async' && o.query === 'fullSync=true',
    ),
  );
  assert.equal(sim.stats.staleTokenRefusals, 0);
  assert.equal(result.stderr, '');
});

test('under cron a successful run prints nothing at all, and the log has start, instance and summary lines', async () => {
  const { w, run } = await setup({ instances: 2, tenantsPerInstance: 5 });
  const result = await run(['sync']);
  assert.deepEqual(
    { code: result.code, stdout: result.stdout, stderr: result.stderr },
    { code: 0, stdout: '', stderr: '' },
  );
  const messages = w.log().map((l) => l.msg);
  assert.equal(messages[0], 'pass started');
  assert.equal(messages.filter((m) => m === 'instance finished').length, 2);
  assert.equal(messages.at(-1), 'pass finished');
  assert.equal(w.log().at(-1)!.synced, 10);
});

test('the token is renewed every TOKEN_REFRESH_EVERY tenants', async () => {
  const { sim, run } = await setup(
    { instances: 2, tenantsPerInstance: [45, 20], pageCap: 9 },
    { TOKEN_REFRESH_EVERY: '10', SYNC_CONCURRENCY: '4' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sim.stats.tokensIssuedByInstance.get(1001), 5);
  assert.equal(sim.stats.tokensIssuedByInstance.get(1002), 2);
  assert.equal(summaryOf(result).tokenRefreshes, 5);
  assertEachReadyTenantOnce(sim);
});

test('the token is renewed by age before the controller would refuse it', async () => {
  // Tokens die after 1.2 s; the tool renews at 0.5 s; the pass takes a few seconds.
  const { sim, run } = await setup(
    { instances: 1, tenantsPerInstance: 120, latencyMs: 25, tokenLifetimeMs: 1200 },
    { APS_TOKEN_MAX_AGE: '0.5', SYNC_CONCURRENCY: '2' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sim.stats.staleTokenRefusals, 0);
  assert.ok(sim.stats.tokensIssued >= 3, `tokens issued ${sim.stats.tokensIssued}`);
  assert.ok(sim.stats.maxTokenAgeUsedMs < 1200, `oldest token used ${sim.stats.maxTokenAgeUsedMs} ms`);
  assertEachReadyTenantOnce(sim);
});

test('"Authentication failed." renews the token and the pass finishes', async () => {
  // The controller's tokens live 0.4 s, far less than the 25 minutes the tool assumes.
  const { sim, run } = await setup(
    { instances: 2, tenantsPerInstance: 60, latencyMs: 20, tokenLifetimeMs: 400 },
    { SYNC_CONCURRENCY: '3' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  const s = summaryOf(result);
  assert.equal(s.synced, 120);
  assert.ok(sim.stats.staleTokenRefusals > 0, 'the controller should have refused some stale tokens');
  assert.ok((s.tokenRefreshes as number) > 0);
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, t.id);
});

test('a sync report with failed objects fails that tenant, logs the objects, and the pass goes on (exit 1)', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 8 }, { APS_RESYNC_OPERATION: 'synchronize' });
  const bad = sim.readyTenants()[3]!;
  sim.setFault(bad.id, 'reportFailure');
  const result = await run();
  assert.equal(result.code, 1);
  const s = summaryOf(result);
  assert.deepEqual({ synced: s.synced, failed: s.failed }, { synced: 7, failed: 1 });
  assert.match(result.stderr, /^o365-backsync: 1 of 8 tenants failed; details in .*o365-backsync\.log\n$/);
  const line = w.log().find((l) => l.msg === 'tenant failed')!;
  assert.equal(line.tenantId, bad.id);
  assert.match(String(line.error), /License assignment failed: no licenses available/);
  assert.deepEqual(line.failedObjects, [
    {
      objectName: `user@${bad.subdomain}.onmicrosoft.com`,
      comment: 'License assignment failed: no licenses available',
    },
  ]);
  assert.ok(sim.stats.resyncOperations.every((o) => o.path === 'synchronize'));
});

test('a tenant removed after the listing (404) is skipped, not failed', async () => {
  const { sim, run } = await setup({ instances: 1, tenantsPerInstance: 6 });
  sim.setFault(sim.readyTenants()[2]!.id, 'notFound');
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual((({ synced, failed, skipped }) => ({ synced, failed, skipped }))(summaryOf(result)), {
    synced: 5,
    failed: 0,
    skipped: 1,
  });
});

test('a dry run reads everything and sends no resync', async () => {
  const { sim, w, run } = await setup({ instances: 2, tenantsPerInstance: 15, pageCap: 4, provisioningEvery: 5 });
  const result = await run(['sync', '--json', '--dry-run']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sim.stats.resyncOperations.length, 0);
  assert.equal(
    sim.stats.listRequests,
    8,
    'two instances of 12 ready tenants, pages of 4 that overlap by the last tenant seen: 0, 3, 6, 9',
  );
  assert.ok(sim.stats.tokensIssued >= 2);
  const s = summaryOf(result);
  assert.equal(s.dryRun, true);
  assert.equal(s.planned, sim.readyTenants().length);
  assert.equal(w.log().filter((l) => l.msg === 'dry run: would resync tenant').length, sim.readyTenants().length);
  const byId = (a: { tenantId: string }, b: { tenantId: string }): number => a.tenantId.localeCompare(b.tenantId);
  assert.deepEqual(
    [...(s.wouldResync as { instanceId: number; tenantId: string }[])].sort(byId),
    sim
      .readyTenants()
      .map((t) => ({ instanceId: t.instanceId, tenantId: t.id }))
      .sort(byId),
    '--json lists each tenant it would resync',
  );
});

test("an unknown application ID exits 3 with OA's own message and the fix check names", async () => {
  const { sim, run } = await setup({ appId: 41 }, { OFFICE_APP_ID: '999' });
  const result = await run();
  assert.equal(result.code, 3);
  assert.equal(result.stdout, '');
  assert.match(
    result.stderr,
    /^o365-backsync: .*Application with ID 999 is not found\..*; fix: OFFICE_APP_ID must be the Office 365 application's ID in OA \(not an instance ID\)\n$/,
  );
  assert.equal(sim.stats.resyncOperations.length, 0);
});

test('missing or malformed settings exit 2 with one line naming the variable, before any network call', async () => {
  const { sim, w, env } = await setup({});
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ OA_HOST: '' }, ['sync'], /^o365-backsync: OA_HOST: is required but not set/],
    [
      { OFFICE_APP_ID: 'forty-one' },
      ['sync'],
      /^o365-backsync: OFFICE_APP_ID: must be a positive whole number, got 'forty-one'/,
    ],
    [{ OA_PORT: '99999' }, ['sync'], /^o365-backsync: OA_PORT: must be a TCP port/],
    [
      { APS_TOKEN_MAX_AGE: '-5' },
      ['sync'],
      /^o365-backsync: APS_TOKEN_MAX_AGE: must be a positive decimal number, got '-5'/,
    ],
    [
      {},
      ['sync', '--concurrency', '0'],
      /^o365-backsync: SYNC_CONCURRENCY \(--concurrency\): must be a positive whole number, got '0'/,
    ],
    [
      { APS_CA_FILE: '/nonexistent/ca.pem' },
      ['sync'],
      /^o365-backsync: APS_CA_FILE: cannot read '\/nonexistent\/ca.pem': ENOENT/,
    ],
    [
      {},
      ['sync', '--env-file', '/nonexistent.env'],
      /^o365-backsync: --env-file: cannot read '\/nonexistent.env': ENOENT/,
    ],
    [{}, ['sync', '--no-such-flag'], /unknown option '--no-such-flag'/],
  ];
  for (const [extra, args, pattern] of cases) {
    const result = await runCli(args, { ...env, ...extra }, w.cwd);
    assert.equal(result.code, 2, `${JSON.stringify(extra)} ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(sim.stats.oaCalls.length, 0);
  assert.equal(sim.stats.requests, 0);
});

test('settings come from the env file, the environment wins over it, and flags win over both', async () => {
  const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 30, latencyMs: 10 });
  const { writeFileSync } = await import('node:fs');
  const file = `${w.cwd}/.env`;
  writeFileSync(
    file,
    Object.entries({ ...env, SYNC_CONCURRENCY: '1', TOKEN_REFRESH_EVERY: '1000' })
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    { mode: 0o600 },
  );
  const result = await runCli(['sync', '--json', '--concurrency', '6'], { TOKEN_REFRESH_EVERY: '7' }, w.cwd);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sim.stats.tokensIssuedByInstance.get(1001), 5, 'TOKEN_REFRESH_EVERY=7 from the environment');
  assert.ok(sim.stats.peakInFlight > 1, `--concurrency 6 should beat the file's 1 (peak ${sim.stats.peakInFlight})`);
});
