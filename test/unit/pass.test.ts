import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApsError, ControllerDownError, NetworkError, ProtocolError, TokenRenewalError } from '../../src/errors';
import { runPass, type PassOptions } from '../../src/sync/pass';
import type {
  InstanceDirectory,
  ListingOptions,
  PassJournal,
  TenantDone,
  ResyncResult,
  Tenant,
  TenantController,
} from '../../src/sync/ports';

/** An in-memory OA and controller: the pass is plain logic and is tested without sockets here. */
function world(
  tenantsPerInstance: Record<number, string[]>,
  behaviour: (tenant: string) => Promise<ResyncResult> = async () => ({ outcome: 'synced' }),
) {
  const resyncs: string[] = [];
  let inFlight = 0;
  let peak = 0;
  let tokens = 0;
  const directory: InstanceDirectory = {
    listInstances: async () => Object.keys(tenantsPerInstance).map((id) => ({ id: Number(id), resourceId: `r-${id}` })),
    issueToken: async (id) => ({ token: `tok-${id}-${++tokens}` }),
  };
  const controllerFor = (instance: { id: number }): TenantController => ({
    /** An id starting with `!` is a listed item that is not a tenant. */
    async *listTenants({ authorized, ...hooks }: ListingOptions) {
      const all = tenantsPerInstance[instance.id]!;
      for (let offset = 0; offset < all.length; offset += 2) {
        const page = await authorized(async () => all.slice(offset, offset + 2));
        for (const id of page) {
          if (id.startsWith('!')) hooks.onInvalidItem?.(`tenant list item ${id} skipped: it has no aps.id`);
          else yield { id } as Tenant;
        }
      }
    },
    resync: (tenantId, authorized) =>
      authorized(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          await new Promise((r) => setTimeout(r, 1));
          resyncs.push(tenantId);
          return await behaviour(tenantId);
        } finally {
          inFlight--;
        }
      }),
  });
  return { directory, controllerFor, resyncs, peak: () => peak, tokens: () => tokens };
}

const options: PassOptions = {
  appId: 41,
  concurrency: 3,
  dryRun: false,
  tokenRefreshEvery: 100,
  tokenMaxAgeMs: 60_000,
  maxConsecutiveFailures: 5,
};
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('every tenant of every instance is resynced exactly once, within the concurrency', async () => {
  const w = world({ 1: names('a', 7), 2: names('b', 5) });
  const result = await runPass(options, w);
  assert.equal(result.instances, 2);
  assert.equal(result.synced, 12);
  assert.deepEqual([...w.resyncs].sort(), [...names('a', 7), ...names('b', 5)].sort());
  assert.ok(w.peak() <= 3 && w.peak() >= 2, `peak ${w.peak()}`);
});

test('a failing tenant is counted and the pass goes on; 404 counts as skipped', async () => {
  const w = world({ 1: names('a', 6) }, async (t) => {
    if (t === 'a1') throw new ApsError(500, 'Office 365 rejected the request', 'APS::Hosting::Exception');
    if (t === 'a2') throw new ApsError(404, 'Resource a2 not found', 'APS::Util::NotFound');
    if (t === 'a3') return { outcome: 'failed', message: '1 of 2 objects failed' };
    return { outcome: 'synced' };
  });
  const failed: string[] = [];
  const result = await runPass(options, { ...w, events: { tenantFailed: (_i, t, m) => failed.push(`${t.id}: ${m}`) } });
  assert.deepEqual(
    { synced: result.synced, failed: result.failed, skipped: result.skipped, tenants: result.tenants },
    { synced: 3, failed: 2, skipped: 1, tenants: 6 },
  );
  assert.deepEqual(failed.sort(), [
    'a1: APS controller answered 500 APS::Hosting::Exception: Office 365 rejected the request',
    'a3: 1 of 2 objects failed',
  ]);
});

test('listed items that are not tenants are counted and told, once each, and the pass goes on', async () => {
  const w = world({ 1: ['a0', '!x', 'a1'], 2: ['!y', 'b0'] });
  const told: string[] = [];
  const result = await runPass(options, {
    ...w,
    events: { listingItemInvalid: (i, reason) => told.push(`${i.id}: ${reason}`) },
  });
  assert.deepEqual([result.synced, result.invalid, result.tenants], [3, 2, 3]);
  assert.deepEqual(told, [
    '1: tenant list item !x skipped: it has no aps.id',
    '2: tenant list item !y skipped: it has no aps.id',
  ]);
});

