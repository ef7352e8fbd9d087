import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, startCli, summaryOf, until, simulatorSetup } from './harness';

/**
 * The real CLI against a failing simulator: transient faults are ridden out, tenant faults are counted
 * exactly, and a controller that goes down stops the pass with state a second run resumes from.
 * Timeouts, retries and delays are kept tiny so every fault costs milliseconds.
 */
const FAST = { RETRY_MAX_DELAY_MS: '20', REQUEST_TIMEOUT_MS: '2000', CONNECT_TIMEOUT_MS: '2000' };

const setup = simulatorSetup(FAST);

const counts = (s: Record<string, unknown>) =>
  (({ tenants, synced, failed, skipped, alreadyDone }) => ({ tenants, synced, failed, skipped, alreadyDone }))(s);

test('one controller request in ten answered 503 with an HTML page: every ready tenant is synced once, exit 0', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: [40, 33], pageCap: 9, transient503Rate: 0.1, seed: 7 },
    { RETRIES: '6', SYNC_CONCURRENCY: '4', APS_PAGE_SIZE: '20' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const ready = sim.readyTenants();
  assert.deepEqual(counts(summaryOf(result)), { tenants: 73, synced: 73, failed: 0, skipped: 0, alreadyDone: 0 });
  for (const t of ready) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, t.id);
  const retried = [...sim.stats.resyncCalls.values()].filter((n) => n > 1).length;
  assert.ok(retried > 0, 'some resyncs should have met a 503 and been retried');
  assert.equal(w.log().filter((l) => l.msg === 'tenant failed').length, 0);
});

test('refused, deleted, hung and briefly unavailable tenants: the pass finishes with exact counts and exit 1', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: [12, 9], pageCap: 5 },
    { RETRIES: '1', REQUEST_TIMEOUT_MS: '300', SYNC_CONCURRENCY: '3' },
  );
  const [a, b] = sim.instances.map((i) => i.tenants);
  const refused = [a![1]!, b![4]!];
  const hung = a![6]!;
  const deleted = b![0]!;
  const flaky = [a![3]!, b![7]!];
  for (const t of refused) sim.setFault(t.id, 'fail500');
  sim.setFault(hung.id, 'hang');
  sim.setFault(deleted.id, 'notFound');
  for (const t of flaky) sim.setFault(t.id, 'transient503');

  const result = await run();
  assert.equal(result.code, 1, result.stderr);
  const s = summaryOf(result);
  assert.deepEqual(counts(s), { tenants: 21, synced: 17, failed: 3, skipped: 1, alreadyDone: 0 });
  assert.equal(s.complete, true);
  assert.match(result.stderr, /^o365-backsync: 3 of 21 tenants failed; details in .*o365-backsync\.log\n$/);

  const failed = new Map(
    w
      .log()
      .filter((l) => l.msg === 'tenant failed')
      .map((l) => [l.tenantId, String(l.error)]),
  );
  assert.deepEqual([...failed.keys()].sort(), [...refused.map((t) => t.id), hung.id].sort());
  for (const t of refused)
    assert.match(
      failed.get(t.id)!,
      new RegExp(
        `^APS controller answered 500 APS::Hosting::Exception: Office 365 rejected the request for tenant ${t.id}$`,
      ),
    );
  assert.match(failed.get(hung.id)!, /^APS controller at http:\/\/127\.0\.0\.1:\d+: no answer within 300 ms$/);
  assert.equal(sim.stats.resyncCalls.get(hung.id), 2, 'the hung request is tried RETRIES + 1 times, no more');
  assert.equal(sim.stats.resyncCalls.get(refused[0]!.id), 1, 'a 500 is not retried');
  for (const t of flaky) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1);

  // The record the next run paces from, and `status` shows, has the same numbers.
  const last = JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as Record<string, unknown> & {
    failures: { tenantId: string }[];
  };
  assert.deepEqual(counts(last), { tenants: 21, synced: 17, failed: 3, skipped: 1, alreadyDone: 0 });
  assert.deepEqual(last.failures.map((f) => f.tenantId).sort(), [...failed.keys()].sort());
  assert.equal(existsSync(join(w.stateDir, 'pass.json')), false, 'the pass is finished');
});

