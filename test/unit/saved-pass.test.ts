import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetworkError } from '../../src/errors';
import { parseJournal } from '../../src/runtime/pass-journal';
import { MAX_KEPT_RETRIES, PassRecord } from '../../src/runtime/pass-record';
import { runPass, type PassOptions } from '../../src/sync/pass';
import type { InstanceDirectory, ListingOptions, TenantController } from '../../src/sync/ports';
import { passStateFiles } from '../pass-files';

/**
 * The saved pass with a controller that fails some tenants itself (a timeout, a 503 after retries):
 * each is journaled at once and kept to retry, so the cursor moves past it and the journal stays small.
 */

const silence = (): NetworkError => new NetworkError('aps', 'http://controller', 'no answer within 300 ms');

test('a tenant the controller failed is kept to retry, not counted; its retry counts once; the pass end counts the rest failed', () => {
  const record = new PassRecord();
  for (const t of ['a', 'b', 'c', 'd']) record.handOut(1, t);
  const lines = [
    record.done(1, 'a', { outcome: 'synced' }),
    record.done(1, 'b', { outcome: 'failed', message: 'no answer', byController: true }),
    record.done(1, 'c', { outcome: 'failed', message: 'no answer', lastSync: 3, byController: true }),
    record.done(1, 'd', { outcome: 'failed', message: 'rejected' }),
  ];
  assert.deepEqual(record.cursor(1).state(), { through: 'd', near: 3, beyond: [] }, 'the cursor moved past them');
  assert.deepEqual(record.retriesOf(1), ['b', 'c']);
  assert.deepEqual(record.retriesOf(2), []);
  assert.deepEqual([record.counts().tenants, record.counts().failed], [2, 1]);
  assert.deepEqual(lines[1], { i: 1, t: 'b', o: 'failed', m: 'no answer', r: 1, c: 'b', n: 1 });

  const read = parseJournal(
    [JSON.stringify({ v: 3, s: new PassRecord().snapshot() }), ...lines.map((l) => JSON.stringify(l))].join('\n'),
    'journal.ndjson',
    assert.fail,
  );
  assert.deepEqual(read.snapshot(), record.snapshot(), 'the journal read back is the record');

  // A resumed run retries them: b answers; c fails again for the controller's reason, once is enough.
  read.done(1, 'b', { outcome: 'synced' });
  read.done(1, 'c', { outcome: 'failed', message: 'still no answer', lastSync: 3, byController: true });
  assert.deepEqual(read.retriesOf(1), []);
  assert.deepEqual(read.counts(), { ...record.counts(), tenants: 4, synced: 2, failed: 2, lastSyncFailed: 1 });

  const ending = { instances: 1, tokenRefreshes: 0, complete: true, invalid: 0 };
  const last = record.finished('2026-11-27T06:00:00.000Z', 1, ending, Date.parse('2026-11-27T07:00:00Z'), undefined);
  assert.deepEqual([last.tenants, last.failed, last.lastSyncFailed], [4, 3, 1], 'still kept at the end: failed');
  assert.deepEqual(
    last.failures.map((f) => f.tenantId),
    ['d', 'b', 'c'],
  );
});

test('beyond MAX_KEPT_RETRIES a tenant the controller failed is counted failed at once', () => {
  const record = new PassRecord();
  for (let n = 0; n <= MAX_KEPT_RETRIES; n++) {
    record.handOut(1, `t${String(n).padStart(5, '0')}`);
    record.done(1, `t${String(n).padStart(5, '0')}`, { outcome: 'failed', message: 'x', byController: true });
  }
  assert.equal(record.retriesOf(1).length, MAX_KEPT_RETRIES);
  assert.equal(record.counts().failed, 1);
});

