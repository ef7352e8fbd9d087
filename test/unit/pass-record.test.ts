import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RECORDED_FAILURES, PassRecord } from '../../src/runtime/pass-record';

/** The pass record is plain memory: what a pass has done, counted, and the pass it finishes as. */

test('failures and failed last syncs beyond the kept number are counted as omitted; the counts stay exact', () => {
  const record = new PassRecord();
  for (let n = 0; n < MAX_RECORDED_FAILURES + 2; n++) record.add(1, `t${n}`, 'failed', `no ${n}`, n);
  record.add(1, 'u', 'busy');
  assert.equal(record.failures.length, MAX_RECORDED_FAILURES);
  assert.deepEqual(
    [record.failuresOmitted, record.lastSyncFailures.length, record.lastSyncFailuresOmitted],
    [2, MAX_RECORDED_FAILURES, 2],
  );
  assert.deepEqual(record.counts(), {
    tenants: MAX_RECORDED_FAILURES + 3,
    synced: 0,
    failed: MAX_RECORDED_FAILURES + 2,
    skipped: 0,
    planned: 0,
    busy: 1,
    lastSyncFailed: MAX_RECORDED_FAILURES + 2,
    alreadyDone: 0,
  });
});

test("a record survives its snapshot whole: counts, kept failures, and each instance's cursor", () => {
  const record = new PassRecord();
  record.add(1, 'a', 'failed', 'no', 7);
  record.add(2, 'b', 'skipped');
  record.cursor(1).handOut('a');
  record.cursor(1).handOut('b');
  record.cursor(1).done('b');
  const copy = new PassRecord(JSON.parse(JSON.stringify(record.snapshot())));
  assert.deepEqual(copy.snapshot(), record.snapshot());
  assert.deepEqual(copy.counts(), record.counts());
  assert.deepEqual(copy.cursor(1).state(), { beyond: ['b'] });
});

test('the finished pass: its counts, working time and failures; the last complete pass carried over when this one is not', () => {
  const record = new PassRecord();
  record.add(1001, 'a', 'synced');
  record.add(1002, 'b', 'failed', 'rejected');
  const ending = { instances: 2, tokenRefreshes: 3, complete: false, invalid: 0 };
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
    invalid: 0,
    startedAt: '2026-11-27T06:00:00.000Z',
    finishedAt: '2026-11-27T07:00:00.000Z',
    durationMs: 60_000,
    failures: [{ instanceId: 1002, tenantId: 'b', error: 'rejected' }],
    failuresOmitted: 0,
    lastSyncFailures: [],
    lastSyncFailuresOmitted: 0,
    lastCompleteAt: '2026-11-26T06:00:00.000Z',
  });
  assert.equal(
    record.finished('x', 1, { ...ending, complete: true }, now, undefined).lastCompleteAt,
    '2026-11-27T07:00:00.000Z',
  );
  assert.equal('lastCompleteAt' in record.finished('x', 1, ending, now, undefined), false);
});