test('a dry run lists everything and resyncs nothing', async () => {
  const w = world({ 1: names('a', 4) });
  const planned: string[] = [];
  const result = await runPass(
    { ...options, dryRun: true },
    { ...w, events: { wouldResync: (_i, t) => planned.push(t.id) } },
  );
  assert.equal(w.resyncs.length, 0);
  assert.equal(result.planned, 4);
  assert.deepEqual(planned, names('a', 4));
});

test('the token is renewed by count during the pass', async () => {
  const w = world({ 1: names('a', 10) });
  const result = await runPass({ ...options, tokenRefreshEvery: 3 }, w);
  assert.equal(result.synced, 10);
  assert.equal(result.tokenRefreshes, 3);
});

test('consecutive controller failures stop the pass; the tenants it failed are journaled at once, to be retried', async () => {
  const w = world({ 1: names('a', 40) }, async (t) => {
    if (Number(t.slice(1)) >= 4) throw new NetworkError('aps', 'http://controller', 'ECONNREFUSED');
    return { outcome: 'synced' };
  });
  const done = new Map<string, TenantDone>();
  const journal: PassJournal = {
    resumePoint: () => undefined,
    retries: () => [],
    handOut: (_i, t) => done.has(t),
    recordDone: (_i, t, d) => void done.set(t, d),
  };
  const result = await runPass({ ...options, concurrency: 1 }, { ...w, journal });
  assert.ok(result.interruptedBy instanceof Error && /5 consecutive/.test(result.interruptedBy.message));
  assert.equal(result.synced, 4);
  assert.equal(result.failed, 5);
  assert.deepEqual([...done.keys()], names('a', 9));
  assert.deepEqual(
    [...done].filter(([, d]) => d.byController).map(([t]) => t),
    names('a', 9).slice(4),
    'failed by the controller, not by themselves',
  );
});

test('the tenants the controller failed are journaled as it fails them, apart from those failed by themselves', async () => {
  const w = world({ 1: names('a', 8) }, async (t) => {
    if (t === 'a2' || t === 'a5') throw new NetworkError('aps', 'http://controller', 'no answer within 300 ms');
    if (t === 'a6') throw new ApsError(500, 'Office 365 rejected the request', 'APS::Hosting::Exception');
    return { outcome: 'synced' };
  });
  const done = new Map<string, TenantDone>();
  const journal: PassJournal = {
    resumePoint: () => undefined,
    retries: () => [],
    handOut: (_i, t) => done.has(t),
    recordDone: (_i, t, d) => void done.set(t, d),
  };
  const result = await runPass(options, { ...w, journal });
  assert.equal(result.interruptedBy, undefined);
  assert.deepEqual({ synced: result.synced, failed: result.failed }, { synced: 5, failed: 3 });
  const failed = (byController: boolean) =>
    [...done]
      .filter(([, d]) => d.outcome === 'failed' && !!d.byController === byController)
      .map(([t]) => t)
      .sort();
  assert.deepEqual([failed(true), failed(false)], [['a2', 'a5'], ['a6']]);
  assert.equal(done.size, 8);
});

test("a token renewal that OA answers badly is not the tenant's fault: not journaled, and it counts towards controller down", async () => {
  let issued = 0;
  const w = world({ 1: names('a', 30) });
  const directory = {
    ...w.directory,
    issueToken: async (id: number) => {
      if (++issued > 2)
        throw new ProtocolError(
          'oa',
          'OA pem.APS.getApplicationInstanceToken: reply is not valid XML-RPC: Unclosed root tag',
        );
      return { token: `tok-${id}-${issued}` };
    },
  };
  const done = new Map<string, TenantDone>();
  const journal: PassJournal = {
    resumePoint: () => undefined,
    retries: () => [],
    handOut: (_i, t) => done.has(t),
    recordDone: (_i, t, d) => void done.set(t, d),
  };
  const result = await runPass({ ...options, concurrency: 1, tokenRefreshEvery: 3 }, { ...w, directory, journal });
  assert.ok(
    result.interruptedBy instanceof Error && /5 consecutive .*not valid XML-RPC/.test(result.interruptedBy.message),
    String(result.interruptedBy),
  );
  const [byController, byTenant] = [
    [...done.values()].filter((d) => d.byController),
    [...done.values()].filter((d) => !d.byController),
  ];
  assert.deepEqual(
    byTenant.map((d) => d.outcome),
    Array(6).fill('synced'),
    'only the tenants really synced are journaled as done',
  );
  assert.deepEqual(
    byController.map((d) => d.outcome),
    Array(5).fill('failed'),
    'the others are kept to be retried',
  );
  assert.equal(result.failed, 5);
});

