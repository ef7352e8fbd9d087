import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { Agent, fetch, type RequestInit } from 'undici';
import { until } from '../e2e/harness';
import { otherCaFile, type SimOptions, type Simulator, startSimulator } from '../sim';

// The simulator is checked over real HTTP with plain undici and the xmlrpc package's own parts,
// never with the tool's clients: those are what the simulator is there to test.
const serializer = require('xmlrpc/lib/serializer') as {
  serializeMethodCall(method: string, params: unknown[]): string;
};
const Deserializer = require('xmlrpc/lib/deserializer') as new () => {
  deserializeMethodResponse(
    stream: NodeJS.ReadableStream,
    cb: (err: Error | null | undefined, value?: unknown) => void,
  ): void;
};

const TYPE = 'http://www.parallels.com/Office365/Tenant/2.0';
const AUTH_FAILED = '{"code": 500, "error": "APS::Hosting::Exception", "message": "Authentication failed."}';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function sim(t: TestContext, options: SimOptions = {}): Promise<Simulator> {
  const s = await startSimulator(options);
  t.after(() => s.close());
  return s;
}

function parseXmlRpc(raw: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const stream = new PassThrough();
    new Deserializer().deserializeMethodResponse(stream, (err, value) => (err ? reject(err) : resolve(value)));
    stream.end(raw);
  });
}

interface Raw {
  status: number;
  type: string | null;
  headers: Headers;
  body: string;
}

async function call(url: string, init: RequestInit = {}): Promise<Raw> {
  const res = await fetch(url, init);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    headers: res.headers as unknown as Headers,
    body: await res.text(),
  };
}

function oa(s: Simulator, method: string, args: unknown, init: RequestInit = {}): Promise<Raw> {
  return call(s.oaUrl, { method: 'POST', body: serializer.serializeMethodCall(method, [args]), ...init });
}

async function token(s: Simulator, instanceId: number, init: RequestInit = {}): Promise<string> {
  const raw = await oa(s, 'pem.APS.getApplicationInstanceToken', { application_instance_id: instanceId }, init);
  const reply = (await parseXmlRpc(raw.body)) as { result: { aps_token: string } };
  return reply.result.aps_token;
}

function aps(s: Simulator, tok: string | undefined, pathAndQuery: string, init: RequestInit = {}): Promise<Raw> {
  return call(`${s.apsUrl}${pathAndQuery}`, { ...init, headers: tok === undefined ? {} : { 'APS-Token': tok } });
}

const listing = (rql: string) => `aps/2/resources?${rql}`;

test('OA lists the instances and issues tokens that point at the controller', async (t) => {
  const s = await sim(t);
  const raw = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 });
  assert.equal(raw.status, 200);
  assert.match(raw.type ?? '', /text\/xml/);
  assert.match(raw.body, /<int>1001<\/int>/);
  const reply = (await parseXmlRpc(raw.body)) as {
    status: number;
    result: { application_instance_id: number; application_resource_id: string }[];
  };
  assert.equal(reply.status, 0);
  assert.deepEqual(
    reply.result.map((i) => i.application_instance_id),
    [1001, 1002],
  );
  assert.deepEqual(
    reply.result.map((i) => i.application_resource_id),
    s.instances.map((i) => i.resourceId),
  );
  const tokenReply = (await parseXmlRpc(
    (await oa(s, 'pem.APS.getApplicationInstanceToken', { application_instance_id: 1002 })).body,
  )) as {
    status: number;
    result: { aps_token: string; controller_uri: string };
  };
  assert.equal(tokenReply.status, 0);
  assert.equal(tokenReply.result.controller_uri, s.apsUrl);
  assert.ok(tokenReply.result.aps_token.length >= 32);
  assert.deepEqual(s.stats.oaCalls, [
    { method: 'pem.APS.getApplicationInstances', args: { app_id: 41 } },
    { method: 'pem.APS.getApplicationInstanceToken', args: { application_instance_id: 1002 } },
  ]);
  assert.equal(s.stats.tokensIssued, 1);
  assert.equal(s.stats.tokensIssuedByInstance.get(1002), 1);
});

