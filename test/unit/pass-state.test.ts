import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  JOURNAL_FILE,
  LAST_PASS_FILE,
  PASS_FILE,
  PassStateStore,
  type PassHeader,
  type RunningPass,
} from '../../src/runtime/pass-state';
import { COMPACT_AFTER_BYTES } from '../../src/runtime/pass-journal';
import type { TenantOutcome } from '../../src/sync/counts';
import { manualClock } from '../clock';
import { scratchDir } from '../tmp';

/** These tests write to a healthy disk: a journal failure here is a failure of the test. */
const journalMustNotFail = (e: Error): never => {
  throw e;
};
/** The scrubber's place: these tests hold no secret. */
const asIs = (message: string): string => message;

const PASS_FOR = { appId: 41, tenantType: 'http://www.parallels.com/Office365/Tenant/2.0' };

/** The unfinished pass's header, which these tests expect to be there and whole. */
function headerOf(s: PassStateStore): PassHeader {
  const header = s.unfinished();
  assert.ok(header && header !== 'damaged', `unfinished: ${String(header)}`);
  return header;
}

/** A tenant the walk hands out and the pass then does, as the pass calls them. */
function done(
  pass: RunningPass,
  instanceId: number,
  tenantId: string,
  ...rest: [outcome: TenantOutcome, message?: string, lastSync?: number]
): void {
  assert.equal(pass.handOut(instanceId, tenantId), false, `${tenantId} was not done before`);
  const [outcome, message, lastSync] = rest;
  pass.recordDone(instanceId, tenantId, { outcome, message, lastSync });
}

/** What a resumed pass says of each tenant the walk hands out again, in order. */
const alreadyDone = (pass: RunningPass, instanceId: number, ids: string[]): boolean[] =>
  ids.map((id) => pass.handOut(instanceId, id));

function store() {
  const dir = scratchDir('obs-state-');
  const warnings: string[] = [];
  return { dir, warnings, store: new PassStateStore(dir, (m) => warnings.push(m)) };
}

test('a fresh pass journals completions; a resumed one knows them and counts them', () => {
  const { dir, store: s } = store();
  assert.equal(s.unfinished(), undefined);
  const clock1 = manualClock('2026-11-27T06:00:00Z');
  const first = s.open(PASS_FOR, clock1, undefined, asIs, journalMustNotFail);
  assert.equal(first.resumed, false);
  done(first, 1001, 'a', 'synced');
  done(first, 1001, 'b', 'failed', 'Office 365 rejected the request');
  done(first, 1002, 'c', 'skipped');
  clock1.workUntil('2026-11-27T06:00:10Z');
  first.suspend();
  assert.equal(statSync(join(dir, PASS_FILE)).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, JOURNAL_FILE)).mode & 0o777, 0o600);

  const header = headerOf(s);
  assert.deepEqual(
    { appId: header.appId, tenantType: header.tenantType, activeMs: header.activeMs, runs: header.runs },
    { ...PASS_FOR, activeMs: 10_000, runs: 1 },
  );
  const clock2 = manualClock('2026-11-27T07:00:00Z');
  const second = s.open(PASS_FOR, clock2, header, asIs, journalMustNotFail);
  assert.equal(second.resumed, true);
  assert.deepEqual(second.resumePoint(1001), { id: 'b', near: 1 });
  assert.deepEqual(alreadyDone(second, 1001, ['a', 'b']), [true, true]);
  assert.deepEqual(second.resumePoint(1002), { id: 'c', near: 0 });
  assert.deepEqual(alreadyDone(second, 1002, ['c']), [true], 'instances keep cursors of their own');
  assert.deepEqual(
    { ...second.prior },
    { tenants: 3, synced: 1, failed: 1, skipped: 1, planned: 0, busy: 0, lastSyncFailed: 0, alreadyDone: 0 },
  );
  done(second, 1002, 'd', 'synced');
  clock2.workUntil('2026-11-27T07:00:05Z');
  const last = second.finish({ instances: 2, tokenRefreshes: 0, complete: true, invalid: 0 });
  assert.equal(last.startedAt, '2026-11-27T06:00:00.000Z');
  assert.equal(last.durationMs, 15_000);
  assert.equal(last.synced, 2);
  assert.deepEqual(last.failures, [{ instanceId: 1001, tenantId: 'b', error: 'Office 365 rejected the request' }]);
  assert.equal(existsSync(join(dir, PASS_FILE)), false);
  assert.equal(existsSync(join(dir, JOURNAL_FILE)), false);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, LAST_PASS_FILE), 'utf8')), last);
  assert.deepEqual(s.lastPass(), last);
});

