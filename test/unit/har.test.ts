import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetworkError } from '../../src/errors';
import { BODY_LIMIT, harEntry } from '../../src/runtime/har';
import type { Exchange } from '../../src/http/transport';

/** An exchange as the transport reports it, answered unless the test says otherwise. */
function exchange(more: Partial<Exchange> = {}): Exchange {
  return {
    request: {
      method: 'GET',
      url: 'https://oa.example:6308/aps/2/resources?limit(0,1)&x=a%20b',
      headers: { 'APS-Token': 'tok', accept: 'application/json' },
      what: 'page',
    },
    startedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    waitMs: 12.3456789,
    receiveMs: 1.5,
    reply: {
      status: 200,
      headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'content-range': 'items 0-0/1' },
      body: Buffer.from('[]'),
    },
    ...more,
  };
}

test('an answered exchange: request and reply as HAR 1.2 fields, credential headers blanked by name, times in ms', () => {
  const entry = harEntry(exchange());
  assert.equal(entry.startedDateTime, '2026-01-02T03:04:05.678Z');
  assert.deepEqual(entry.timings, { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait: 12.346, receive: 1.5 });
  assert.equal(entry.time, 12.346 + 1.5);
  assert.deepEqual(entry.request.headers, [
    { name: 'APS-Token', value: '[REDACTED]' },
    { name: 'accept', value: 'application/json' },
  ]);
  assert.deepEqual(entry.request.queryString, [
    { name: 'limit(0,1)', value: '' },
    { name: 'x', value: 'a b' },
  ]);
  assert.equal(entry.request.postData, undefined);
  assert.equal(entry.response.status, 200);
  assert.equal(entry.response.statusText, 'OK');
  assert.deepEqual(
    entry.response.headers.filter((h) => h.name === 'set-cookie').map((h) => h.value),
    ['a=1', 'b=2'],
  );
  assert.deepEqual(entry.response.content, { size: 2, mimeType: 'application/json', text: '[]' });
  assert.equal(entry.comment, undefined);
  assert.equal(entry.response._error, undefined);
});

test('bodies over 64 KB are cut, and the entry says so', () => {
  const big = 'x'.repeat(BODY_LIMIT + 10);
  const entry = harEntry(
    exchange({
      request: {
        method: 'POST',
        url: 'http://oa:8440/RPC2',
        headers: { 'content-type': 'text/xml', authorization: 'Basic abc' },
        body: big,
        what: 'OA',
      },
      reply: { status: 200, headers: {}, body: Buffer.from(big) },
    }),
  );
  assert.equal(entry.request.postData!.text.length, BODY_LIMIT);
  assert.equal(entry.request.postData!.mimeType, 'text/xml');
  assert.equal(entry.request.bodySize, BODY_LIMIT + 10);
  assert.equal(entry.request.headers.find((h) => h.name === 'authorization')!.value, '[REDACTED]');
  assert.equal(entry.response.content.text!.length, BODY_LIMIT);
  assert.equal(entry.response.content.size, BODY_LIMIT + 10);
  assert.equal(entry.response.content.comment, `cut at ${BODY_LIMIT} of ${BODY_LIMIT + 10} bytes`);
  assert.equal(
    entry.comment,
    `request body cut at ${BODY_LIMIT} of ${BODY_LIMIT + 10} bytes; response body cut at ${BODY_LIMIT} of ${BODY_LIMIT + 10} bytes`,
  );
});

test('no reply: status 0 and the error text, in the response and the comment', () => {
  const error = new NetworkError('aps', 'https://oa.example:6308', 'no answer within 300 ms');
  const entry = harEntry(exchange({ reply: undefined, error }));
  assert.equal(entry.response.status, 0);
  assert.equal(entry.response._error, error.message);
  assert.equal(entry.comment, error.message);
  assert.deepEqual(entry.response.content, { size: 0, mimeType: 'x-unknown' });
});

test('a reply cut short by an error: what arrived, and the error with how far it got', () => {
  const error = new Error('reply limit exceeded');
  const entry = harEntry(exchange({ reply: { status: 200, headers: {}, body: Buffer.from('[{"a') }, error }));
  assert.equal(entry.response.status, 200);
  assert.equal(entry.response.content.text, '[{"a');
  assert.equal(entry.response._error, 'reply limit exceeded');
  assert.equal(entry.comment, 'reply limit exceeded (after 4 bytes of the body)');
});
