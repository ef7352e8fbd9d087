import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import { ApsClient, type ApsClientOptions } from '../../src/aps/client';
import { ApsError, ProtocolError } from '../../src/errors';
import { Transport } from '../../src/http/transport';
import type { Authorized, Tenant } from '../../src/sync/ports';

/** What the fake controller saw. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

const TOKEN = 'secret-token-123';
const TYPE = 'http://www.parallels.com/Office365/Tenant/2.8';
const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

let server: Server;
let baseUrl: string;
let transport: Transport;
let seen: Seen[];
let handler: Handler;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  transport = new Transport({
    remote: 'aps',
    connections: 2,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    maxBodyBytes: 1 << 20,
    tlsFix: 'set APS_CA_FILE',
  });
});

after(async () => {
  await transport.close();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  handler = () => assert.fail('no handler set');
});

function client(options: Partial<ApsClientOptions> = {}): ApsClient {
  return new ApsClient(transport, {
    baseUrl,
    tenantType: TYPE,
    pageSize: 10,
    resyncOperation: 'synchronize_async?fullSync=true',
    resyncMethod: 'GET',
    retries: 2,
    retryMaxDelayMs: 5,
    ...options,
  });
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers });
  res.end(text);
}

/** A controller holding `total` ready tenants that never returns more than `cap` per page. */
function listing(total: number, cap: number, status = 200): Handler {
  return (req, res) => {
    const m = /limit\((\d+),(\d+)\)$/.exec(req.url);
    assert.ok(m, req.url);
    const offset = Number(m[1]);
    const count = Math.min(Number(m[2]), cap, Math.max(0, total - offset));
    const items = Array.from({ length: count }, (_, i) => ({ aps: { id: uuid(offset + i), status: 'aps:ready' } }));
    reply(res, status, items, {
      'content-range': count ? `items ${offset}-${offset + count - 1}/${total}` : `items */${total}`,
    });
  };
}

let authorizedCalls = 0;
const authorized: Authorized = (call) => {
  authorizedCalls++;
  return call(TOKEN);
};

async function collect(source: AsyncIterable<Tenant>): Promise<Tenant[]> {
  const out: Tenant[] = [];
  for await (const t of source) out.push(t);
  return out;
}

