import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_TENANT_TYPE } from '../sim';
import { sortsAfter } from '../sim/tenants';
import { simulatorSetup, summaryOf, until } from './harness';

/** Resume by cursor: a resumed pass walks on after the id up to which every tenant is done. */
const setup = simulatorSetup();

const byId = (a: string, b: string): number => (sortsAfter(a, b) ? 1 : -1);

test('SIGTERM mid-instance, then a resume over a changing installation: every tenant present throughout resynced exactly once', async () => {
  const { sim, w, start, run } = await setup(
    { instances: 2, tenantsPerInstance: 400, latencyMs: 10, seed: 7 },
    { SYNC_CONCURRENCY: '4', APS_PAGE_SIZE: '20' },
  );
  const release = sim.holdResyncs(250);
  const first = start();
  await until(() => sim.stats.resyncSucceeded.size >= 250);
  first.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  const stopped = await first.done;
  assert.equal(stopped.code, 143, stopped.stderr);
  const s1 = summaryOf(stopped);

  // The journal keeps a cursor and counts, not one line per tenant of the pass: its cursor line names
  // the first instance's cursor, and every tenant of that instance up to it was resynced.
  const lines = readFileSync(join(w.stateDir, 'journal.ndjson'), 'utf8').split('\n').filter(Boolean);
  assert.match(lines[0]!, /^\{"v":3,/);
  const cursor = lines
    .map((l) => JSON.parse(l) as { i?: number; c?: string })
    .filter((l) => l.i === 1001 && l.c)
    .at(-1)!.c!;
  const first1001 = sim.instances[0]!.tenants.map((t) => t.id).sort(byId);
  const upTo = first1001.filter((id) => !sortsAfter(id, cursor));
  for (const id of upTo) assert.equal(sim.stats.resyncCalls.get(id), 1, `tenant ${id} up to the cursor was resynced`);
  assert.ok(upTo.length >= 200 && upTo.length < 400, `cursor after ${upTo.length} tenants`);

  // Meanwhile tenants are removed behind the cursor and ahead of it, and added on both sides.
  const ahead = first1001.filter((id) => sortsAfter(id, cursor) && !sim.stats.resyncCalls.has(id));
  const removedAhead = ahead.filter((_, i) => i % 7 === 3);
  for (const id of [...upTo.filter((_, i) => i % 5 === 1), ...removedAhead]) sim.removeTenant(id);
  const added = Array.from({ length: 30 }, () => sim.addTenant(1001).id);
  const addedBehind = added.filter((id) => !sortsAfter(id, cursor));
  assert.ok(
    addedBehind.length > 0 && addedBehind.length < added.length,
    'tenants were added on both sides of the cursor',
  );
  const listRequests = sim.stats.listRequests;

  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  const s2 = summaryOf(second);
  assert.ok(w.log().some((l) => l.msg === 'pass resumed'));
  for (const t of sim.readyTenants()) {
    const expected = addedBehind.includes(t.id) ? 0 : 1;
    assert.equal(
      sim.stats.resyncCalls.get(t.id) ?? 0,
      expected,
      `tenant ${t.id}${expected ? '' : ', added behind the cursor, waits for the next pass'}`,
    );
  }
  for (const id of removedAhead)
    assert.equal(sim.stats.resyncCalls.has(id), false, `removed tenant ${id} was not called`);
  assert.equal(s2.alreadyDone, s1.synced);
  assert.equal(s2.failed, 0);
  // The resumed walk starts where the cursor was, not from the first page: the first instance's rest
  // and the whole second one, in pages of 20 with one tenant of overlap, and a few to re-find the place
  // (from the first page the walk would need some 10 more).
  const pages = Math.ceil((400 - upTo.length + 30) / 19) + Math.ceil(400 / 19);
  assert.ok(
    sim.stats.listRequests - listRequests <= pages + 4,
    `${sim.stats.listRequests - listRequests} listing requests, ${pages} pages`,
  );
});

test('a journal in an earlier format is damaged: a warning, and every tenant of the pass resynced once', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: 30 },
    { APS_TENANT_TYPE: DEFAULT_TENANT_TYPE },
  );
  const [one, two] = sim.instances.map((i) => i.tenants.map((t) => t.id));
  const done = [...one!.slice(0, 12), ...two!.slice(5, 9)];
  mkdirSync(w.stateDir, { recursive: true });
  writeFileSync(
    join(w.stateDir, 'pass.json'),
    JSON.stringify({
      version: 1,
      appId: sim.appId,
      tenantType: DEFAULT_TENANT_TYPE,
      startedAt: new Date().toISOString(),
      activeMs: 1000,
      runs: 1,
    }),
  );
  writeFileSync(
    join(w.stateDir, 'journal.ndjson'),
    done
      .map((t, n) =>
        JSON.stringify({
          i: one!.includes(t) ? 1001 : 1002,
          t,
          o: n === 3 ? 'failed' : 'synced',
          ...(n === 3 ? { m: 'no' } : {}),
        }),
      )
      .join('\n') + '\n',
  );
  const result = await run(['sync', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const summary = summaryOf(result);
  assert.ok(w.log().some((l) => l.level === 40 && /journal\.ndjson is damaged/.test(String(l.msg))));
  assert.ok(
    w.log().some((l) => l.msg === 'pass resumed'),
    'the pass itself is kept',
  );
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncCalls.get(t.id) ?? 0, 1, t.id);
  assert.deepEqual({ alreadyDone: summary.alreadyDone, synced: summary.synced }, { alreadyDone: 0, synced: 60 });
  const last = JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as {
    tenants: number;
    failed: number;
  };
  assert.deepEqual({ tenants: last.tenants, failed: last.failed }, { tenants: 60, failed: 0 });
});
