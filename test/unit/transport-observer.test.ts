import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { BodyTooLargeError, NetworkError } from '../../src/errors';
import { type Exchange, Transport } from '../../src/http/transport';

/** The transport's observer (what --trace records): told about every exchange, however it ended. */
let server: Server;
let base: string;
const seen: Exchange[] = [];
const transport = new Transport({
  remote: 'aps',
  connections: 1,
  connectTimeoutMs: 1000,
  requestTimeoutMs: 1000,
  maxBodyBytes: 100,
  tlsFix: 'fix',
  observer: { exchanged: (exchange) => seen.push(exchange) },
});

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/big') {
      // No Content-Length: the limit is met while reading, after part of the body arrived.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(80));
      res.end('y'.repeat(80));
    } else res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await transport.close();
  await new Promise((resolve) => server.close(resolve));
});

test('an answered exchange: the request, the reply, when it started and how long it took', async () => {
  seen.length = 0;
  const before = Date.now();
  const reply = await transport.send({
    method: 'POST',
    url: `${base}/ok`,
    headers: { 'APS-Token': 't' },
    body: '{}',
    what: 'reply',
  });
  assert.equal(seen.length, 1);
  const [x] = seen;
  assert.equal(x!.request.url, `${base}/ok`);
  assert.equal(x!.request.body, '{}');
  assert.equal(x!.reply, reply);
  assert.equal(x!.error, undefined);
  assert.ok(x!.startedAt >= before && x!.startedAt <= Date.now());
  assert.ok(x!.waitMs >= 0 && x!.receiveMs >= 0);
});

test('a reply over the size limit: the error, and the status, headers and body that arrived', async () => {
  seen.length = 0;
  await assert.rejects(transport.send({ method: 'GET', url: `${base}/big`, what: 'big reply' }), BodyTooLargeError);
  const [x] = seen;
  assert.ok(x!.error instanceof BodyTooLargeError);
  assert.equal(x!.reply!.status, 200);
  assert.equal(x!.reply!.headers['content-type'], 'text/plain');
  assert.match(x!.reply!.body.toString(), /^x{80}/, 'the start of the reply');
});

test('no answer at all: the typed error and no reply', async () => {
  seen.length = 0;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(
    transport.send({ method: 'GET', url: `http://127.0.0.1:${port}/`, what: 'reply' }),
    NetworkError,
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.reply, undefined);
  assert.ok(seen[0]!.error instanceof NetworkError);
});
