import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { BodyTooLargeError, NetworkError, TlsError } from '../../src/errors';
import { ERROR_REPLY_BYTES } from '../../src/http/reply-reader';
import { Transport, type TransportOptions } from '../../src/http/transport';
import { otherCaFile, startSimulator, type Simulator } from '../sim';
import { testCerts } from '../sim/certs';

/**
 * The transport against an https simulator and a few misbehaving servers: what it trusts, and that no
 * request outlives its bounds.
 */
let sim: Simulator;
const transports: Transport[] = [];
/** Servers of single tests, shut even when a test fails midway so the process can end. */
const cleanups: (() => void)[] = [];
const FINGERPRINT = new X509Certificate(testCerts().cert).fingerprint256.replace(/:/g, '').toLowerCase();

before(async () => {
  sim = await startSimulator({ https: true, instances: 1, tenantsPerInstance: 2 });
});
after(async () => {
  for (const cleanup of cleanups) cleanup();
  await Promise.all(transports.map((t) => t.close()));
  await sim.close();
});

function transport(options: Partial<TransportOptions> = {}): Transport {
  const t = new Transport({
    remote: 'aps',
    connections: 2,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    maxBodyBytes: 1 << 20,
    tlsFix: 'set APS_CA_FILE to the CA',
    pinFix:
      'APS_CERT_SHA256 pins another certificate; if the controller certificate was replaced on purpose, pin the new one',
    ...options,
  });
  transports.push(t);
  return t;
}

/** An unauthenticated listing: the simulator answers 500 "Authentication failed.", which is enough to show TLS worked. */
const get = (t: Transport, url = `${sim.apsUrl}aps/2/resources`) =>
  t.send({ method: 'GET', url, what: 'tenant list page' });

test('the controller certificate is verified by default: an unknown CA is refused with the fix', async () => {
  await assert.rejects(get(transport()), (e: unknown) => {
    assert.ok(e instanceof TlsError, String(e));
    assert.equal(e.code, 'OBS_ERR_TLS');
    assert.match(e.message, /^certificate of https:\/\/127\.0\.0\.1:\d+ not trusted: .*; set APS_CA_FILE to the CA$/);
    return true;
  });
});

test('the CA file that issued the certificate is trusted; an unrelated one is not', async () => {
  assert.equal((await get(transport({ caFile: sim.caFile }))).status, 500);
  await assert.rejects(get(transport({ caFile: otherCaFile() })), TlsError);
});

test('insecure mode accepts the certificate without a CA', async () => {
  assert.equal((await get(transport({ insecure: true }))).status, 500);
});

test('a right pin is enough on its own, and works with the CA file too, connection after connection', async () => {
  assert.equal((await get(transport({ pinSha256: FINGERPRINT }))).status, 500);
  // A server that closes every connection: each request is a new handshake, which a client would
  // normally shorten by resuming the last TLS session.
  const { key, cert } = testCerts();
  const server = createHttpsServer({ key, cert }, (_req, res) => res.writeHead(200, { connection: 'close' }).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  const at = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (const t of [transport({ pinSha256: FINGERPRINT }), transport({ pinSha256: FINGERPRINT, caFile: sim.caFile })]) {
    for (let i = 0; i < 3; i++) assert.equal((await get(t, at)).status, 200, `request ${i + 1}`);
  }
});

test('a wrong pin is refused with or without the CA file, naming both fingerprints and the pin fix', async () => {
  const wrong = 'ab'.repeat(32);
  for (const t of [transport({ pinSha256: wrong }), transport({ pinSha256: wrong, caFile: sim.caFile })]) {
    await assert.rejects(get(t), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(
        e.message,
        new RegExp(
          `not trusted: its SHA-256 fingerprint ${FINGERPRINT} is not the pinned ${wrong}; APS_CERT_SHA256 pins another certificate; if .*$`,
        ),
      );
      return true;
    });
  }
});

test('with a CA file and a pin, the chain must verify as well', async () => {
  await assert.rejects(get(transport({ pinSha256: FINGERPRINT, caFile: otherCaFile() })), TlsError);
});

test('a pin refuses a plain-http controller, which has no certificate to compare', async () => {
  const server = await httpServer((_req, res) => res.end('{}'));
  await assert.rejects(get(transport({ pinSha256: FINGERPRINT }), `${url(server)}/aps/2/resources`), (e: unknown) => {
    assert.ok(e instanceof TlsError, String(e));
    assert.match(e.message, /no certificate to compare with the pinned fingerprint/);
    return true;
  });
});