const offsets = (): number[] => seen.map((s) => Number(/limit\((\d+),/.exec(s.url)?.[1]));

test('short pages are followed by the reported range until the total, each from the last tenant seen: every tenant exactly once', async () => {
  handler = listing(8, 3);
  authorizedCalls = 0;
  const tenants = await collect(client().listTenants({ authorized }));
  assert.deepEqual(
    tenants.map((t) => t.id),
    Array.from({ length: 8 }, (_, i) => uuid(i)),
  );
  assert.equal(tenants[0].status, 'aps:ready');
  assert.deepEqual(offsets(), [0, 2, 4, 6]);
  assert.equal(authorizedCalls, 4, 'the token policy wraps every page');
  for (const s of seen) {
    assert.equal(s.method, 'GET');
    assert.equal(
      s.url,
      `/aps/2/resources?implementing(${TYPE}),eq(aps.status,aps:ready),select(aps.id,aps.status),sort(+aps.id),limit(${offsets()[seen.indexOf(s)]},10)`,
    );
    assert.equal(s.headers['aps-token'], TOKEN);
    assert.equal(s.headers.accept, 'application/json');
    assert.ok(!s.url.includes(TOKEN));
  }
});

test('a base URL without the trailing slash, or with a path, gives the same resource URLs', async () => {
  handler = listing(1, 3);
  await collect(client({ baseUrl: baseUrl.replace(/\/$/, '') }).listTenants({ authorized }));
  assert.match(seen[0].url, /^\/aps\/2\/resources\?implementing/);
  seen = [];
  handler = (_req, res) => reply(res, 404, { code: 404, message: 'no' });
  await assert.rejects(client({ baseUrl: `${baseUrl}oa//` }).countTenants(TOKEN), ApsError);
  assert.match(seen[0].url, /^\/oa\/aps\/2\/resources\?/);
});

test('an empty listing yields nothing after one request, and counts 0, whatever its Content-Range says', async () => {
  for (const range of ['items */0', 'items 0--1/0', undefined]) {
    seen = [];
    handler = (_req, res) => reply(res, 200, [], range === undefined ? {} : { 'content-range': range });
    assert.deepEqual(await collect(client().listTenants({ authorized })), [], String(range));
    assert.equal(seen.length, 1);
    assert.equal(await client().countTenants(TOKEN), 0, String(range));
  }
});

test('206 Partial Content is a listing page like 200', async () => {
  handler = listing(5, 3, 206);
  assert.equal((await collect(client().listTenants({ authorized }))).length, 5);
  assert.equal(await client().countTenants(TOKEN), 5);
});

test('an item without aps.id is skipped and reported, and the listing goes on', async () => {
  handler = (_req, res) =>
    reply(
      res,
      200,
      [
        { aps: { id: uuid(0) } },
        { aps: { status: 'aps:ready' } },
        { name: 'x' },
        { aps: { id: '../x' } },
        { aps: { id: uuid(4) } },
      ],
      {
        'content-range': 'items 0-4/5',
      },
    );
  const reasons: string[] = [];
  const tenants = await collect(client().listTenants({ authorized, onInvalidItem: (r) => reasons.push(r) }));
  assert.deepEqual(tenants, [{ id: uuid(0) }, { id: uuid(4) }]);
  assert.equal(reasons.length, 3);
  assert.match(reasons[0], /item 1 .*no aps\.id/);
  assert.match(reasons[2], /item 3 .*not a resource id/);
});

test('a page that is not JSON, or not an array, is a protocol error and not retried', async () => {
  handler = (_req, res) => reply(res, 200, '<html>login</html>', { 'content-range': 'items 0-0/1' });
  await assert.rejects(
    collect(client().listTenants({ authorized })),
    (e: unknown) => e instanceof ProtocolError && /not JSON/.test(e.message),
  );
  assert.equal(seen.length, 1);
  handler = (_req, res) => reply(res, 200, { aps: { id: uuid(0) } }, { 'content-range': 'items 0-0/1' });
  await assert.rejects(collect(client().listTenants({ authorized })), /not a JSON array/);
});

test('a page without Content-Range is a protocol error', async () => {
  handler = (_req, res) => reply(res, 200, [{ aps: { id: uuid(0) } }]);
  await assert.rejects(
    collect(client().listTenants({ authorized })),
    (e: unknown) => e instanceof ProtocolError && /Content-Range/.test(e.message),
  );
});

test("a proxy's 503 page is retried and the listing completes", async () => {
  const inner = listing(2, 10);
  let failures = 1;
  handler = (req, res) =>
    failures-- > 0 ? reply(res, 503, '<html><title>503 Service Unavailable</title></html>') : inner(req, res);
  const retries: string[] = [];
  const tenants = await collect(client({ onRetry: (e) => retries.push(e.message) }).listTenants({ authorized }));
  assert.equal(tenants.length, 2);
  assert.equal(seen.length, 2);
  assert.deepEqual(offsets(), [0, 0]);
  assert.equal(retries.length, 1);
  assert.match(retries[0], /503.*Service Unavailable/);
});

test('a controller that repeats the same range is caught instead of looped on', async () => {
  // Ends the listing after a few rounds, so that a client without the guard fails here instead of hanging.
  handler = (_req, res) =>
    seen.length < 4
      ? reply(res, 200, [{ aps: { id: uuid(0) } }, { aps: { id: uuid(1) } }], { 'content-range': 'items 0-1/8' })
      : reply(res, 200, [], { 'content-range': 'items */8' });
  const got: Tenant[] = [];
  await assert.rejects(
    (async () => {
      for await (const t of client().listTenants({ authorized })) got.push(t);
    })(),
    (e: unknown) => e instanceof ProtocolError && /offset 1 .*items 0-1\/8/.test(e.message),
  );
  assert.equal(got.length, 2);
  assert.equal(seen.length, 2);
});

test('a range that does not match the items is a protocol error', async () => {
  handler = (_req, res) => reply(res, 200, [{ aps: { id: uuid(0) } }], { 'content-range': 'items 0-4/8' });
  await assert.rejects(collect(client().listTenants({ authorized })), ProtocolError);
  handler = (_req, res) => reply(res, 200, [{ aps: { id: uuid(0) } }], { 'content-range': 'items */8' });
  await assert.rejects(collect(client().listTenants({ authorized })), ProtocolError);
});

test('a listing its consumer stops pulling fetches no next page', async () => {
  handler = listing(8, 3);
  const got: Tenant[] = [];
  for await (const t of client().listTenants({ authorized })) {
    got.push(t);
    break;
  }
  assert.equal(got.length, 1);
  assert.equal(seen.length, 1);
});

test('the count asks for one item and reads the total', async () => {
  handler = listing(1234, 500);
  assert.equal(await client().countTenants(TOKEN), 1234);
  assert.equal(seen.length, 1);
  assert.match(seen[0].url, /limit\(0,1\)$/);
  assert.equal(seen[0].headers['aps-token'], TOKEN);
});

test('the default resync is a GET of synchronize_async that answers 202', async () => {
  handler = (_req, res) => {
    res.writeHead(202);
    res.end();
  };
  assert.deepEqual(await client().resync(uuid(7), authorized), { outcome: 'synced' });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].method, 'GET');
  assert.equal(seen[0].url, `/aps/2/resources/${uuid(7)}/synchronize_async?fullSync=true`);
  assert.equal(seen[0].headers['aps-token'], TOKEN);
  assert.equal(seen[0].headers['content-type'], undefined);
  assert.equal(seen[0].body, '');
});

