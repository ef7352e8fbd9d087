import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertEachReadyTenantOnce, simulatorSetup, summaryOf, until } from './harness';

/**
 * The tenant type found, not guessed: with APS_TENANT_TYPE unset the CLI reads the controller's types
 * library and walks every Office 365 tenant type version it holds; set, it walks that one and says
 * so when it finds nothing the controller holds.
 */
const setup = simulatorSetup();

const V20 = 'http://www.parallels.com/Office365/Tenant/2.0';
const V28 = 'http://www.parallels.com/Office365/Tenant/2.8';

test('default settings, instances on 2.0 and 2.8: every tenant of both resynced exactly once', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantType: [V20, V28], tenantsPerInstance: [9, 12], pageCap: 4, provisioningEvery: 5 },
    { APS_PAGE_SIZE: '5' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  const s = summaryOf(result);
  assert.deepEqual([s.tenants, s.synced, s.complete], [sim.readyTenants().length, sim.readyTenants().length, true]);
  assertEachReadyTenantOnce(sim);
  const told = w.log().filter((l) => l.msg === 'tenant types');
  assert.deepEqual(
    told.map((l) => [l.instanceId, l.source, l.listed, l.found]),
    [
      [1001, 'library', [V20, V28], [V20, V28]],
      [1002, 'library', [V20, V28], [V20, V28]],
    ],
  );
  assert.equal(sim.stats.tokensIssued, 2, 'reading the types library costs no token');
});

