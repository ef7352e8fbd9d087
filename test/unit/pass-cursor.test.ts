import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InstanceCursor } from '../../src/runtime/pass-cursor';
import { parseJournal } from '../../src/runtime/pass-journal';
import { type JournalLine, PassRecord } from '../../src/runtime/pass-record';
import { runPass, type PassOptions } from '../../src/sync/pass';
import type { InstanceDirectory, ListingOptions, TenantController } from '../../src/sync/ports';
import { passStateFiles } from '../pass-files';

/** The cursor and the record are plain memory; a pass resumed from its state files is tested here too. */

const ids = (n: number, prefix = 't'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);

test('tenants done out of order: the cursor stops at the first one still open, and those done beyond it are kept', () => {
  const cursor = new InstanceCursor();
  for (const id of ['a', 'b', 'c', 'd', 'e'])
    assert.deepEqual(cursor.handOut(id), { alreadyDone: false, moved: false });
  assert.equal(cursor.done('c'), false);
  assert.equal(cursor.done('e'), false);
  assert.equal(cursor.done('a'), true);
  assert.deepEqual(cursor.state(), { through: 'a', near: 0, beyond: ['c', 'e'] });
  assert.equal(cursor.done('b'), true);
  assert.deepEqual(cursor.state(), { through: 'c', near: 2, beyond: ['e'] });
  assert.equal(cursor.done('zz'), false, 'a tenant never handed out moves nothing');
  assert.equal(cursor.done('d'), true);
  assert.deepEqual(cursor.state(), { through: 'e', near: 4, beyond: [] });
});

test('a resumed cursor starts after its id and passes over the tenants done beyond it; those removed meanwhile are forgotten', () => {
  const cursor = new InstanceCursor({ through: 'b', near: 1, beyond: ['d', 'f', 'a'] });
  assert.deepEqual(cursor.resumePoint(), { id: 'b', near: 1 });
  assert.deepEqual(cursor.state(), { through: 'b', near: 1, beyond: ['d', 'f'] }, "'a' is behind the cursor");
  assert.deepEqual(cursor.handOut('c'), { alreadyDone: false, moved: false });
  // 'd' was removed from the installation: handing out 'e' passes it.
  assert.deepEqual(cursor.handOut('e'), { alreadyDone: false, moved: false });
  assert.deepEqual(cursor.handOut('f'), { alreadyDone: true, moved: false });
  assert.deepEqual(cursor.state(), { through: 'b', near: 1, beyond: ['f'] });
  cursor.done('c');
  assert.equal(cursor.done('e'), true);
  assert.deepEqual(cursor.state(), { through: 'f', near: 4, beyond: [] });
  assert.deepEqual(
    cursor.handOut('b'),
    { alreadyDone: true, moved: false },
    'a listing that meets the cursor again is told it is done',
  );
});

test('the cursor holds only what is open: 100,000 tenants through 16 workers finishing out of order', () => {
  const cursor = new InstanceCursor();
  const all = ids(100_000);
  // Tenant n takes (n * 7) % 16 + 1 steps: a later one often finishes before an earlier one.
  const finishing = new Map<number, string[]>();
  let largest = 0;
  for (const [n, id] of all.entries()) {
    cursor.handOut(id);
    const at = n + ((n * 7) % 16) + 1;
    finishing.set(at, [...(finishing.get(at) ?? []), id]);
    for (const done of finishing.get(n) ?? []) cursor.done(done);
    finishing.delete(n);
    largest = Math.max(largest, cursor.state().beyond.length);
  }
  for (const id of [...finishing.values()].flat()) cursor.done(id);
  assert.ok(largest > 0 && largest < 16, `at most ${largest} done beyond the cursor`);
  assert.deepEqual(cursor.state(), { through: all[all.length - 1], near: all.length - 1, beyond: [] });
});