test('a certificate for another name is refused as a certificate problem', async () => {
  // The test certificate is for 127.0.0.1 and localhost; Linux routes all of 127/8 to loopback.
  const { key, cert } = testCerts();
  const server = createHttpsServer({ key, cert }, (_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  cleanups.push(() => server.close());
  await assert.rejects(
    get(transport({ caFile: sim.caFile }), `https://127.0.0.2:${(server.address() as AddressInfo).port}/`),
    (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(
        e.message,
        /^certificate of https:\/\/127\.0\.0\.2:\d+ not trusted: .*127\.0\.0\.2.*; set APS_CA_FILE to the CA$/,
      );
      return true;
    },
  );
});

test('https to a plain-http port says so in a few words', async () => {
  const server = await httpServer((_req, res) => res.end('{}'));
  await assert.rejects(get(transport({ caFile: sim.caFile }), url(server).replace('http:', 'https:')), (e: unknown) => {
    assert.ok(e instanceof NetworkError, String(e));
    assert.match(
      e.message,
      /^APS controller at https:\/\/127\.0\.0\.1:\d+: answered, but not with TLS \(is it plain http\?\)$/,
    );
    return true;
  });
});

test('a body that trickles in forever is cut at the request timeout', async () => {
  const server = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 20);
    res.on('close', () => clearInterval(timer));
  });
  await assert.rejects(get(transport({ requestTimeoutMs: 300 }), `${url(server)}/x`), (e: unknown) => {
    assert.ok(e instanceof NetworkError, String(e));
    assert.match(e.message, /^APS controller at http:\/\/127\.0\.0\.1:\d+: no answer within 300 ms$/);
    return true;
  });
});

test('a peer that accepts the connection but never completes the TLS handshake is cut at the connect timeout', async () => {
  const sockets: Socket[] = [];
  const server: TcpServer = createTcpServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  await assert.rejects(
    get(
      transport({ connectTimeoutMs: 200, requestTimeoutMs: 10_000, caFile: sim.caFile }),
      `https://127.0.0.1:${port}/`,
    ),
    (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.match(e.message, /no answer within 200 ms$/);
      return true;
    },
  );
});

test('an oversized body says which reply hit which limit and names the setting', async () => {
  const server = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ aps: { id: `tenant-${i}` } }))));
  });
  await assert.rejects(get(transport({ maxBodyBytes: 1000 }), `${url(server)}/x`), (e: unknown) => {
    assert.ok(e instanceof BodyTooLargeError, String(e));
    assert.equal(e.message, 'tenant list page exceeded the 1000-byte reply limit (MAX_REPLY_BYTES)');
    return true;
  });
});

test('a reply of a kind with its own bound is held to it, naming what sets it; MAX_REPLY_BYTES stays the ceiling', async () => {
  const server = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('x'.repeat(5000));
  });
  const send = (maxBodyBytes: number, bytes: number) =>
    transport({ maxBodyBytes }).send({
      method: 'GET',
      url: `${url(server)}/x`,
      what: 'resync reply',
      limit: { bytes, setting: 'the bound of an operation reply' },
    });
  await assert.rejects(send(1 << 20, 4000), (e: unknown) => {
    assert.ok(e instanceof BodyTooLargeError, String(e));
    assert.equal(e.message, 'resync reply exceeded the 4000-byte reply limit (the bound of an operation reply)');
    return true;
  });
  await assert.rejects(
    send(3000, 4000),
    /^BodyTooLargeError: resync reply exceeded the 3000-byte reply limit \(MAX_REPLY_BYTES\)$/,
  );
  assert.equal((await send(1 << 20, 5000)).body.length, 5000);
});

test('an error reply is read up to 64 KiB and the rest dropped: the status and the start of the message still count', async () => {
  const server = await httpServer((_req, res) => {
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(4 << 20) });
    res.end('{"message":"' + 'x'.repeat((4 << 20) - 14) + '"}');
  });
  const reply = await get(transport({ maxBodyBytes: 8 << 20 }), `${url(server)}/x`);
  assert.equal(reply.status, 500);
  assert.equal(reply.body.length, ERROR_REPLY_BYTES);
  assert.equal(reply.body.subarray(0, 12).toString(), '{"message":"');
});

async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<Server> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return server;
}

const url = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