test('2.8 implements 2.0: only 2.0 is named, and no tenant is listed twice', async () => {
  const { sim, w, run } = await setup(
    {
      instances: 2,
      tenantType: [V20, V28],
      typeImplements: { [V28]: [V20] },
      tenantsPerInstance: [6, 7],
      pageCap: 3,
    },
    { APS_PAGE_SIZE: '4' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(summaryOf(result).synced, 13);
  assertEachReadyTenantOnce(sim);
  assert.deepEqual(
    w
      .log()
      .filter((l) => l.msg === 'tenant types')
      .map((l) => [l.listed, l.found]),
    [
      [[V20], [V20, V28]],
      [[V20], [V20, V28]],
    ],
  );
});

test('a pass stopped mid-instance and resumed after an upgrade moved its 2.0 tenants to 2.8: every tenant once', async () => {
  // One instance holds tenants of both versions, so its one listing interleaves them in id order.
  const { sim, w, start, run } = await setup(
    { instances: 1, tenantsPerInstance: 120, mixedTenantType: { type: V28, every: 3 } },
    { SYNC_CONCURRENCY: '2', APS_PAGE_SIZE: '10' },
  );
  const release = sim.holdResyncs(40);
  const first = start();
  await until(() => sim.stats.resyncSucceeded.size >= 40);
  first.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  assert.equal((await first.done).code, 143);
  const doneBefore = sim.stats.resyncSucceeded.size;
  assert.ok(doneBefore >= 40 && doneBefore < 120, `${doneBefore} tenants done before the stop`);

  // The upgrade reaches every tenant still on 2.0, done or not: each keeps its id, its type is now 2.8.
  for (const t of sim.readyTenants()) if (t.type === V20) sim.upgradeTenant(t.id, V28);
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.ok(w.log().some((l) => l.msg === 'pass resumed'));
  assertEachReadyTenantOnce(sim);
  const s = summaryOf(second);
  assert.equal(Number(s.synced) + Number(s.alreadyDone), 120);
});

test('an explicit APS_TENANT_TYPE that finds no tenant anywhere: exit 1, naming the setting and the versions found', async () => {
  const V25 = 'http://www.parallels.com/Office365/Tenant/2.5';
  const { sim, run } = await setup({ instances: 2, tenantType: [V20, V28], tenantsPerInstance: 3 });
  const result = await run(['sync', '--json'], { APS_TENANT_TYPE: V25 });
  assert.equal(result.code, 1, result.stderr);
  const s = summaryOf(result);
  assert.deepEqual([s.tenants, s.complete, s.tenantTypeUnmatched], [0, false, { setting: V25, found: [V20, V28] }]);
  assert.equal(
    result.stderr,
    `o365-backsync: APS_TENANT_TYPE (${V25}) finds no tenant in any instance, while the controller's types library holds ${V20}, ${V28}: unset APS_TENANT_TYPE to walk every tenant type found, or set it to one of those\n`,
  );
  assert.equal(sim.stats.resyncOperations.length, 0);

  // Set to a type that finds tenants in one instance only: that instance is resynced, and all is well.
  const one = await run(['sync', '--json', '--force'], { APS_TENANT_TYPE: V28 });
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual([summaryOf(one).synced, summaryOf(one).tenantTypeUnmatched], [3, undefined]);
});

test('the types library refused or absent: the pass walks the default type, with a warning that names APS_TENANT_TYPE', async () => {
  for (const answer of [403, 401, 404] as const) {
    const { sim, w, run } = await setup({ instances: 2, tenantsPerInstance: 4, typesLibrary: answer });
    const result = await run();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(summaryOf(result).synced, 8, String(answer));
    assertEachReadyTenantOnce(sim);
    const warnings = w.log().filter((l) => l.level === 40);
    assert.deepEqual(
      warnings.map((l) => [l.instanceId, l.listed]),
      [
        [1001, [V20]],
        [1002, [V20]],
      ],
      String(answer),
    );
    assert.match(
      String(warnings[0]!.msg),
      new RegExp(
        `^the types library could not tell the tenant types \\(APS controller answered ${answer} .*\\): walking ${V20}; set APS_TENANT_TYPE to this installation's tenant type$`,
      ),
    );
    assert.equal(sim.stats.tokensIssued, 2, `${answer}: a refused library is not a refused token: no renewal`);
  }
});

test('check prints the tenant types found and the ready tenants of each', async () => {
  const { sim, run } = await setup({ instances: 2, tenantType: [V20, V28], tenantsPerInstance: [5, 6] });
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.split('\n').filter((l) => l.includes('ready tenant'));
  assert.deepEqual(lines, [
    `ok   instance 1001: 5 ready tenants of the tenant types found, walked as ${V20}, ${V28}`,
    `ok   instance 1001: tenant types in the types library: ${V20}: 5 ready tenants, ${V28}: 0 ready tenants`,
    `ok   instance 1002: 6 ready tenants of the tenant types found, walked as ${V20}, ${V28}`,
    `ok   instance 1002: tenant types in the types library: ${V20}: 0 ready tenants, ${V28}: 6 ready tenants`,
  ]);
  assert.equal(sim.stats.resyncOperations.length, 0);

  const set = await run(['check'], { APS_TENANT_TYPE: V28 });
  assert.equal(set.code, 0, set.stdout);
  assert.match(
    set.stdout,
    new RegExp(
      `^warn instance 1001: 0 ready tenants of type ${V28}; if this instance has tenants, APS_TENANT_TYPE is probably wrong`,
      'm',
    ),
  );
  assert.match(
    set.stdout,
    new RegExp(`^ok {3}instance 1001: tenant types in the types library: ${V20}: 5 ready tenants, ${V28}: 0`, 'm'),
  );
  assert.match(
    set.stdout,
    new RegExp(`^ok {3}instance 1002: 6 ready tenants of type ${V28} \\(APS_TENANT_TYPE\\)$`, 'm'),
  );
});

test('check with the types library refused: a warning that names APS_TENANT_TYPE, and the default type counted', async () => {
  const { run } = await setup({ instances: 1, tenantsPerInstance: 3, typesLibrary: 403 });
  const result = await run(['check']);
  assert.equal(result.code, 0, result.stdout);
  assert.match(
    result.stdout,
    new RegExp(
      `^warn instance 1001: the types library could not tell the tenant types \\(APS controller answered 403 .*\\): sync walks ${V20}; set APS_TENANT_TYPE to this installation's tenant type$`,
      'm',
    ),
  );
  assert.match(result.stdout, new RegExp(`^ok {3}instance 1001: 3 ready tenants of type ${V20}$`, 'm'));
});