test('OA answers status -1 for an unknown application or instance, and a fault for an unknown method', async (t) => {
  const s = await sim(t, { controllerUri: 'https://oa.example:6308/' });
  const raw = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 42 });
  assert.equal(raw.status, 200);
  assert.match(raw.body, /<name>status<\/name><value><(int|i4)>-1<\/\1>/);
  const reply = (await parseXmlRpc(raw.body)) as Record<string, unknown>;
  assert.equal(reply.error_message, 'Application with ID 42 is not found.');
  assert.equal(reply.module_id, 'APS');
  assert.equal(typeof reply.extype_id, 'number');
  const unknownInstance = (await parseXmlRpc(
    (await oa(s, 'pem.APS.getApplicationInstanceToken', { application_instance_id: 7 })).body,
  )) as { status: number };
  assert.equal(unknownInstance.status, -1);
  const fault = await oa(s, 'pem.APS.noSuchMethod', {});
  assert.match(fault.body, /<fault>/);
  await assert.rejects(parseXmlRpc(fault.body), { faultString: 'Method "pem.APS.noSuchMethod" is not supported.' });
  const tokenReply = (await parseXmlRpc(
    (await oa(s, 'pem.APS.getApplicationInstanceToken', { application_instance_id: 1001 })).body,
  )) as {
    result: { controller_uri: string };
  };
  assert.equal(tokenReply.result.controller_uri, 'https://oa.example:6308/');
});

test('OA faults: status -1, malformed, truncated, fault, HTML 500, hang', async (t) => {
  const s = await sim(t);
  const instances = () => oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 });

  s.setOaFault('statusMinusOne');
  assert.deepEqual(await parseXmlRpc((await instances()).body), {
    status: -1,
    error_message: 'Internal error: database is unavailable',
    module_id: 'Common',
    extype_id: 1,
  });
  s.setOaFault('malformedXml');
  const malformed = await instances();
  assert.equal(malformed.status, 200);
  assert.equal(malformed.type, 'text/xml');
  await assert.rejects(parseXmlRpc(malformed.body));
  s.setOaFault('truncatedXml');
  const truncated = await instances();
  assert.equal(truncated.status, 200);
  assert.match(truncated.body, /^<\?xml/);
  await assert.rejects(parseXmlRpc(truncated.body));
  s.setOaFault('fault');
  await assert.rejects(parseXmlRpc((await instances()).body), { faultCode: -32500 });
  s.setOaFault('html500');
  const html = await instances();
  assert.equal(html.status, 500);
  assert.equal(html.type, 'text/html');
  s.setOaFault('hang');
  await assert.rejects(oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, { signal: AbortSignal.timeout(150) }));
  s.setOaFault(undefined);
  assert.equal(((await parseXmlRpc((await instances()).body)) as { status: number }).status, 0);
  assert.equal(s.stats.oaCalls.length, 7);
});

test('OA basic auth: 401 with an HTML page unless the credentials match', async (t) => {
  const s = await sim(t, { oaAuth: { user: 'admin', password: 's3cret' } });
  const basic = (user: string, password: string) => ({
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  for (const init of [{}, basic('admin', 'wrong')]) {
    const raw = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, init);
    assert.equal(raw.status, 401);
    assert.equal(raw.headers.get('www-authenticate'), 'Basic realm="OA"');
    assert.equal(raw.type, 'text/html');
  }
  const ok = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, basic('admin', 's3cret'));
  assert.equal(ok.status, 200);
  assert.equal(s.stats.oaCalls.length, 1);
  assert.deepEqual(s.env(), {
    OFFICE_APP_ID: '41',
    OA_HOST: '127.0.0.1',
    OA_PORT: String(s.oaPort),
    OA_USER: 'admin',
    OA_PASSWORD: 's3cret',
  });
});

