import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContentRange } from '../../src/aps/content-range';
import { ProtocolError } from '../../src/errors';

test('a page range gives its bounds and the total', () => {
  assert.deepEqual(parseContentRange('items 0-2/8'), { first: 0, last: 2, total: 8 });
  assert.deepEqual(parseContentRange('Items 500-999/12345 '), { first: 500, last: 999, total: 12345 });
});

test('an empty page gives only the total', () => {
  assert.deepEqual(parseContentRange('items */0'), { total: 0 });
  assert.deepEqual(parseContentRange('items */42'), { total: 42 });
});

test('a missing header is a protocol error', () => {
  assert.throws(
    () => parseContentRange(undefined),
    (e: unknown) => e instanceof ProtocolError && /without a Content-Range/.test(e.message),
  );
  assert.throws(() => parseContentRange([]), ProtocolError);
});

test('a garbled header is a protocol error that quotes it', () => {
  for (const header of [
    'bytes 0-2/8',
    'items 0-2',
    'items 3-2/8',
    'items 0-8/8',
    'items -1-2/8',
    'items 0-2/*',
    '',
    'items 0-2/99999999999999999999',
  ]) {
    assert.throws(
      () => parseContentRange(header),
      (e: unknown) => e instanceof ProtocolError && e.remote === 'aps' && e.message.includes(`'${header}'`),
      header,
    );
  }
});
