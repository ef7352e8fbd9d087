import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { JOURNAL_FILE, LAST_PASS_FILE, PASS_FILE, PassStateStore } from '../../src/runtime/pass-state';
import { scratchDir } from '../tmp';

function store() {
  const dir = scratchDir('obs-state-');
  const warnings: string[] = [];
  return { dir, warnings, store: new PassStateStore(dir, (m) => warnings.push(m)) };
}

test('a fresh pass journals completions; a resumed one knows them and counts them', () => {
  const { dir, store: s } = store();
  assert.equal(s.unfinished(41), undefined);
  const first = s.open(41, new Date('2026-11-27T06:00:00Z'));
  assert.equal(first.resumed, false);
  first.recordDone(1001, 'a', 'synced');
  first.recordDone(1001, 'b', 'failed', 'Office 365 rejected the request');
  first.recordDone(1002, 'c', 'skipped');
  first.suspend(Date.parse('2026-11-27T06:00:10Z'));
  assert.equal(statSync(join(dir, PASS_FILE)).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, JOURNAL_FILE)).mode & 0o777, 0o600);

  const header = s.unfinished(41);
  assert.ok(header);
  assert.equal(header.activeMs, 10_000);
  const second = s.open(41, new Date('2026-11-27T07:00:00Z'), header);
  assert.equal(second.resumed, true);
  assert.ok(second.isDone(1001, 'a') && second.isDone(1001, 'b') && second.isDone(1002, 'c'));
  assert.equal(second.isDone(1002, 'a'), false);
  assert.deepEqual({ ...second.prior }, { tenants: 3, synced: 1, failed: 1, skipped: 1, planned: 0, alreadyDone: 0 });
  second.recordDone(1002, 'd', 'synced');
  const last = second.finish({ instances: 2, tokenRefreshes: 0, complete: true }, Date.parse('2026-11-27T07:00:05Z'));
  assert.equal(last.startedAt, '2026-11-27T06:00:00.000Z');
  assert.equal(last.durationMs, 15_000);
  assert.equal(last.synced, 2);
  assert.deepEqual(last.failures, [{ instanceId: 1001, tenantId: 'b', error: 'Office 365 rejected the request' }]);
  assert.equal(existsSync(join(dir, PASS_FILE)), false);
  assert.equal(existsSync(join(dir, JOURNAL_FILE)), false);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, LAST_PASS_FILE), 'utf8')), last);
  assert.deepEqual(s.lastPass(), last);
});

test('completions reach the disk within a fraction of a second, without a clean stop', async () => {
  const { dir, store: s } = store();
  const pass = s.open(41, new Date());
  pass.recordDone(1001, 'a', 'synced');
  assert.equal(readFileSync(join(dir, JOURNAL_FILE), 'utf8'), '');
  // The timer writes every 200 ms; on a loaded machine give it up to a second.
  for (let waited = 0; waited < 1000 && !readFileSync(join(dir, JOURNAL_FILE), 'utf8'); waited += 50) await new Promise((r) => setTimeout(r, 50));
  assert.match(readFileSync(join(dir, JOURNAL_FILE), 'utf8'), /"t":"a"/);
  pass.suspend();
});

test('a damaged pass file gives a warning and a fresh pass', () => {
  const { dir, warnings, store: s } = store();
  writeFileSync(join(dir, PASS_FILE), '{"version":1,"startedAt":');
  writeFileSync(join(dir, JOURNAL_FILE), '{"i":1,"t":"a","o":"synced"}\n');
  assert.equal(s.unfinished(41), undefined);
  assert.match(warnings[0]!, /damaged; starting a fresh pass/);
  assert.equal(existsSync(join(dir, JOURNAL_FILE)), false);
});

test('a journal cut short by a kill loses only the damaged line', () => {
  const { dir, warnings, store: s } = store();
  const pass = s.open(41, new Date());
  pass.recordDone(1, 'a', 'synced');
  pass.recordDone(1, 'b', 'synced');
  pass.suspend();
  appendFileSync(join(dir, JOURNAL_FILE), '{"i":1,"t":"c","o":"syn');
  const resumed = s.open(41, new Date(), s.unfinished(41));
  assert.ok(resumed.isDone(1, 'a') && resumed.isDone(1, 'b'));
  assert.equal(resumed.isDone(1, 'c'), false);
  assert.match(warnings.join('\n'), /1 damaged line/);
  resumed.suspend();
});

test('an unfinished pass of another application is not resumed', () => {
  const { warnings, store: s } = store();
  s.open(41, new Date()).suspend();
  assert.equal(s.unfinished(42), undefined);
  assert.match(warnings[0]!, /was for application 41, not 42/);
});

test('a damaged last-pass file is treated as absent', () => {
  const { dir, warnings, store: s } = store();
  writeFileSync(join(dir, LAST_PASS_FILE), 'garbage');
  assert.equal(s.lastPass(), undefined);
  assert.match(warnings[0]!, /damaged/);
});

test('a tenant failed and later done in the same pass is no longer listed as failed', () => {
  const { store: s } = store();
  const pass = s.open(41, new Date());
  pass.recordDone(1, 'a', 'failed', 'boom');
  pass.recordDone(1, 'a', 'synced');
  const last = pass.finish({ instances: 1, tokenRefreshes: 0, complete: true });
  assert.deepEqual(last.failures, []);
  assert.equal(last.failed, 0);
  assert.equal(last.synced, 1);
});

test('onlookers read the unfinished pass and its progress without changing anything', () => {
  const { dir, store: s } = store();
  assert.equal(s.peekUnfinished(), undefined);
  const pass = s.open(41, new Date('2026-11-27T06:00:00Z'));
  pass.recordDone(1001, 'a', 'synced');
  pass.recordDone(1001, 'b', 'failed', 'no');
  pass.flush();
  assert.equal(s.peekUnfinished()?.startedAt, '2026-11-27T06:00:00.000Z');
  assert.deepEqual(s.doneSoFar(), { tenants: 2, synced: 1, failed: 1, skipped: 0, planned: 0, alreadyDone: 0 });
  pass.suspend();
  writeFileSync(join(dir, PASS_FILE), '{"version":1');
  assert.equal(s.peekUnfinished(), undefined);
  assert.equal(readFileSync(join(dir, PASS_FILE), 'utf8'), '{"version":1', 'a damaged file is left for the next run to report');
});

test('the last complete pass is remembered across passes that did not reach every instance', () => {
  const { store: s } = store();
  const complete = s.open(41, new Date('2026-11-27T06:00:00Z')).finish({ instances: 2, tokenRefreshes: 0, complete: true }, Date.parse('2026-11-27T06:01:00Z'));
  assert.equal(complete.lastCompleteAt, '2026-11-27T06:01:00.000Z');
  const partial = s.open(41, new Date('2026-11-27T07:00:00Z')).finish({ instances: 2, tokenRefreshes: 0, complete: false }, Date.parse('2026-11-27T07:01:00Z'));
  assert.equal(partial.lastCompleteAt, '2026-11-27T06:01:00.000Z');
  const first = store().store.open(41, new Date()).finish({ instances: 1, tokenRefreshes: 0, complete: false });
  assert.equal('lastCompleteAt' in first, false);
});