test('the controller goes down midway: exit 3 with its words, state kept; the next run resumes and completes', async () => {
  const { sim, w, env } = await setup(
    { instances: 2, tenantsPerInstance: [40, 40], pageCap: 10, latencyMs: 5 },
    { RETRIES: '1', SYNC_CONCURRENCY: '2', MAX_CONSECUTIVE_FAILURES: '4' },
  );
  const release = sim.holdResyncs(15);
  const first = startCli(['sync', '--json'], env, w.cwd);
  await until(() => sim.stats.resyncSucceeded.size >= 15);
  sim.setControllerDown(true);
  release();
  const down = await first.done;
  assert.equal(down.code, 3, down.stderr);
  // Whichever meets the outage first stops the pass: four resyncs in a row, or the next page of the listing.
  assert.match(
    down.stderr,
    /^o365-backsync: stopped (after 4 consecutive controller failures; last|at instance 1001): APS controller answered 503: 503 Service Temporarily Unavailable\n$/,
  );
  const s1 = summaryOf(down);
  assert.equal(s1.complete, false);
  assert.match(String(s1.interruptedBy), /503 Service Temporarily Unavailable/);
  assert.ok(existsSync(join(w.stateDir, 'pass.json')), 'pass.json is kept for the next run');
  // After the journal's opening snapshot, a line per tenant done.
  const journaled = readFileSync(join(w.stateDir, 'journal.ndjson'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(1)
    .map((l) => JSON.parse(l) as { o?: string; r?: number });
  assert.deepEqual(
    journaled.filter((l) => !l.r).map((l) => l.o),
    Array(s1.synced).fill('synced'),
    'every synced tenant is journaled as done, and no tenant failed by the outage',
  );
  assert.deepEqual(
    journaled.filter((l) => l.r).map((l) => l.o),
    Array(s1.failed).fill('failed'),
    'the tenants the outage failed are journaled to be retried',
  );
  const syncedBefore = new Set(sim.stats.resyncSucceeded.keys());
  assert.equal(syncedBefore.size, s1.synced);

  sim.setControllerDown(false);
  const again = await runCli(['sync', '--json'], env, w.cwd);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(w.log().some((l) => l.msg === 'pass resumed'));
  const s2 = summaryOf(again);
  assert.equal(s2.alreadyDone, syncedBefore.size);
  assert.deepEqual(counts(s2), {
    tenants: 80 - syncedBefore.size,
    synced: 80 - syncedBefore.size,
    failed: 0,
    skipped: 0,
    alreadyDone: syncedBefore.size,
  });
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, `${t.id} synced once`);
  // Only tenants whose resync met the outage were asked twice.
  const failedInOutage = new Set(
    w
      .log()
      .filter((l) => l.msg === 'tenant failed')
      .map((l) => l.tenantId),
  );
  for (const [tenant, calls] of sim.stats.resyncCalls) {
    if (calls > 1)
      assert.ok(failedInOutage.has(tenant), `${tenant} resynced ${calls} times without failing in the outage`);
  }
  assert.equal(existsSync(join(w.stateDir, 'pass.json')), false, 'the resumed pass finished');
});

test('the controller goes down between two instances: the pass stops at the one it cannot list, and the next run resumes there', async () => {
  // OA answers slowly, so the controller is down well before the second instance's listing goes out.
  const { sim, w, env } = await setup(
    { instances: 3, tenantsPerInstance: [6, 20, 20], oaLatencyMs: 400 },
    { RETRIES: '1', SYNC_CONCURRENCY: '2' },
  );
  const first = startCli(['sync', '--json'], env, w.cwd);
  await until(() => sim.stats.resyncSucceeded.size >= 6);
  sim.setControllerDown(true);
  const down = await first.done;
  assert.equal(down.code, 3, down.stderr);
  assert.equal(
    down.stderr,
    'o365-backsync: stopped at instance 1002: APS controller answered 503: 503 Service Temporarily Unavailable\n',
  );
  // Instance 1002 fails at its first request, the types library, tried twice; 1003 is not tried.
  assert.deepEqual(
    [sim.stats.listRequests, sim.stats.typesRequests],
    [1, 1 + 2],
    'instance 1003 is not tried against a controller known to be down',
  );
  assert.ok(existsSync(join(w.stateDir, 'pass.json')), 'pass.json is kept for the next run');

  sim.setControllerDown(false);
  const again = await runCli(['sync', '--json'], env, w.cwd);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(counts(summaryOf(again)), { tenants: 40, synced: 40, failed: 0, skipped: 0, alreadyDone: 6 });
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, t.id);
});