const options: PassOptions = {
  appId: 41,
  concurrency: 8,
  dryRun: false,
  tokenRefreshEvery: 1_000_000,
  tokenMaxAgeMs: 3_600_000,
  maxConsecutiveFailures: 5,
};

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${String(i).padStart(7, '0')}`);

/** One instance whose listing walks `tenants` after the resume point; `silent` tenants never answer. */
function world(tenants: string[], silent: Set<string>, stopAfter?: { count: number; stop: AbortController }) {
  const resyncs = new Map<string, number>();
  let answered = 0;
  const directory: InstanceDirectory = {
    listInstances: async () => [{ id: 1, resourceId: 'r-1' }],
    issueToken: async () => ({ token: 'tok' }),
  };
  const controller: TenantController = {
    async *listTenants({ authorized, after, onTotal }: ListingOptions) {
      onTotal?.(tenants.length);
      let from = after === undefined ? 0 : tenants.findIndex((t) => t > after.id);
      if (from < 0) from = tenants.length;
      for (let page = from; page < tenants.length; page += 500)
        yield* await authorized(async () => tenants.slice(page, page + 500).map((id) => ({ id })));
    },
    resync: (tenantId, authorized) =>
      authorized(async () => {
        resyncs.set(tenantId, (resyncs.get(tenantId) ?? 0) + 1);
        if (silent.has(tenantId)) throw silence();
        if (stopAfter && ++answered === stopAfter.count) stopAfter.stop.abort();
        return { outcome: 'synced' as const };
      }),
  };
  return { directory, controllerFor: () => controller, resyncs };
}

test('200,000 tenants and one that never answers: STATE_DIR stays under 256 KiB, and that tenant is kept to retry', async () => {
  const tenants = ids(200_000);
  const files = passStateFiles();
  const pass = files.open();
  let peak = 0;
  let done = 0;
  const result = await runPass(options, {
    ...world(tenants, new Set([tenants[10]!])),
    journal: pass,
    events: {
      // Written out as the journal's timer would, every few hundred tenants, and measured each time.
      tenantDone: () => {
        if (++done % 250 !== 0) return;
        pass.flush();
        peak = Math.max(peak, files.size());
      },
    },
  });
  assert.deepEqual([result.synced, result.failed], [199_999, 1]);
  pass.flush();
  peak = Math.max(peak, files.size());
  console.log(`STATE_DIR peak during the pass: ${(peak / 1024).toFixed(1)} KiB`);
  assert.ok(peak < 256 * 1024, `STATE_DIR peaked at ${peak} bytes`);
  assert.deepEqual(pass.retries(1), [tenants[10]]);
  assert.deepEqual(pass.resumePoint(1), { id: tenants.at(-1), near: tenants.length - 1 });
  pass.suspend();
});

test('a pass killed after a tenant never answered: the resumed run retries it first, once, and every tenant is resynced exactly once', async () => {
  const tenants = ids(3000);
  const silent = tenants[100]!;
  const files = passStateFiles();
  const stop = new AbortController();
  const first = world(tenants, new Set([silent]), { count: 2000, stop });
  const pass1 = files.open();
  const interrupted = await runPass(options, { ...first, journal: pass1, stop: stop.signal });
  assert.equal(interrupted.interruptedBy, 'signal');
  pass1.suspend();
  assert.equal(first.resyncs.get(silent), 1);

  // It answers now. The resumed run asks for it before any other tenant, and only once.
  const second = world(tenants, new Set());
  const order: string[] = [];
  const pass2 = files.open();
  assert.deepEqual(pass2.retries(1), [silent]);
  const resumed = await runPass(options, {
    ...second,
    journal: pass2,
    events: { tenantDone: (_i, t) => order.push(t.id) },
  });
  assert.equal(resumed.interruptedBy, undefined);
  assert.equal(order[0], silent, 'retried at the start of its instance');
  assert.equal(second.resyncs.get(silent), 1);
  for (const t of tenants) {
    const succeeded = (t === silent ? 0 : (first.resyncs.get(t) ?? 0)) + (second.resyncs.get(t) ?? 0);
    assert.equal(succeeded, 1, `tenant ${t}`);
  }
  const last = pass2.finish({ instances: 1, tokenRefreshes: 0, complete: true, invalid: 0 });
  assert.deepEqual([last.tenants, last.synced, last.failed], [3000, 3000, 0]);
});