test('a synchronous report with failures makes the tenant failed', async () => {
  handler = (_req, res) =>
    reply(res, 200, {
      domains: [],
      users: [{ objectName: 'bob@example.com', operationCode: 1, success: false, comment: 'No license' }],
      AllUpdatesSucceeded: false,
    });
  const result = await client({ resyncOperation: 'synchronize' }).resync(uuid(1), authorized);
  assert.deepEqual(result, {
    outcome: 'failed',
    message: '1 of 1 objects failed: bob@example.com: No license',
    failedObjects: [{ objectName: 'bob@example.com', comment: 'No license' }],
  });
  assert.equal(seen[0].url, `/aps/2/resources/${uuid(1)}/synchronize`);
});

test('a tenant gone since the listing answers 404: an ApsError, not retried', async () => {
  handler = (_req, res) => reply(res, 404, { code: 404, type: 'APS::Util::NotFound', message: 'Resource not found' });
  await assert.rejects(
    client().resync(uuid(2), authorized),
    (e: unknown) => e instanceof ApsError && e.status === 404 && e.remoteMessage === 'Resource not found',
  );
  assert.equal(seen.length, 1);
});

test('a refused token is thrown to the token policy at once, and its message holds no token', async () => {
  handler = (_req, res) =>
    reply(res, 500, { code: 500, error: 'APS::Hosting::Exception', message: 'Authentication failed.' });
  await assert.rejects(
    client().resync(uuid(2), authorized),
    (e: unknown) => e instanceof ApsError && e.tokenRefused && !e.message.includes(TOKEN),
  );
  assert.equal(seen.length, 1);
});

test('a transient resync failure is retried', async () => {
  let failures = 1;
  handler = (_req, res) => {
    if (failures-- > 0) return reply(res, 502, '<html><title>502 Bad Gateway</title></html>');
    res.writeHead(202);
    res.end();
  };
  authorizedCalls = 0;
  assert.deepEqual(await client().resync(uuid(3), authorized), { outcome: 'synced' });
  assert.equal(seen.length, 2);
  assert.equal(authorizedCalls, 2, 'each attempt asks the token policy for its token');
});

test('a POST resync sends an empty JSON object', async () => {
  handler = (_req, res) => reply(res, 200, { ok: true });
  assert.deepEqual(await client({ resyncMethod: 'POST', resyncOperation: 'resync' }).resync(uuid(4), authorized), {
    outcome: 'synced',
  });
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].url, `/aps/2/resources/${uuid(4)}/resync`);
  assert.equal(seen[0].headers['content-type'], 'application/json');
  assert.equal(seen[0].body, '{}');
});

test('an id that could leave the tenant path is refused before any request', async () => {
  for (const id of ['..', '../x', 'a/b', 'a?b', '']) {
    await assert.rejects(client().resync(id, authorized), RangeError, id);
  }
  assert.equal(seen.length, 0);
});