test('a journal read back: cursor lines, tenants done beyond, a damaged line, instances apart', () => {
  const record = new PassRecord();
  const lines: JournalLine[] = [];
  const handOut = (i: number, t: string) => {
    const { line } = record.handOut(i, t);
    if (line) lines.push(line);
  };
  for (const id of ['a', 'b', 'c']) handOut(1, id);
  handOut(2, 'a');
  lines.push(record.done(1, 'c', { outcome: 'failed', message: 'no', lastSync: 5 }));
  lines.push(record.done(1, 'a', { outcome: 'synced' }));
  lines.push(record.done(2, 'a', { outcome: 'busy' }));
  const text = [
    JSON.stringify({ v: 3, s: new PassRecord().snapshot() }),
    ...lines.map((l) => JSON.stringify(l)),
    '{"i":1,"t":"b","o":"syn',
  ].join('\n');
  const warnings: string[] = [];
  const read = parseJournal(text, 'journal.ndjson', (w) => warnings.push(w));
  assert.deepEqual(warnings, ['1 damaged line(s) in journal.ndjson ignored; those tenants will be resynced']);
  assert.deepEqual(read.snapshot(), record.snapshot());
  assert.deepEqual(read.cursor(1).state(), { through: 'a', near: 0, beyond: ['c'] });
  assert.deepEqual(read.cursor(2).state(), { through: 'a', near: 0, beyond: [] });
  assert.deepEqual(read.failures, [{ instanceId: 1, tenantId: 'c', error: 'no' }]);
  assert.equal(read.counts().lastSyncFailed, 1);
});

test('a journal whose snapshot is damaged is read as empty, with a warning, never a crash', () => {
  for (const first of [
    '{"v":3,"s":{"counts":{}}}',
    '{"v":3,"s":{"counts":{"tenants":1,"synced":1,"failed":0,"skipped":0,"busy":0,"lastSyncFailed":0},"failures":[],"failuresOmitted":0,"lastSyncFailures":[],"lastSyncFailuresOmitted":0,"retries":[],"cursors":{"1":{"beyond":7}}}}',
    '{"v":3,',
  ]) {
    const warnings: string[] = [];
    const read = parseJournal(`${first}\n{"i":1,"t":"a","o":"synced","c":"a","n":0}\n`, 'journal.ndjson', (w) =>
      warnings.push(w),
    );
    assert.deepEqual([read.counts().tenants, read.cursor(1).resumePoint()], [0, undefined], first);
    assert.equal(warnings.length, 1, first);
    assert.match(warnings[0]!, /^journal\.ndjson is damaged \(.+\); the pass's tenants will be resynced$/, first);
  }
});

/** An in-memory controller whose listing walks sorted ids after the resume point, as the APS walk does. */
function world(tenants: Record<number, string[]>, stopAfter?: { count: number; stop: AbortController }) {
  const resyncs: string[] = [];
  const directory: InstanceDirectory = {
    listInstances: async () => Object.keys(tenants).map((id) => ({ id: Number(id), resourceId: `r-${id}` })),
    issueToken: async () => ({ token: 'tok' }),
  };
  const controllerFor = (instance: { id: number }): TenantController => ({
    async *listTenants({ authorized, after }: ListingOptions) {
      for (const id of tenants[instance.id]!.filter((t) => after === undefined || t > after.id))
        yield await authorized(async () => ({ id }));
    },
    resync: (tenantId, authorized) =>
      authorized(async () => {
        resyncs.push(`${instance.id}/${tenantId}`);
        if (stopAfter && resyncs.length === stopAfter.count) stopAfter.stop.abort();
        // Later tenants finish first now and then, so completions come out of order.
        await new Promise((r) => setTimeout(r, tenantId.endsWith('3') ? 5 : 1));
        return { outcome: 'synced' as const };
      }),
  });
  return { directory, controllerFor, resyncs };
}

const options: PassOptions = {
  appId: 41,
  concurrency: 4,
  dryRun: false,
  tokenRefreshEvery: 1000,
  tokenMaxAgeMs: 60_000,
  maxConsecutiveFailures: 5,
};

test('a pass stopped mid-instance resumes after its cursor: every tenant of every instance resynced exactly once', async () => {
  const tenants = { 1: ids(40, 'a'), 2: ids(30, 'b') };
  const stop = new AbortController();
  const first = world(tenants, { count: 52, stop });
  const files = passStateFiles();
  const journal = files.open();
  const interrupted = await runPass(options, { ...first, journal, stop: stop.signal });
  assert.equal(interrupted.interruptedBy, 'signal');
  journal.suspend();

  // The next run knows only what the journal file says.
  const resumedJournal = files.open();
  assert.equal(resumedJournal.resumed, true);
  assert.equal(resumedJournal.resumePoint(1)?.id, tenants[1][39]);
  const second = world(tenants);
  const resumed = await runPass(options, { ...second, journal: resumedJournal });
  assert.equal(resumed.interruptedBy, undefined);
  const all = [...first.resyncs, ...second.resyncs].sort();
  assert.deepEqual(all, [...tenants[1].map((t) => `1/${t}`), ...tenants[2].map((t) => `2/${t}`)]);
  assert.equal(resumedJournal.finish({ instances: 2, tokenRefreshes: 0, complete: true, invalid: 0 }).synced, 70);
});