test('listing: short pages, Content-Range totals, empty pages, filters, encodings, only the own instance', async (t) => {
  const s = await sim(t, { tenantsPerInstance: [7, 4], pageCap: 3, provisioningEvery: 3 });
  const tok = await token(s, 1001);
  const ready = s.instances[0]!.tenants.filter((x) => x.status === 'aps:ready').map((x) => x.id);
  assert.equal(ready.length, 5);
  assert.equal(s.readyTenants().length, 5 + 3);
  const page = async (rql: string) => {
    const raw = await aps(s, tok, listing(rql));
    assert.equal(raw.status, 200, raw.body);
    const items = JSON.parse(raw.body) as {
      aps: { id: string; type: string; status: string; subscription: string };
      initial_subdomain: string;
      ms_account_id: string;
    }[];
    return { range: raw.headers.get('content-range'), items };
  };
  const first = await page(`implementing(${TYPE}),eq(aps.status,aps:ready),limit(0,100)`);
  assert.equal(first.range, 'items 0-2/5');
  assert.deepEqual(
    first.items.map((x) => x.aps.id),
    ready.slice(0, 3),
  );
  const item = first.items[0]!;
  assert.equal(item.aps.type, TYPE);
  assert.equal(item.aps.status, 'aps:ready');
  assert.match(item.aps.subscription, UUID);
  assert.match(item.ms_account_id, UUID);
  assert.equal(item.initial_subdomain, s.instances[0]!.tenants[0]!.subdomain);
  const second = await page(encodeURIComponent(`implementing(${TYPE}),eq(aps.status,aps:ready),limit(3,100)`));
  assert.equal(second.range, 'items 3-4/5');
  assert.deepEqual(
    second.items.map((x) => x.aps.id),
    ready.slice(3),
  );
  const past = await page(`implementing(${encodeURIComponent(TYPE)}),eq(aps.status,aps:ready),limit(5,100)`);
  assert.equal(past.range, 'items */5');
  assert.deepEqual(past.items, []);
  const all = await page(`and(implementing(${TYPE}),limit(6,2)),select(aps.id)`);
  assert.equal(all.range, 'items 6-6/7');
  assert.equal((await page(`implementing(${TYPE}),eq(aps.status,aps:provisioning)`)).range, 'items 0-1/2');
  assert.equal((await page(`implementing(${TYPE.replace('2.0', '2.8')}),limit(0,10)`)).range, 'items */0');
  assert.equal((await page(`limit(1,1)`)).range, 'items 1-1/7');
  const bad = await aps(s, tok, listing('limit(0'));
  assert.equal(bad.status, 400);
  assert.equal(s.stats.listRequests, 8);
});

test('listing: sort(+aps.id) and sort(-aps.id), gt and lt on aps.id; other sorts and comparisons are refused', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 9, pageCap: 4 });
  const tok = await token(s, 1001);
  const ids = async (rql: string) => {
    const raw = await aps(s, tok, listing(rql));
    assert.equal(raw.status, 200, raw.body);
    return (JSON.parse(raw.body) as { aps: { id: string } }[]).map((x) => x.aps.id);
  };
  const added = s.instances[0]!.tenants.map((x) => x.id);
  const sorted = [...added].sort();
  assert.notDeepEqual(added, sorted, 'without sort() the listing is in the order tenants were added');
  assert.deepEqual(await ids(`implementing(${TYPE}),limit(0,100)`), added.slice(0, 4));
  assert.deepEqual(await ids(`implementing(${TYPE}),sort(+aps.id),limit(4,100)`), sorted.slice(4, 8));
  assert.deepEqual(await ids(`sort(${encodeURIComponent('+')}aps.id),limit(0,2)`), sorted.slice(0, 2));
  assert.deepEqual(await ids(`sort(-aps.id),limit(0,2)`), [sorted[8], sorted[7]]);
  assert.deepEqual(await ids(`sort(aps.id),gt(aps.id,${sorted[2]}),lt(aps.id,${sorted[6]})`), sorted.slice(3, 6));
  s.removeTenant(sorted[0]!);
  const fresh = s.addTenant(1001);
  assert.deepEqual(
    await ids(`sort(+aps.id),limit(0,100)`),
    [...sorted.slice(1), fresh.id].sort().slice(0, 4),
    'the sorted view follows changes',
  );
  for (const rql of ['sort(+aps.status)', 'gt(aps.status,a)', 'lt(aps.id)'])
    assert.equal((await aps(s, tok, listing(rql))).status, 400, rql);
});

test('listing faults spoil pages from an offset on, and heal; issued tokens can be read back', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 6, pageCap: 3 });
  const tok = await token(s, 1001);
  const get = (offset: number) => aps(s, tok, listing(`implementing(${TYPE}),limit(${offset},3)`));
  const good = await get(0);
  const bodyOf = (fault: Parameters<Simulator['setListingFault']>[0], offset: number) => {
    s.setListingFault(fault, { fromOffset: 3 });
    return get(offset);
  };
  const before = await bodyOf('notJson', 0);
  assert.deepEqual(
    [before.body, before.headers.get('content-range')],
    [good.body, 'items 0-2/6'],
    'pages before the offset are untouched',
  );
  const notJson = await bodyOf('notJson', 3);
  assert.deepEqual(
    [notJson.status, notJson.type, notJson.headers.get('content-range')],
    [200, 'text/html', 'items 3-5/6'],
  );
  const truncated = await bodyOf('truncatedJson', 3);
  assert.throws(() => JSON.parse(truncated.body));
  assert.ok(truncated.body.startsWith('[{"aps":'));
  const wrapped = JSON.parse((await bodyOf('notArray', 3)).body) as { items: unknown[]; total: number };
  assert.deepEqual([wrapped.items.length, wrapped.total], [3, 6]);
  const missing = JSON.parse((await bodyOf('missingApsId', 3)).body) as { aps: { id?: string; status: string } }[];
  assert.deepEqual(
    missing.map((x) => x.aps.id === undefined),
    [true, false, false],
  );
  assert.equal(missing[0]!.aps.status, 'aps:ready');
  assert.equal((await bodyOf('noContentRange', 3)).headers.get('content-range'), null);
  assert.equal((await bodyOf('garbledContentRange', 3)).headers.get('content-range'), 'items 3-5 of 6');
  assert.ok((await bodyOf('oversized', 3)).body.length > 3 * 16 * 1024);
  s.setListingFault(undefined);
  assert.equal((await get(3)).headers.get('content-range'), 'items 3-5/6');
  const second = await token(s, 1001);
  s.revokeTokens();
  assert.deepEqual(s.issuedTokens(), [tok, second]);
});