test('the listing reports the controller total with each page, for the progress bar', async () => {
  handler = listing(8, 3);
  const totals: number[] = [];
  await collect(client().listTenants({ authorized, onTotal: (total) => totals.push(total) }));
  assert.deepEqual(totals, [8, 8, 8, 8]);
});

test('a tenant is looked up by id whatever its status; a token that sees none gets undefined', async () => {
  handler = (req, res) =>
    req.url.includes(uuid(5))
      ? reply(res, 200, [{ aps: { id: uuid(5), status: 'aps:provisioning' } }], { 'content-range': 'items 0-0/1' })
      : reply(res, 200, [], { 'content-range': 'items */0' });
  assert.deepEqual(await client().findTenant(uuid(5), TOKEN), { id: uuid(5), status: 'aps:provisioning' });
  assert.equal(await client().findTenant(uuid(6), TOKEN), undefined);
  assert.equal(seen[0].method, 'GET');
  assert.equal(seen[0].url, `/aps/2/resources?implementing(${TYPE}),eq(aps.id,${uuid(5)}),select(aps.id,aps.status)`);
  assert.equal(seen[0].headers['aps-token'], TOKEN);
});

test('the sync status is a GET of the configured operation below the tenant, read as {inProgress, lastSync}', async () => {
  handler = (_req, res) => reply(res, 200, { inProgress: false, lastSync: 4 });
  assert.deepEqual(await client({ syncStatusOperation: 'sync_status' }).syncStatus!(uuid(5), authorized), {
    inProgress: false,
    lastSync: 4,
  });
  assert.deepEqual(
    [seen[0].method, seen[0].url, seen[0].headers['aps-token']],
    ['GET', `/aps/2/resources/${uuid(5)}/sync_status`, TOKEN],
  );
});

test('no status operation configured: the client offers no status read', () => {
  assert.equal(client().syncStatus, undefined);
});

test("an older application's 404, 405 or 501 to the status read is 'no such operation' (undefined), not retried", async () => {
  for (const status of [404, 405, 501]) {
    seen = [];
    handler = (_req, res) =>
      reply(res, status, {
        code: status,
        type: 'APS::Util::NotFound',
        message: 'Operation sync_status is not found in type',
      });
    assert.equal(
      await client({ syncStatusOperation: 'sync_status' }).syncStatus!(uuid(6), authorized),
      undefined,
      String(status),
    );
    assert.equal(seen.length, 1);
  }
});

test('a status read is retried through the token policy like a resync; a reply of another shape is a protocol error', async () => {
  let failures = 1;
  handler = (_req, res) =>
    failures-- > 0
      ? reply(res, 503, '<html><title>503 Service Unavailable</title></html>')
      : reply(res, 200, { inProgress: true, lastSync: 0 });
  authorizedCalls = 0;
  assert.deepEqual(await client({ syncStatusOperation: 'sync_status' }).syncStatus!(uuid(7), authorized), {
    inProgress: true,
    lastSync: 0,
  });
  assert.deepEqual([seen.length, authorizedCalls], [2, 2]);
  for (const body of [
    { inProgress: 'no', lastSync: 0 },
    { inProgress: false },
    { inProgress: false, lastSync: 1.5 },
    '<html>ok</html>',
  ]) {
    handler = (_req, res) => reply(res, 200, body);
    await assert.rejects(
      client({ syncStatusOperation: 'sync_status' }).syncStatus!(uuid(8), authorized),
      ProtocolError,
      JSON.stringify(body),
    );
  }
  handler = (_req, res) =>
    reply(res, 500, { code: 500, error: 'APS::Hosting::Exception', message: 'Office 365 rejected the request' });
  await assert.rejects(
    client({ syncStatusOperation: 'sync_status' }).syncStatus!(uuid(9), authorized),
    (e: unknown) => e instanceof ApsError && e.status === 500,
  );
});

const T20 = 'http://www.parallels.com/Office365/Tenant/2.0';

