import assert from 'node:assert/strict';
import {} from 'node:fs';
import { test } from 'node:test';
import { PassStateStore, type PassHeader } from '../../src/runtime/pass-state';
import { manualClock } from '../clock';
import { scratchDir } from '../tmp';

/** These tests write to a healthy disk: a journal failure here is a failure of the test. */
const journalMustNotFail = (e: Error): never => {
  throw e;
};

/** The journal's in-memory record packs UUIDs into compact keys; what it remembers must not change. */
const UUID = '9f1c2a3b-4d5e-4f60-8a7b-0c1d2e3f4a5b';

test('packed and unpacked tenant ids are told apart by instance, by case and by kind, before and after a resume', () => {
  const dir = scratchDir('obs-keys-');
  const store = new PassStateStore(dir, () => undefined);
  const first = store.open({ appId: 41, tenantType: 'T' }, manualClock('2026-11-27T06:00:00Z'), undefined, journalMustNotFail);
  const ids = [UUID, UUID.toUpperCase(), 'tenant_1', 'x'.repeat(24), '9f1c2a3b4d5e4f608a7b0c1d2e3f4a5b'];
  first.recordDone(1001, UUID, 'synced');
  first.recordDone(1001, 'tenant_1', 'failed', 'rejected');
  const check = (pass: typeof first) => {
    assert.deepEqual(
      ids.map((id) => pass.isDone(1001, id)),
      [true, false, true, false, false],
    );
    assert.deepEqual(
      ids.map((id) => pass.isDone(1002, id)),
      [false, false, false, false, false],
    );
    assert.equal(pass.isDone(2 ** 40 + 1001, UUID), false);
  };
  check(first);
  first.suspend();
  const resumed = store.open({ appId: 41, tenantType: 'T' }, manualClock('2026-11-27T07:00:00Z'), store.unfinished() as PassHeader, journalMustNotFail);
  check(resumed);
  assert.deepEqual({ ...resumed.prior }, { tenants: 2, synced: 1, failed: 1, skipped: 0, planned: 0, busy: 0, lastSyncFailed: 0, alreadyDone: 0 });
  resumed.recordDone(1001, UUID, 'failed', 'again');
  const last = resumed.finish({ instances: 1, tokenRefreshes: 0, complete: true });
  assert.deepEqual({ tenants: last.tenants, synced: last.synced, failed: last.failed }, { tenants: 2, synced: 0, failed: 2 });
});