test('echoToken: the resync error quotes the token it was sent', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 2 });
  const tok = await token(s, 1001);
  const tenant = s.readyTenants()[0]!.id;
  s.setFault(tenant, 'echoToken');
  const raw = await aps(s, tok, `aps/2/resources/${tenant}/synchronize_async?fullSync=true`);
  assert.equal(raw.status, 500);
  assert.deepEqual(JSON.parse(raw.body), {
    code: 500,
    error: 'APS::Hosting::Exception',
    message: `Token ${tok} may not synchronize tenant ${tenant}`,
  });
});

test('resync: 202 async, sync report, POST refused (the operations are GET), reportFailure, unknown operation, tenant read', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 3 });
  const tok = await token(s, 1001);
  const [a, b, c] = s.instances[0]!.tenants.map((x) => x.id) as [string, string, string];
  const async_ = await aps(s, tok, `aps/2/resources/${a}/synchronize_async?fullSync=true`);
  assert.equal(async_.status, 202);
  assert.equal(async_.body, '');
  const posted = await aps(s, tok, `aps/2/resources/${b}/synchronize`, { method: 'POST', body: '{}' });
  assert.equal(posted.status, 405);
  assert.equal(JSON.parse(posted.body).type, 'APS::Util::MethodNotAllowed');
  const sync = await aps(s, tok, `aps/2/resources/${b}/synchronize`);
  assert.equal(sync.status, 200);
  assert.equal(sync.type, 'application/json');
  assert.deepEqual(JSON.parse(sync.body), {
    domains: [],
    users: [
      {
        objectName: `admin@${s.instances[0]!.tenants[1]!.subdomain}.onmicrosoft.com`,
        operationCode: 1,
        success: true,
        comment: null,
      },
    ],
    AllUpdatesSucceeded: true,
  });
  s.setFault(c, 'reportFailure');
  const failed = await aps(s, tok, `aps/2/resources/${c}/synchronize`);
  assert.equal(failed.status, 200);
  assert.deepEqual(JSON.parse(failed.body), {
    domains: [],
    users: [
      {
        objectName: `user@${s.instances[0]!.tenants[2]!.subdomain}.onmicrosoft.com`,
        operationCode: 1,
        success: false,
        comment: 'License assignment failed: no licenses available',
      },
    ],
    AllUpdatesSucceeded: false,
  });
  const unknownOp = await aps(s, tok, `aps/2/resources/${a}/resync`);
  assert.equal(unknownOp.status, 404);
  assert.equal(JSON.parse(unknownOp.body).type, 'APS::Util::NotFound');
  const read = await aps(s, tok, `aps/2/resources/${a}`);
  assert.equal(JSON.parse(read.body).aps.id, a);
  assert.deepEqual(s.stats.resyncOperations, [
    { tenant: a, method: 'GET', path: 'synchronize_async', query: 'fullSync=true' },
    { tenant: b, method: 'POST', path: 'synchronize', query: '' },
    { tenant: b, method: 'GET', path: 'synchronize', query: '' },
    { tenant: c, method: 'GET', path: 'synchronize', query: '' },
    { tenant: a, method: 'GET', path: 'resync', query: '' },
  ]);
  assert.deepEqual(
    [...s.stats.resyncCalls],
    [
      [a, 2],
      [b, 2],
      [c, 1],
    ],
  );
  assert.deepEqual(
    [...s.stats.resyncSucceeded],
    [
      [a, 1],
      [b, 1],
    ],
  );
});

