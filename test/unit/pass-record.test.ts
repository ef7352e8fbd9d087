import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RECORDED_FAILURES, PassRecord } from '../../src/runtime/pass-record';

/** The pass record is plain memory: what a pass has done, counted, and the pass it finishes as. */

test('a tenant failed and later done in the same pass is no longer listed as failed', () => {
  const record = new PassRecord();
  record.add(1, 'a', 'failed', 'boom');
  record.add(1, 'a', 'synced');
  record.add(1, 'b', 'skipped');
  assert.deepEqual(record.failures, []);
  assert.deepEqual(record.counts(), { tenants: 2, synced: 1, failed: 0, skipped: 1, planned: 0, busy: 0, lastSyncFailed: 0, alreadyDone: 0 });
});

test('failures beyond the kept number are counted as omitted, and forgetting one of them lowers the count', () => {
  const record = new PassRecord();
  for (let n = 0; n < MAX_RECORDED_FAILURES + 2; n++) record.add(1, `t${n}`, 'failed', `no ${n}`);
  assert.equal(record.failures.length, MAX_RECORDED_FAILURES);
  assert.equal(record.failuresOmitted, 2);
  record.add(1, `t${MAX_RECORDED_FAILURES + 1}`, 'synced');
  record.add(1, 't0', 'synced');
  assert.deepEqual({ kept: record.failures.length, omitted: record.failuresOmitted, first: record.failures[0]?.tenantId }, { kept: MAX_RECORDED_FAILURES - 1, omitted: 1, first: 't1' });
});

test('the finished pass: its counts, working time and failures; the last complete pass carried over when this one is not', () => {
  const record = new PassRecord();
  record.add(1001, 'a', 'synced');
  record.add(1002, 'b', 'failed', 'rejected');
  const ending = { instances: 2, tokenRefreshes: 3, complete: false };
  const now = Date.parse('2026-11-27T07:00:00Z');
  const partial = record.finished('2026-11-27T06:00:00.000Z', 60_000, ending, now, '2026-11-26T06:00:00.000Z');
  assert.deepEqual(partial, {
    tenants: 2,
    synced: 1,
    failed: 1,
    skipped: 0,
    planned: 0,
    busy: 0,
    lastSyncFailed: 0,
    alreadyDone: 0,
    instances: 2,
    tokenRefreshes: 3,
    complete: false,
    startedAt: '2026-11-27T06:00:00.000Z',
    finishedAt: '2026-11-27T07:00:00.000Z',
    durationMs: 60_000,
    failures: [{ instanceId: 1002, tenantId: 'b', error: 'rejected' }],
    failuresOmitted: 0,
    lastSyncFailures: [],
    lastSyncFailuresOmitted: 0,
    lastCompleteAt: '2026-11-26T06:00:00.000Z',
  });
  assert.equal(record.finished('x', 1, { ...ending, complete: true }, now, undefined).lastCompleteAt, '2026-11-27T07:00:00.000Z');
  assert.equal('lastCompleteAt' in record.finished('x', 1, ending, now, undefined), false);
});

test('a tenant whose failed last sync is later done without one is no longer counted in lastSyncFailed', () => {
  const record = new PassRecord();
  record.add(1, 'a', 'synced', undefined, 4);
  record.add(1, 'b', 'busy');
  assert.equal(record.counts().lastSyncFailed, 1);
  record.add(1, 'a', 'synced');
  assert.deepEqual({ ...record.counts(), tenants: undefined }, { tenants: undefined, synced: 1, failed: 0, skipped: 0, planned: 0, busy: 1, lastSyncFailed: 0, alreadyDone: 0 });
});
