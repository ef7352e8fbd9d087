import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EmptyPageRange } from '../sim';
import { simulatorSetup, summaryOf } from './harness';

/** The tenant listing of a real, changing controller: sorted walk, empty pages, 206. */
const setup = simulatorSetup();

test('tenants removed and added mid-pass: each one present throughout is resynced exactly once, removed ones met are skipped', async () => {
  const { sim, run } = await setup(
    {
      instances: 2,
      tenantsPerInstance: 1500,
      pageCap: 100,
      churn: { afterResyncs: 900, removeFraction: 0.1, addPerInstance: 50 },
    },
    { APS_PAGE_SIZE: '100', SYNC_CONCURRENCY: '4' },
  );
  const before = sim.readyTenants().map((t) => t.id);
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  const churned = sim.stats.churned;
  assert.ok(churned, 'the churn happened');
  const removed = new Set(churned.removed.map((t) => t.id));
  assert.deepEqual([removed.size, churned.added.length], [300, 100]);

  const { resyncCalls, resyncSucceeded } = sim.stats;
  const throughout = before.filter((id) => !removed.has(id));
  assert.equal(throughout.length, 2700);
  const missed = throughout.filter((id) => resyncSucceeded.get(id) !== 1);
  assert.deepEqual(missed, [], 'every tenant present throughout resynced once');
  for (const [id, calls] of resyncCalls) assert.equal(calls, 1, `tenant ${id} resynced ${calls} times`);

  // The scenario is the one that made plain offset paging skip tenants: removals behind the cursor.
  const removedAlreadyDone = [...removed].filter((id) => resyncSucceeded.has(id));
  assert.ok(removedAlreadyDone.length > 0, 'some removed tenants were behind the cursor');
  const removedMet = [...removed].filter((id) => resyncCalls.has(id) && !resyncSucceeded.has(id));
  assert.ok(removedMet.length >= 1, 'the tenant whose resync set the churn off answered 404');
  const s = summaryOf(result);
  assert.deepEqual([s.skipped, s.failed, s.synced], [removedMet.length, 0, resyncSucceeded.size]);

  // Added tenants: the second instance had not been started, so all of its are resynced; in the first,
  // those added behind the cursor wait for the next pass.
  const addedDone = (instanceId: number) =>
    churned.added.filter((t) => t.instanceId === instanceId && resyncSucceeded.has(t.id)).length;
  assert.equal(addedDone(1002), 50);
  const first = addedDone(1001);
  assert.ok(first > 0 && first < 50, `${first} of the 50 added to instance 1001 resynced`);
});

test('an instance with no ready tenant passes whatever Content-Range its empty page carries', async () => {
  const forms: EmptyPageRange[] = ['star', 'minusOne', 'none'];
  for (const emptyPageRange of forms) {
    const { sim, run } = await setup({
      instances: 3,
      tenantsPerInstance: [0, 4, 3],
      provisioningEvery: 3,
      emptyPageRange,
    });
    const result = await run();
    assert.equal(result.code, 0, `${emptyPageRange}: ${result.stderr}`);
    assert.equal(result.stderr, '', emptyPageRange);
    const s = summaryOf(result);
    assert.deepEqual([s.instances, s.synced, s.failed], [3, 5, 0], emptyPageRange);
    assert.equal(sim.stats.resyncSucceeded.size, 5);
    const check = await run(['check']);
    assert.equal(check.code, 0, `${emptyPageRange}: ${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /^warn instance 1001: 0 ready tenants of the tenant types found/m, emptyPageRange);
  }
});

test('listing pages answered 206 Partial Content are pages like any other', async () => {
  const { sim, run } = await setup(
    { instances: 2, tenantsPerInstance: [30, 11], pageCap: 7, partialContent: true },
    { APS_PAGE_SIZE: '10' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(summaryOf(result).synced, 41);
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncCalls.get(t.id), 1, t.id);
});

test('the next page is asked for while the last tenants of the current one are resynced, not after', async () => {
  // One worker, so the order is plain: with SYNC_CONCURRENCY 1 the next page is asked for 4 tenants
  // (4 x the concurrency) before the current one runs out.
  const { sim, w, run } = await setup(
    { instances: 1, tenantsPerInstance: 40, latencyMs: 20 },
    { APS_PAGE_SIZE: '20', SYNC_CONCURRENCY: '1' },
  );
  const path = join(w.cwd, 'run.har');
  const result = await run(['sync', '--trace', path]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(sim.stats.resyncSucceeded.size, 40);
  const entries = (
    JSON.parse(readFileSync(path, 'utf8')) as {
      log: { entries: { request: { url: string }; startedDateTime: string }[] };
    }
  ).log.entries;
  const startOf = (e: (typeof entries)[number]) => Date.parse(e.startedDateTime);
  const pages = entries
    .filter((e) => /\/aps\/2\/resources\?/.test(e.request.url))
    .sort((a, b) => startOf(a) - startOf(b));
  assert.ok(pages.length >= 2, `${pages.length} listing requests`);
  const resyncsBefore = entries.filter(
    (e) => e.request.url.includes('/synchronize_async') && startOf(e) < startOf(pages[1]!),
  ).length;
  // The first page's 20th tenant is resynced about 3 round trips after the second page was asked for.
  assert.ok(
    resyncsBefore >= 16 && resyncsBefore < 20,
    `${resyncsBefore} resyncs had started when the second page was asked for`,
  );
});