test('tenant faults: fail500, notFound, transient503, hang; close() ends hung requests at once', async () => {
  const s = await startSimulator({ instances: 1, tenantsPerInstance: 4 });
  try {
    const [a, b, c, d] = s.instances[0]!.tenants.map((x) => x.id) as [string, string, string, string];
    s.setFault(a, 'fail500');
    s.setFault(b, 'notFound');
    s.setFault(c, 'transient503');
    s.setFault(d, 'hang');
    const tok = await token(s, 1001);
    const resync = (id: string, init: RequestInit = {}) =>
      aps(s, tok, `aps/2/resources/${id}/synchronize_async?fullSync=true`, init);
    for (let i = 0; i < 2; i++) {
      const r = await resync(a);
      assert.equal(r.status, 500);
      assert.equal(
        r.body,
        `{"code":500,"error":"APS::Hosting::Exception","message":"Office 365 rejected the request for tenant ${a}"}`,
      );
    }
    const gone = await resync(b);
    assert.equal(gone.status, 404);
    assert.equal(gone.body, `{"code":404,"type":"APS::Util::NotFound","message":"Resource ${b} not found"}`);
    const proxy = await resync(c);
    assert.equal(proxy.status, 503);
    assert.equal(proxy.type, 'text/html');
    assert.equal((await resync(c)).status, 202);
    const hung = resync(d, { signal: AbortSignal.timeout(150) });
    await assert.rejects(hung);
    assert.deepEqual(
      [...s.stats.resyncCalls],
      [
        [a, 2],
        [b, 1],
        [c, 2],
        [d, 1],
      ],
    );
    assert.deepEqual([...s.stats.resyncSucceeded], [[c, 1]]);
    const stillHanging = resync(d).catch((err: unknown) => err);
    await until(() => s.stats.resyncCalls.get(d) === 2);
    // A close() that waited for the hung request would never return: the test's timeout would end it.
    await s.close();
    assert.ok((await stillHanging) instanceof Error);
  } finally {
    await s.close();
  }
});

test('tokens: expiry, revocation, missing, and another instance', async (t) => {
  let now = 1000;
  const s = await sim(t, { tokenLifetimeMs: 200, clock: () => now });
  const mine = s.instances[0]!.tenants[0]!.id;
  const theirs = s.instances[1]!.tenants[0]!.id;
  const tok = await token(s, 1001);
  now += 50;
  assert.equal((await aps(s, tok, listing(`implementing(${TYPE})`))).status, 200);
  assert.equal(s.stats.maxTokenAgeUsedMs, 50);
  const other = await aps(s, tok, `aps/2/resources/${theirs}/synchronize_async?fullSync=true`);
  assert.equal(other.status, 404);
  now += 150;
  assert.equal(
    (await aps(s, tok, listing(`implementing(${TYPE})`))).status,
    200,
    'a token of exactly its lifetime is still good',
  );
  now += 1;
  const stale = await aps(s, tok, `aps/2/resources/${mine}/synchronize_async?fullSync=true`);
  assert.equal(stale.status, 500);
  assert.equal(stale.type, 'application/json');
  assert.equal(stale.body, AUTH_FAILED);
  const fresh = await token(s, 1001);
  assert.equal((await aps(s, fresh, `aps/2/resources/${mine}/synchronize_async?fullSync=true`)).status, 202);
  s.revokeTokens();
  assert.equal((await aps(s, fresh, listing(`implementing(${TYPE})`))).body, AUTH_FAILED);
  assert.equal((await aps(s, undefined, listing(`implementing(${TYPE})`))).body, AUTH_FAILED);
  assert.equal(s.stats.staleTokenRefusals, 3);
  // Only the expired one is counted by instance: the revoked and the missing token have none.
  assert.deepEqual([...s.stats.expiredTokenRefusalsByInstance], [[1001, 1]]);
  assert.equal(s.stats.maxTokenAgeUsedMs, 200);
});

test('maxTokenAgeSentMs: from the issue to the arrival of the call before on the same connection', async (t) => {
  let now = 0;
  const s = await sim(t, { instances: 1, clock: () => now });
  const tok = await token(s, 1001);
  const connection = new Agent({ connections: 1 });
  t.after(() => connection.close());
  const onOneConnection = () => aps(s, tok, listing(`limit(0,1)`), { dispatcher: connection });
  now = 30;
  await onOneConnection();
  assert.equal(s.stats.maxTokenAgeSentMs, 0, 'the first call on a connection could have left at the issue');
  now = 70;
  await onOneConnection();
  assert.equal(s.stats.maxTokenAgeSentMs, 30, 'the second left after the first arrived, at 30');
  assert.equal(s.stats.maxTokenAgeUsedMs, 70);
});

test('OA content type: text/xml by default, any other, or none', async (t) => {
  for (const [option, expected] of [
    [undefined, 'text/xml'],
    ['text/plain', 'text/plain'],
    [null, null],
  ] as const) {
    const s = await sim(t, option === undefined ? {} : { oaContentType: option });
    const raw = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 });
    assert.equal(raw.type, expected);
    assert.equal(((await parseXmlRpc(raw.body)) as { status: number }).status, 0);
  }
});