/** A types library of `types`, at most `cap` a page, and the tenant listing of `listing`. */
function withLibrary(types: { id: string; implements: string[] }[], cap: number, tenants: Handler): Handler {
  return (req, res) => {
    if (!req.url.startsWith('/aps/2/types')) return tenants(req, res);
    const m = /limit\((\d+),(\d+)\)$/.exec(req.url);
    assert.ok(m, req.url);
    const offset = Number(m[1]);
    const page = types.slice(offset, offset + Math.min(Number(m[2]), cap));
    const range = page.length
      ? `items ${offset}-${offset + page.length - 1}/${types.length}`
      : `items */${types.length}`;
    reply(res, 200, page, { 'content-range': range });
  };
}

test('APS_TENANT_TYPE unset: the types library is read page by page, and the listing asks for every tenant version in one query', async () => {
  const library = [
    { id: 'http://aps-standard.org/types/core/resource/1.0', implements: [] },
    { id: TYPE, implements: [] },
    { id: 'http://www.parallels.com/Office365/User/2.0', implements: [] },
    { id: T20, implements: [] },
    { id: 'http://www.parallels.com/Office365/Tenant/2.10', implements: [TYPE] },
  ];
  handler = withLibrary(library, 2, listing(3, 10));
  const told: unknown[] = [];
  const tenants = await collect(
    client({ tenantType: undefined }).listTenants({ authorized, onTenantTypes: (t) => told.push(t) }),
  );
  assert.equal(tenants.length, 3);
  assert.deepEqual(
    seen.map((s) => s.url.replace(/\?.*limit/, '?…limit')),
    [
      '/aps/2/types?…limit(0,100)',
      '/aps/2/types?…limit(2,100)',
      '/aps/2/types?…limit(4,100)',
      '/aps/2/resources?…limit(0,10)',
    ],
  );
  assert.equal(
    seen[3]!.url,
    `/aps/2/resources?or(implementing(${T20}),implementing(${TYPE})),eq(aps.status,aps:ready),select(aps.id,aps.status),sort(+aps.id),limit(0,10)`,
  );
  assert.deepEqual(told, [
    { source: 'library', listed: [T20, TYPE], found: [T20, TYPE, 'http://www.parallels.com/Office365/Tenant/2.10'] },
  ]);
});

test('a types library that refuses the token falls back to 2.0, and the refusal never reaches the token policy', async () => {
  for (const status of [401, 403, 404]) {
    seen = [];
    handler = (req, res) =>
      req.url.startsWith('/aps/2/types')
        ? reply(res, status, { code: status, type: 'APS::Security::AccessDenied', message: 'Access denied' })
        : listing(2, 10)(req, res);
    let refusals = 0;
    const counting: Authorized = (call) =>
      call(TOKEN).catch((e: unknown) => {
        refusals++;
        throw e;
      });
    const told: unknown[] = [];
    const tenants = await collect(
      client({ tenantType: undefined }).listTenants({ authorized: counting, onTenantTypes: (t) => told.push(t) }),
    );
    assert.equal(tenants.length, 2, String(status));
    assert.equal(refusals, 0, `${status}: the policy would renew the token for a refusal it hears`);
    assert.deepEqual(told, [
      {
        source: 'fallback',
        listed: [T20],
        unreadable: `APS controller answered ${status} APS::Security::AccessDenied: Access denied`,
      },
    ]);
    assert.equal(seen.filter((s) => s.url.startsWith('/aps/2/types')).length, 1, `${status}: not retried`);
  }
});

test('APS_TENANT_TYPE set: the library is read only when the listing holds no tenant, to say what it holds', async () => {
  handler = withLibrary([{ id: T20, implements: [] }], 10, listing(2, 10));
  const told: unknown[] = [];
  await collect(client().listTenants({ authorized, onTenantTypes: (t) => told.push(t) }));
  assert.deepEqual(told, [{ source: 'setting', listed: [TYPE] }]);
  assert.ok(seen.every((s) => s.url.startsWith('/aps/2/resources')));

  seen = [];
  handler = withLibrary([{ id: T20, implements: [] }], 10, listing(0, 10));
  told.length = 0;
  await collect(client().listTenants({ authorized, onTenantTypes: (t) => told.push(t) }));
  assert.deepEqual(told, [
    { source: 'setting', listed: [TYPE] },
    { source: 'setting', listed: [TYPE], found: [T20] },
  ]);
});