test('completions reach the disk by the journal timer, without a clean stop', async () => {
  const { dir, store: s } = store();
  const pass = s.open(PASS_FOR, manualClock(), undefined, asIs, journalMustNotFail);
  done(pass, 1001, 'a', 'synced');
  const written = () => /"t":"a"/.test(readFileSync(join(dir, JOURNAL_FILE), 'utf8'));
  assert.equal(written(), false);
  // The timer writes every 200 ms; however loaded the machine, the line comes with no stop or flush.
  for (let waited = 0; waited < 60_000 && !written(); waited += 50) await new Promise((r) => setTimeout(r, 50));
  assert.match(readFileSync(join(dir, JOURNAL_FILE), 'utf8'), /"t":"a"/);
  pass.suspend();
});

test('a damaged pass file reads as damaged and is left as it is; discard() removes it and its journal', () => {
  const { dir, store: s } = store();
  for (const text of [
    '{"version":1,"startedAt":',
    '{"version":1,"startedAt":"2026-11-27T06:00:00Z","activeMs":0,"runs":1}',
    '[]',
  ]) {
    writeFileSync(join(dir, PASS_FILE), text);
    assert.equal(s.unfinished(), 'damaged', text);
    assert.equal(readFileSync(join(dir, PASS_FILE), 'utf8'), text);
  }
  writeFileSync(join(dir, JOURNAL_FILE), '{"i":1,"t":"a","o":"synced"}\n');
  s.discard();
  assert.equal(existsSync(join(dir, PASS_FILE)), false);
  assert.equal(existsSync(join(dir, JOURNAL_FILE)), false);
});

test('a journal cut short by a kill loses only the damaged line', () => {
  const { dir, warnings, store: s } = store();
  const pass = s.open(PASS_FOR, manualClock(), undefined, asIs, journalMustNotFail);
  done(pass, 1, 'a', 'synced');
  done(pass, 1, 'b', 'synced');
  pass.suspend();
  appendFileSync(join(dir, JOURNAL_FILE), '{"i":1,"t":"c","o":"syn');
  const resumed = s.open(PASS_FOR, manualClock(), headerOf(s), asIs, journalMustNotFail);
  assert.deepEqual(alreadyDone(resumed, 1, ['a', 'b', 'c']), [true, true, false]);
  assert.match(warnings.join('\n'), /1 damaged line/);
  resumed.suspend();
});

test('a damaged last-pass file is treated as absent', () => {
  const { dir, warnings, store: s } = store();
  writeFileSync(join(dir, LAST_PASS_FILE), 'garbage');
  assert.equal(s.lastPass(), undefined);
  assert.match(warnings[0]!, /damaged/);
});

test('onlookers read the unfinished pass and its progress without changing anything', () => {
  const { dir, store: s } = store();
  assert.equal(s.unfinished(), undefined);
  const pass = s.open(PASS_FOR, manualClock('2026-11-27T06:00:00Z'), undefined, asIs, journalMustNotFail);
  done(pass, 1001, 'a', 'synced');
  done(pass, 1001, 'b', 'failed', 'no');
  pass.flush();
  assert.equal(headerOf(s).startedAt, '2026-11-27T06:00:00.000Z');
  assert.deepEqual(s.doneSoFar(), {
    tenants: 2,
    synced: 1,
    failed: 1,
    skipped: 0,
    planned: 0,
    busy: 0,
    lastSyncFailed: 0,
    alreadyDone: 0,
  });
  pass.suspend();
  writeFileSync(join(dir, PASS_FILE), '{"version":1');
  assert.equal(s.unfinished(), 'damaged');
  assert.equal(
    readFileSync(join(dir, PASS_FILE), 'utf8'),
    '{"version":1',
    'a damaged file is left for the next run to discard',
  );
});

test('the last complete pass is remembered across passes that did not reach every instance', () => {
  const { store: s } = store();
  const clock1 = manualClock('2026-11-27T06:00:00Z');
  const pass1 = s.open(PASS_FOR, clock1, undefined, asIs, journalMustNotFail);
  clock1.workUntil('2026-11-27T06:01:00Z');
  const complete = pass1.finish({ instances: 2, tokenRefreshes: 0, complete: true, invalid: 0 });
  assert.equal(complete.lastCompleteAt, '2026-11-27T06:01:00.000Z');
  const clock2 = manualClock('2026-11-27T07:00:00Z');
  const pass2 = s.open(PASS_FOR, clock2, undefined, asIs, journalMustNotFail);
  clock2.workUntil('2026-11-27T07:01:00Z');
  const partial = pass2.finish({ instances: 2, tokenRefreshes: 0, complete: false, invalid: 0 });
  assert.equal(partial.lastCompleteAt, '2026-11-27T06:01:00.000Z');
  const first = store()
    .store.open(PASS_FOR, manualClock(), undefined, asIs, journalMustNotFail)
    .finish({ instances: 1, tokenRefreshes: 0, complete: false, invalid: 0 });
  assert.equal('lastCompleteAt' in first, false);
});