test('OA hangToken: token requests are never answered, other calls are', async (t) => {
  const s = await sim(t);
  s.setOaFault('hangToken');
  assert.equal((await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 })).status, 200);
  await assert.rejects(token(s, 1001, { signal: AbortSignal.timeout(150) }));
  assert.equal(s.stats.tokensIssued, 0);
});

test('controller down, seeded 503 rate, tenants added and removed', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 2 });
  const tok = await token(s, 1001);
  const list = () => aps(s, tok, listing(`implementing(${TYPE}),eq(aps.status,aps:ready)`));
  s.setControllerDown(true);
  const down = await list();
  assert.equal(down.status, 503);
  assert.equal(down.type, 'text/html');
  assert.match(down.body, /<html>/);
  s.setControllerDown(false);
  const added = s.addTenant(1001);
  const provisioning = s.addTenant(1001, 'aps:provisioning');
  assert.equal(provisioning.status, 'aps:provisioning');
  assert.equal((await list()).headers.get('content-range'), 'items 0-2/3');
  s.removeTenant(added.id);
  const after = await list();
  assert.equal(after.headers.get('content-range'), 'items 0-1/2');
  assert.ok(!(JSON.parse(after.body) as { aps: { id: string } }[]).some((x) => x.aps.id === added.id));
  assert.equal((await aps(s, tok, `aps/2/resources/${added.id}/synchronize_async?fullSync=true`)).status, 404);

  const pattern = async (seed: number) => {
    const flaky = await sim(t, { instances: 1, tenantsPerInstance: 1, transient503Rate: 0.5, seed });
    const ftok = await token(flaky, 1001);
    let out = '';
    for (let i = 0; i < 30; i++) out += (await aps(flaky, ftok, listing(`limit(0,1)`))).status === 503 ? 'x' : '.';
    return out;
  };
  const one = await pattern(7);
  assert.match(one, /x/);
  assert.match(one, /\./);
  assert.equal(await pattern(7), one);
});

test('peakInFlight and latency', async (t) => {
  // Held long enough that all five are in flight together however slowly they are sent. Load can only
  // lengthen the time taken, and the clock is monotonic, so the lower bound holds on any machine.
  const s = await sim(t, { instances: 1, latencyMs: 300 });
  const tok = await token(s, 1001);
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 5 }, () => aps(s, tok, listing(`limit(0,1)`))));
  assert.ok(replies.every((r) => r.status === 200));
  assert.ok(performance.now() - started >= 300);
  assert.equal(s.stats.peakInFlight, 5);
  assert.equal(s.stats.requests, 5);
});

test('ids are deterministic; https on both sides with the test CA; an unrelated CA is refused', async (t) => {
  const s = await sim(t, { https: true, oaHttps: true, tenantType: `${TYPE.replace('2.0', '2.8')}` });
  const again = await sim(t, { instances: 1 });
  const withoutType = (i: Simulator['instances'][number]) => i.tenants.map(({ type: _, ...rest }) => rest);
  assert.deepEqual(withoutType(again.instances[0]!), withoutType(s.instances[0]!));
  assert.equal(again.instances[0]!.resourceId, s.instances[0]!.resourceId);
  assert.match(s.instances[1]!.resourceId, UUID);
  assert.match(s.instances[1]!.tenants[9]!.id, UUID);
  assert.match(s.oaUrl, /^https:\/\/127\.0\.0\.1:\d+\/RPC2$/);
  assert.match(s.apsUrl, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.deepEqual(s.env(), {
    OFFICE_APP_ID: '41',
    OA_HOST: '127.0.0.1',
    OA_PORT: String(s.oaPort),
    OA_TLS: 'true',
    OA_CA_FILE: s.caFile,
    APS_CA_FILE: s.caFile,
  });
  const trusted = new Agent({ connect: { ca: readFileSync(s.caFile) } });
  const untrusted = new Agent({ connect: { ca: readFileSync(otherCaFile()) } });
  t.after(() => Promise.all([trusted.close(), untrusted.close()]));
  const tok = await token(s, 1002, { dispatcher: trusted });
  const raw = await aps(s, tok, listing(`implementing(${TYPE.replace('2.0', '2.8')}),limit(0,2)`), {
    dispatcher: trusted,
  });
  assert.equal(raw.headers.get('content-range'), 'items 0-1/10');
  await assert.rejects(aps(s, tok, listing('limit(0,1)'), { dispatcher: untrusted }), (err: Error) => {
    assert.match(
      String((err.cause as { code?: string } | undefined)?.code),
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
    );
    return true;
  });
  await assert.rejects(oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, { dispatcher: untrusted }));
});

