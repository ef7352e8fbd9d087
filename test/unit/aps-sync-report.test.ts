import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSyncReport } from '../../src/aps/sync-report';
import { ProtocolError } from '../../src/errors';

const parse = (body: unknown): ReturnType<typeof parseSyncReport> =>
  parseSyncReport(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

test('a report whose updates all succeeded is synced', () => {
  const ok = {
    domains: [],
    users: [{ objectName: 'a@x', operationCode: 1, success: true, comment: null }],
    AllUpdatesSucceeded: true,
  };
  assert.deepEqual(parse(ok), { outcome: 'synced' });
});

test('no body, or a body that is not a report, is synced', () => {
  for (const body of ['', '  \n', 'Accepted', '{"status":"started"}', '[1,2]', '{broken']) {
    assert.deepEqual(parse(body), { outcome: 'synced' }, body);
  }
});

test('a failed report names the failed users and domains', () => {
  const result = parse({
    domains: [
      { objectName: 'example.com', operationCode: 2, success: false, comment: 'Domain is not verified' },
      { objectName: 'ok.com', success: true, comment: null },
    ],
    users: [
      { objectName: 'bob@example.com', operationCode: 1, success: false, comment: null },
      { objectName: 'amy@example.com', operationCode: 1, success: true, comment: null },
    ],
    AllUpdatesSucceeded: false,
  });
  assert.deepEqual(result, {
    outcome: 'failed',
    message: '2 of 4 objects failed: example.com: Domain is not verified; bob@example.com',
    failedObjects: [
      { objectName: 'example.com', comment: 'Domain is not verified' },
      { objectName: 'bob@example.com', comment: null },
    ],
  });
});

test('a failed report with no failed object listed is still failed', () => {
  const result = parse({ AllUpdatesSucceeded: false });
  assert.equal(result.outcome, 'failed');
  assert.match(result.outcome === 'failed' ? result.message : '', /naming no failed object/);
});

test('the message stays bounded while failedObjects keeps them all', () => {
  const users = Array.from({ length: 500 }, (_, i) => ({
    objectName: `user${i}@example.com`,
    success: false,
    comment: 'License limit reached '.repeat(20),
  }));
  const result = parse({ domains: [], users, AllUpdatesSucceeded: false });
  assert.equal(result.outcome, 'failed');
  if (result.outcome !== 'failed') return;
  assert.ok(result.message.length <= 1000, String(result.message.length));
  assert.match(result.message, /^500 of 500 objects failed: user0@example.com: License limit reached/);
  assert.match(result.message, /; and \d+ more$/);
  assert.equal(result.failedObjects?.length, 500);
});

test('a report whose verdict is not a boolean is a protocol error', () => {
  for (const verdict of ['false', null, 0]) {
    assert.throws(() => parse({ users: [], AllUpdatesSucceeded: verdict }), ProtocolError, String(verdict));
  }
});