test('busy tenants and failed last syncs are journaled, survive a resume, and reach last-pass.json', () => {
  const { store: s } = store();
  const first = s.open(PASS_FOR, manualClock('2026-11-27T06:00:00Z'), undefined, asIs, journalMustNotFail);
  done(first, 1001, 'a', 'busy');
  done(first, 1001, 'b', 'synced', undefined, 3);
  first.suspend();
  const second = s.open(PASS_FOR, manualClock('2026-11-27T07:00:00Z'), headerOf(s), asIs, journalMustNotFail);
  assert.deepEqual(alreadyDone(second, 1001, ['a', 'b']), [true, true]);
  assert.deepEqual(
    { busy: second.prior.busy, lastSyncFailed: second.prior.lastSyncFailed, tenants: second.prior.tenants },
    { busy: 1, lastSyncFailed: 1, tenants: 2 },
  );
  done(second, 1002, 'c', 'failed', 'Office 365 rejected the request', -2);
  const last = second.finish({ instances: 2, tokenRefreshes: 0, complete: true, invalid: 0 });
  assert.deepEqual(
    { busy: last.busy, lastSyncFailed: last.lastSyncFailed, synced: last.synced, failed: last.failed },
    { busy: 1, lastSyncFailed: 2, synced: 1, failed: 1 },
  );
  assert.deepEqual(last.lastSyncFailures, [
    { instanceId: 1001, tenantId: 'b', lastSync: 3 },
    { instanceId: 1002, tenantId: 'c', lastSync: -2 },
  ]);
  assert.equal(last.lastSyncFailuresOmitted, 0);
  assert.deepEqual(s.lastPass(), last);
});

test('a wall clock stepped back an hour mid-pass: the working time stays what it was, never negative', () => {
  const { store: s } = store();
  const clock = manualClock('2026-11-27T06:00:00Z');
  const first = s.open(PASS_FOR, clock, undefined, asIs, journalMustNotFail);
  clock.workUntil('2026-11-27T06:00:02Z');
  clock.step(-3_600_000);
  first.suspend();
  assert.equal(headerOf(s).activeMs, 2_000);
  const again = manualClock('2026-11-27T05:10:00Z');
  const second = s.open(PASS_FOR, again, headerOf(s), asIs, journalMustNotFail);
  again.step(-3_600_000);
  again.workUntil('2026-11-27T04:10:03Z');
  const last = second.finish({ instances: 1, tokenRefreshes: 0, complete: true, invalid: 0 });
  assert.equal(last.durationMs, 5_000);
  assert.equal(last.startedAt, '2026-11-27T06:00:00.000Z');
  assert.equal(last.finishedAt, '2026-11-27T04:10:03.000Z', 'the stamp is the wall clock, as people read it');
});

test('the journal is compacted into a snapshot as it grows, and a pass resumes from it as from the lines', () => {
  const { dir, store: s } = store();
  const pass = s.open(PASS_FOR, manualClock('2026-11-27T06:00:00Z'), undefined, asIs, journalMustNotFail);
  // Some 50 bytes a line: several compactions.
  const ids = Array.from({ length: COMPACT_AFTER_BYTES / 8 }, (_, n) => `t${String(n).padStart(6, '0')}`);
  // Handed out in order, done in pairs swapped: the cursor always trails by at most one.
  for (let n = 0; n < ids.length; n += 2) {
    pass.handOut(1, ids[n]!);
    pass.handOut(1, ids[n + 1]!);
    pass.recordDone(1, ids[n + 1]!, { outcome: 'synced' });
    pass.recordDone(1, ids[n]!, { outcome: n % 1000 === 0 ? 'failed' : 'synced', message: 'no' });
  }
  pass.flush();
  const lines = readFileSync(join(dir, JOURNAL_FILE), 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.length < 100, `${lines.length} lines after compaction`);
  pass.handOut(1, 'u1');
  pass.handOut(1, 'u2');
  pass.recordDone(1, 'u2', { outcome: 'skipped' });
  pass.suspend();
  const resumed = s.open(PASS_FOR, manualClock(), headerOf(s), asIs, journalMustNotFail);
  assert.deepEqual(resumed.resumePoint(1), { id: ids[ids.length - 1], near: ids.length - 1 });
  assert.deepEqual(alreadyDone(resumed, 1, ['u1', 'u2']), [false, true]);
  assert.deepEqual(
    { tenants: resumed.prior.tenants, failed: resumed.prior.failed, skipped: resumed.prior.skipped },
    { tenants: ids.length + 1, failed: Math.ceil(ids.length / 1000), skipped: 1 },
  );
  resumed.suspend();
});