test('refusal switches: either token refusal wording at any status; OA answers a wrong password 403 when told; a raw Java exception', async (t) => {
  for (const [wording, status, body] of [
    ['unauthorizedRequest', 500, '{"code": 500, "error": "APS::Util::Exception", "message": "Unauthorized request"}'],
    ['unauthorizedRequest', 403, '{"code": 403, "error": "APS::Util::Exception", "message": "Unauthorized request"}'],
    [
      'authenticationFailed',
      403,
      '{"code": 403, "error": "APS::Hosting::Exception", "message": "Authentication failed."}',
    ],
  ] as const) {
    const s = await sim(t, { instances: 1, tenantsPerInstance: 2, tokenRefusal: { wording, status } });
    const tok = await token(s, 1001);
    assert.equal((await aps(s, tok, listing(`implementing(${TYPE})`))).status, 200);
    s.revokeTokens();
    const refused = await aps(s, tok, listing(`implementing(${TYPE})`));
    assert.deepEqual([refused.status, refused.type, refused.body], [status, 'application/json', body]);
    assert.equal(s.stats.staleTokenRefusals, 1);
  }

  const s = await sim(t, { oaAuth: { user: 'admin', password: 's3cret', wrongStatus: 403 } });
  const basic = (password: string) => ({
    headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
  });
  const wrong = await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, basic('wrong'));
  assert.deepEqual([wrong.status, wrong.type, wrong.headers.get('www-authenticate')], [403, 'text/html', null]);
  assert.equal(
    (await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 })).status,
    401,
    'missing credentials are still 401',
  );
  assert.equal((await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, basic('s3cret'))).status, 200);

  s.setOaFault('javaException');
  assert.deepEqual(
    await parseXmlRpc((await oa(s, 'pem.APS.getApplicationInstances', { app_id: 41 }, basic('s3cret'))).body),
    {
      status: -1,
      error_message: 'java.lang.NullPointerException: null',
    },
  );
});

test('listing: an unknown filter or operator is a 400, not ignored; limit(n) defaults the count to 1000', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 1200, pageCap: 5000 });
  const tok = await token(s, 1001);
  for (const rql of [
    `eq(initial_subdomain,${s.instances[0]!.tenants[0]!.subdomain})`,
    'like(aps.id,0*)',
    `implementing(${TYPE}),ne(aps.status,aps:ready)`,
    `or(implementing(${TYPE}),eq(aps.status,aps:ready))`,
  ]) {
    const raw = await aps(s, tok, listing(rql));
    assert.equal(raw.status, 400, rql);
    assert.equal(JSON.parse(raw.body).type, 'APS::Util::InvalidRQL', rql);
  }
  const raw = await aps(s, tok, listing(`implementing(${TYPE}),sort(+aps.id),limit(150)`));
  assert.equal(raw.status, 200, raw.body);
  assert.equal(raw.headers.get('content-range'), 'items 150-1149/1200');
  assert.equal((JSON.parse(raw.body) as unknown[]).length, 1000);
});

test('a GET operation answers 405 to POST, sync_status included', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 1 });
  const tok = await token(s, 1001);
  const tenant = s.readyTenants()[0]!.id;
  for (const operation of ['synchronize_async?fullSync=true', 'synchronize', 'sync_status']) {
    const raw = await aps(s, tok, `aps/2/resources/${tenant}/${operation}`, { method: 'POST', body: '{}' });
    assert.equal(raw.status, 405, operation);
  }
  assert.equal(s.stats.resyncSucceeded.size, 0, 'no refused call started a synchronization');
});

const TYPE_28 = TYPE.replace('2.0', '2.8');