test('tenants the journal says are done are not resynced again', async () => {
  const w = world({ 1: names('a', 5) });
  const journal: PassJournal = {
    resumePoint: () => undefined,
    retries: () => [],
    handOut: (_i, t) => t === 'a0' || t === 'a3',
    recordDone: () => undefined,
  };
  const result = await runPass(options, { ...w, journal });
  assert.deepEqual([...w.resyncs].sort(), ['a1', 'a2', 'a4']);
  assert.equal(result.alreadyDone, 2);
});

test('a stop signal stops starting tenants but lets those in flight finish', async () => {
  const stop = new AbortController();
  let started = 0;
  const w = world({ 1: names('a', 50) }, async () => {
    if (++started === 5) stop.abort();
    return { outcome: 'synced' };
  });
  const result = await runPass(options, { ...w, stop: stop.signal });
  assert.equal(result.interruptedBy, 'signal');
  assert.ok(result.synced >= 5 && result.synced < 10, `synced ${result.synced}`);
  assert.equal(result.synced, w.resyncs.length);
});

test('an instance that cannot be listed because the controller is unreachable stops the pass there, so it can be resumed', async () => {
  const w = world({ 1: names('a', 3), 2: names('b', 3), 3: names('c', 3) });
  const unreachable = {
    ...w,
    controllerFor: (i: { id: number; resourceId: string }) => {
      const c = w.controllerFor(i);
      if (i.id !== 2) return c;
      return {
        ...c,
        listTenants: () => ({
          [Symbol.asyncIterator]: () => ({
            next: () => Promise.reject(new ApsError(503, '503 Service Temporarily Unavailable', undefined)),
          }),
        }),
      };
    },
  };
  const result = await runPass(options, unreachable);
  assert.ok(result.interruptedBy instanceof ControllerDownError);
  assert.equal(
    result.interruptedBy.message,
    'stopped at instance 2: APS controller answered 503: 503 Service Temporarily Unavailable',
  );
  assert.deepEqual(
    result.instanceFailures.map((f) => f.instanceId),
    [2],
  );
  assert.deepEqual(w.resyncs, names('a', 3), 'instance 3 is left for the resumed pass');
});

test('an instance whose listing fails is reported and the next instance still runs', async () => {
  const w = world({ 1: names('a', 3), 2: names('b', 3) });
  const broken = {
    ...w,
    controllerFor: (i: { id: number; resourceId: string }) => {
      const c = w.controllerFor(i);
      if (i.id !== 1) return c;
      return {
        ...c,
        listTenants: () => ({
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new ApsError(403, 'Forbidden', undefined)) }),
        }),
      };
    },
  };
  const result = await runPass(options, broken);
  assert.equal(result.instanceFailures.length, 1);
  assert.equal(result.instanceFailures[0]!.instanceId, 1);
  assert.equal(result.synced, 3);
});

/** A world whose listings say their totals and whose calls are timed in one log of what happened when. */
function timedWorld(tenantsPerInstance: Record<number, string[]>) {
  const w = world(tenantsPerInstance);
  const happened: string[] = [];
  const directory: InstanceDirectory = {
    ...w.directory,
    issueToken: async (id) => {
      happened.push(`token ${id}`);
      return w.directory.issueToken(id);
    },
  };
  const controllerFor = (instance: { id: number; resourceId: string }): TenantController => {
    const c = w.controllerFor(instance);
    const all = tenantsPerInstance[instance.id]!;
    return {
      ...c,
      async *listTenants({ authorized, ...hooks }) {
        for (let offset = 0; offset < all.length; offset += 2) {
          const page = await authorized(async () => all.slice(offset, offset + 2));
          hooks.onTotal?.(all.length);
          for (const id of page) yield { id } as Tenant;
        }
      },
      resync: async (tenantId, authorized) => {
        happened.push(`start ${tenantId}`);
        const r = await c.resync(tenantId, authorized);
        happened.push(`end ${tenantId}`);
        return r;
      },
    };
  };
  return { ...w, directory, controllerFor, happened };
}

