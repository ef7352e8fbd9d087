import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apsErrorFromReply } from '../../src/aps/error-reply';
import type { Reply } from '../../src/http/transport';

const reply = (status: number, body: string, headers: Reply['headers'] = {}): Reply => ({
  status,
  headers,
  body: Buffer.from(body),
});

test('the field refusal body means "renew the token" whatever the status', () => {
  const e = apsErrorFromReply(
    reply(500, '{"code": 500, "error": "APS::Hosting::Exception", "message": "Authentication failed."}'),
  );
  assert.equal(e.status, 500);
  assert.equal(e.remoteMessage, 'Authentication failed.');
  assert.equal(e.remoteType, 'APS::Hosting::Exception');
  assert.equal(e.tokenRefused, true);
  assert.equal(e.retryable, false);
});

test('a JSON error keeps the remote message and type, preferring type over error', () => {
  const e = apsErrorFromReply(
    reply(400, '{"code":400,"type":"APS::Util::InvalidArgument","error":"x","message":"Bad\\n  RQL"}'),
  );
  assert.equal(e.remoteMessage, 'Bad RQL');
  assert.equal(e.remoteType, 'APS::Util::InvalidArgument');
  assert.equal(e.tokenRefused, false);
});

test('a JSON error without a message falls back to the status text', () => {
  const e = apsErrorFromReply(reply(404, '{"code":404,"error":"APS::Util::NotFound"}'));
  assert.equal(e.remoteMessage, 'Not Found');
  assert.equal(e.remoteType, 'APS::Util::NotFound');
});

test('a 401 is a token refusal even with an empty body', () => {
  const e = apsErrorFromReply(reply(401, ''));
  assert.equal(e.tokenRefused, true);
  assert.equal(e.remoteMessage, 'Unauthorized');
});

test("a proxy's HTML 503 is retryable and named by its title, folded", () => {
  const html =
    '<html><head><title>\n  503 Service\n\tTemporarily Unavailable </title></head><body><h1>Oops</h1></body></html>';
  const e = apsErrorFromReply(reply(503, html, { 'retry-after': '7', 'content-type': 'text/html' }));
  assert.equal(e.remoteMessage, '503 Service Temporarily Unavailable');
  assert.equal(e.remoteType, undefined);
  assert.equal(e.retryable, true);
  assert.equal(e.retryAfterMs, 7000);
});

test('an HTML page without a title is named by its first h1, entities decoded and length bounded', () => {
  const e = apsErrorFromReply(
    reply(502, `<html><body><h1 class="x">Bad <b>Gateway</b> &amp; more</h1><h1>second</h1></body></html>`),
  );
  assert.equal(e.remoteMessage, 'Bad Gateway & more');
  const long = apsErrorFromReply(reply(504, `<title>${'word '.repeat(100)}</title>`));
  assert.ok(long.remoteMessage.length <= 200, String(long.remoteMessage.length));
  assert.ok(long.remoteMessage.startsWith('word word'));
});

test('any other body says only the status text', () => {
  assert.equal(apsErrorFromReply(reply(502, 'upstream went away')).remoteMessage, 'Bad Gateway');
  assert.equal(apsErrorFromReply(reply(500, '{not json')).remoteMessage, 'Internal Server Error');
  assert.equal(apsErrorFromReply(reply(599, '')).remoteMessage, 'HTTP 599');
  assert.equal(apsErrorFromReply(reply(503, '<html><body>down</body></html>')).remoteMessage, 'Service Unavailable');
});