test('types library: every type with its implements, paged like any collection; id= finds one', async (t) => {
  const s = await sim(t, { tenantType: [TYPE, TYPE_28], typeImplements: { [TYPE_28]: [TYPE] }, pageCap: 2 });
  const tok = await token(s, 1001);
  const types: { aps: { id: string }; id: string; implements: string[] }[] = [];
  for (let offset = 0; ; offset += 2) {
    const raw = await aps(s, tok, `aps/2/types?limit(${offset},100)`);
    assert.equal(raw.status, 200, raw.body);
    const page = JSON.parse(raw.body) as typeof types;
    if (page.length === 0) break;
    assert.match(raw.headers.get('content-range') ?? '', new RegExp(`^items ${offset}-${offset + page.length - 1}/5$`));
    types.push(...page);
  }
  const core = 'http://aps-standard.org/types/core/resource/1.0';
  assert.deepEqual(
    types.map((type) => [type.id, type.implements]),
    [
      [core, []],
      ['http://www.parallels.com/Office365/Domain/2.0', [core]],
      ['http://www.parallels.com/Office365/User/2.0', [core]],
      [TYPE, [core]],
      [TYPE_28, [core, TYPE]],
    ],
  );
  assert.ok(types.every((type) => /^\d+$/.test(type.aps.id)));
  const one = await aps(s, tok, `aps/2/types?id=${TYPE_28}`);
  assert.deepEqual(
    (JSON.parse(one.body) as typeof types).map((type) => type.id),
    [TYPE_28],
  );
  assert.equal((await aps(s, tok, `aps/2/types?eq(name,Tenant)`)).status, 400);
  assert.equal((await aps(s, undefined, 'aps/2/types')).status, 500, 'a token is needed, as for resources');
  assert.equal(s.stats.typesRequests, 4 + 3, 'four pages, id=, the refused query and the call without a token');
});

test('types library refused or absent, as the switch says', async (t) => {
  for (const answer of [401, 403, 404] as const) {
    const s = await sim(t, { instances: 1, typesLibrary: answer });
    const raw = await aps(s, await token(s, 1001), 'aps/2/types');
    assert.equal(raw.status, answer);
    assert.equal(JSON.parse(raw.body).code, answer);
  }
});

test('instances on different tenant types: implementing() follows implements, or() lists each tenant once', async (t) => {
  const s = await sim(t, {
    tenantType: [TYPE, TYPE_28],
    tenantsPerInstance: 3,
    typeImplements: { [TYPE_28]: [TYPE] },
  });
  const types = async (instance: number, rql: string) => {
    const raw = await aps(s, await token(s, instance), listing(rql));
    assert.equal(raw.status, 200, raw.body);
    return (JSON.parse(raw.body) as { aps: { type: string } }[]).map((x) => x.aps.type);
  };
  assert.deepEqual(await types(1001, `implementing(${TYPE})`), [TYPE, TYPE, TYPE]);
  assert.deepEqual(await types(1001, `implementing(${TYPE_28})`), []);
  assert.deepEqual(await types(1002, `implementing(${TYPE_28})`), [TYPE_28, TYPE_28, TYPE_28]);
  assert.deepEqual(await types(1002, `implementing(${TYPE})`), [TYPE_28, TYPE_28, TYPE_28], '2.8 implements 2.0');
  assert.deepEqual(await types(1002, `or(implementing(${TYPE}),implementing(${TYPE_28})),sort(+aps.id)`), [
    TYPE_28,
    TYPE_28,
    TYPE_28,
  ]);
  const unrelated = await sim(t, { tenantType: [TYPE, TYPE_28], tenantsPerInstance: 2 });
  const raw = await aps(unrelated, await token(unrelated, 1002), listing(`implementing(${TYPE})`));
  assert.deepEqual(JSON.parse(raw.body), [], 'without implements, 2.8 tenants are not 2.0 ones');
});

test('an instance part-way through an upgrade: mixed tenant types, and a tenant upgraded keeps its id', async (t) => {
  const s = await sim(t, { instances: 1, tenantsPerInstance: 4, mixedTenantType: { type: TYPE_28, every: 2 } });
  const tok = await token(s, 1001);
  const listed = async (rql: string) =>
    (JSON.parse((await aps(s, tok, listing(rql))).body) as { aps: { id: string; type: string } }[]).map((x) => [
      x.aps.id,
      x.aps.type,
    ]);
  const [a, b, c, d] = s.instances[0]!.tenants.map((x) => x.id) as [string, string, string, string];
  assert.deepEqual(await listed(`or(implementing(${TYPE}),implementing(${TYPE_28}))`), [
    [a, TYPE],
    [b, TYPE_28],
    [c, TYPE],
    [d, TYPE_28],
  ]);
  const TYPE_30 = TYPE.replace('2.0', '3.0');
  s.upgradeTenant(a, TYPE_30);
  assert.deepEqual(await listed(`implementing(${TYPE_30})`), [[a, TYPE_30]]);
  assert.deepEqual(await listed(`implementing(${TYPE})`), [[c, TYPE]]);
  const library = JSON.parse((await aps(s, tok, 'aps/2/types')).body) as { id: string }[];
  assert.deepEqual(library.map((type) => type.id).slice(-3), [TYPE, TYPE_28, TYPE_30], 'the library learns 3.0');
});