test('state files in another shape are damaged: pass.json reads as damaged, last-pass.json as none, each with a warning', () => {
  const { dir, warnings, store: s } = store();
  s.open(PASS_FOR, manualClock(), undefined, asIs, journalMustNotFail).suspend();
  const header = headerOf(s);
  const { tenantType: _, ...withoutTenantType } = header;
  for (const damaged of [
    { ...header, activeMs: -3_597_372 },
    { ...header, activeMs: 1e16 },
    { ...header, startedAt: 'yesterday' },
    { ...header, runs: 0 },
    withoutTenantType,
  ]) {
    writeFileSync(join(dir, PASS_FILE), JSON.stringify(damaged));
    assert.equal(s.unfinished(), 'damaged', JSON.stringify(damaged));
  }
  const last = store()
    .store.open(PASS_FOR, manualClock('2026-11-27T06:00:00Z'), undefined, asIs, journalMustNotFail)
    .finish({ instances: 1, tokenRefreshes: 0, complete: true, invalid: 0 });
  const { durationMs: __, ...withoutDuration } = last;
  warnings.length = 0;
  for (const damaged of [
    withoutDuration,
    { ...last, durationMs: '60000' },
    { ...last, durationMs: 1e20 },
    { ...last, durationMs: 1e15 },
    { ...last, finishedAt: '+049560-01-01T00:00:00.000Z' },
    { ...last, failures: [null] },
    { ...last, lastSyncFailures: {} },
    [last],
  ]) {
    writeFileSync(join(dir, LAST_PASS_FILE), JSON.stringify(damaged));
    assert.equal(s.lastPass(), undefined, JSON.stringify(damaged).slice(0, 80));
  }
  assert.equal(warnings.length, 8);
  for (const w of warnings)
    assert.match(w, /^state file .*last-pass\.json is damaged \(.+\); treating it as no last pass$/);
  writeFileSync(join(dir, LAST_PASS_FILE), JSON.stringify(last));
  assert.deepEqual(s.lastPass(), last, 'the file as the tool writes it reads back whole');
});

test('a journal in another shape (an earlier format, a null among the failures) is damaged: warned, its tenants resynced', () => {
  const { dir, warnings, store: s } = store();
  s.open(PASS_FOR, manualClock(), undefined, asIs, journalMustNotFail).suspend();
  for (const first of [
    '{"i":1,"t":"c","o":"synced"}',
    '{"v":2,"s":{"counts":{"tenants":1,"synced":1,"failed":0,"skipped":0,"busy":0,"lastSyncFailed":0},"failures":[],"failuresOmitted":0,"lastSyncFailures":[],"lastSyncFailuresOmitted":0,"cursors":{}}}',
    '{"v":3,"s":{"counts":{"tenants":1,"synced":0,"failed":1,"skipped":0,"busy":0,"lastSyncFailed":0},"failures":[null],"failuresOmitted":0,"lastSyncFailures":[],"lastSyncFailuresOmitted":0,"retries":[],"cursors":{}}}',
  ]) {
    warnings.length = 0;
    writeFileSync(join(dir, JOURNAL_FILE), `${first}\n{"i":1,"t":"a","o":"synced","c":"a","n":0}\n`);
    assert.equal(s.doneSoFar().tenants, 0, first);
    const resumed = s.open(PASS_FOR, manualClock(), headerOf(s), asIs, journalMustNotFail);
    assert.match(warnings.join('\n'), /journal\.ndjson is damaged \(.+\); the pass's tenants will be resynced/, first);
    assert.equal(resumed.resumePoint(1), undefined, 'walked again from the start');
    assert.deepEqual(alreadyDone(resumed, 1, ['a', 'c']), [false, false]);
    assert.equal(resumed.prior.tenants, 0);
    resumed.flush();
    assert.match(readFileSync(join(dir, JOURNAL_FILE), 'utf8'), /^\{"v":3,/, 'rewritten in this shape');
    resumed.suspend();
  }
});
