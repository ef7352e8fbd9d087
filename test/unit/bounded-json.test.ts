import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JsonTooDeepError, MAX_JSON_DEPTH, parseBoundedJson } from '../../src/http/bounded-json';

test('JSON nested up to the bound parses; deeper is refused before JSON.parse sees it', () => {
  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
  assert.equal(JSON.stringify(parseBoundedJson(nested(MAX_JSON_DEPTH))), nested(MAX_JSON_DEPTH));
  assert.throws(() => parseBoundedJson(nested(MAX_JSON_DEPTH + 1)), JsonTooDeepError);
  assert.throws(
    () => parseBoundedJson(nested(8 * 1024 * 1024)),
    (e: unknown) => e instanceof SyntaxError && e.message === 'nested deeper than 64 levels',
  );
  assert.throws(() => parseBoundedJson('{"a":'.repeat(65) + '1' + '}'.repeat(65)), JsonTooDeepError);
});

test('brackets inside strings, escaped quotes included, are not nesting', () => {
  const text = JSON.stringify({ note: '['.repeat(1000) + '\\"{'.repeat(100), items: [{ aps: { id: 'a' } }] });
  assert.deepEqual((parseBoundedJson(text) as { items: unknown[] }).items, [{ aps: { id: 'a' } }]);
});

test('what is not JSON stays a SyntaxError of JSON.parse', () => {
  assert.throws(
    () => parseBoundedJson('<html>'),
    (e: unknown) => e instanceof SyntaxError && !(e instanceof JsonTooDeepError),
  );
});