test("one pool across instances: the next instance opens and starts while the current one's last tenants run", async () => {
  const w = timedWorld({ 1: names('a', 30), 2: names('b', 30) });
  const finished: { id: number; synced: number; tenants: number }[] = [];
  const started: number[] = [];
  const result = await runPass(options, {
    ...w,
    events: {
      instanceStarted: (i) => started.push(i.id),
      instanceFinished: (i, c) => finished.push({ id: i.id, synced: c.synced, tenants: c.tenants }),
    },
  });
  const at = (what: string) => w.happened.indexOf(what);
  const lastEndOfFirst = Math.max(...names('a', 30).map((t) => at(`end ${t}`)));
  const lastStartOfFirst = Math.max(...names('a', 30).map((t) => at(`start ${t}`)));
  assert.ok(
    at('token 2') < lastStartOfFirst,
    "the second instance's token is asked for before the first hands out its last tenant",
  );
  assert.ok(
    at('start b0') < lastEndOfFirst,
    "the second instance's first resync starts before the first instance's last one ends",
  );
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(finished, [
    { id: 1, synced: 30, tenants: 30 },
    { id: 2, synced: 30, tenants: 30 },
  ]);
  assert.equal(result.synced, 60);
  assert.ok(w.peak() <= 3, `peak ${w.peak()}`);
});

test('many small instances share the pool: their tenants run side by side', async () => {
  const w = timedWorld({ 1: ['a0'], 2: ['b0'], 3: ['c0'], 4: ['d0'] });
  const result = await runPass(options, w);
  assert.equal(result.synced, 4);
  assert.ok(w.happened.indexOf('start b0') < w.happened.indexOf('end a0'), w.happened.join(', '));
  assert.equal(w.peak(), 3);
});

test('an instance whose listing fails mid-way ends alone: the tenants of the others are all resynced, and each instance counts its own', async () => {
  const w = timedWorld({ 1: names('a', 6), 2: names('b', 6), 3: names('c', 6) });
  const broken = {
    ...w,
    controllerFor: (i: { id: number; resourceId: string }): TenantController => {
      const c = w.controllerFor(i);
      if (i.id !== 2) return c;
      return {
        ...c,
        async *listTenants({ authorized, ...hooks }) {
          hooks.onTotal?.(6);
          yield* (await authorized(async () => ['b0', 'b1'])).map((id) => ({ id }));
          throw new ApsError(403, 'Forbidden', undefined);
        },
      };
    },
  };
  const finished = new Map<number, number>();
  const failed: number[] = [];
  const result = await runPass(options, {
    ...broken,
    events: { instanceFinished: (i, c) => finished.set(i.id, c.synced), instanceFailed: (i) => failed.push(i.id) },
  });
  assert.deepEqual(failed, [2]);
  assert.deepEqual(
    result.instanceFailures.map((f) => f.instanceId),
    [2],
  );
  assert.deepEqual([...w.resyncs].sort(), [...names('a', 6), 'b0', 'b1', ...names('c', 6)].sort());
  assert.deepEqual([...finished].sort(), [
    [1, 6],
    [2, 2],
    [3, 6],
  ]);
  assert.equal(result.synced, 14);
});

test("a stop signal near an instance's end starts nothing of the next instance, even one opened ahead", async () => {
  const stop = new AbortController();
  const w = timedWorld({ 1: names('a', 10), 2: names('b', 10) });
  const stopping = {
    ...w,
    controllerFor: (i: { id: number; resourceId: string }): TenantController => {
      const c = w.controllerFor(i);
      return {
        ...c,
        resync: async (tenantId, authorized) => {
          if (tenantId === 'a8') stop.abort();
          return c.resync(tenantId, authorized);
        },
      };
    },
  };
  const finished: number[] = [];
  const result = await runPass(options, {
    ...stopping,
    stop: stop.signal,
    events: { instanceFinished: (i) => finished.push(i.id) },
  });
  assert.equal(result.interruptedBy, 'signal');
  assert.ok(w.happened.includes('token 2'), 'the second instance was opened ahead');
  assert.deepEqual(
    w.resyncs.filter((t) => t.startsWith('b')),
    [],
  );
  assert.ok(w.resyncs.includes('a8'));
  assert.equal(result.synced, w.resyncs.length);
  assert.deepEqual(finished, [1, 2], 'an instance opened ahead is finished, with nothing counted');
});

test("a failure that ends the pass, met by one of an instance's last tenants after its listing ended, is told and stops the pass", async () => {
  const w = world({ 1: names('a', 3), 2: names('b', 20) }, async (t) => {
    if (t === 'a2')
      throw new TokenRenewalError('OA took 2 s to issue a token, already past the age a token may be used');
    return { outcome: 'synced' };
  });
  const failed: number[] = [];
  const result = await runPass(options, { ...w, events: { instanceFailed: (i) => failed.push(i.id) } });
  assert.deepEqual(failed, [1]);
  assert.ok(result.interruptedBy instanceof ControllerDownError, String(result.interruptedBy));
  assert.ok(w.resyncs.filter((t) => t.startsWith('b')).length < 20, 'instance 2 is left for the resumed pass');
});
