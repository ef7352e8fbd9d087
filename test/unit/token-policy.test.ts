import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApsError, TokenRenewalError } from '../../src/errors';
import { TokenLifetime } from '../../src/sync/token-lifetime';
import type { RenewalReason } from '../../src/sync/ports';
import { MAX_RENEWALS_WITHOUT_SUCCESS, TokenPolicy } from '../../src/sync/token-policy';

function harness(
  refreshEvery: number,
  maxAgeMs: number,
  options: { issueMs?: number; lifetime?: TokenLifetime; tenantsAhead?: () => number } = {},
) {
  let clock = 0;
  let issued = 0;
  const reasons: RenewalReason[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const lifetime = options.lifetime ?? new TokenLifetime({ configuredMaxAgeMs: maxAgeMs });
  const policy = new TokenPolicy({
    refreshEvery,
    lifetime,
    now: () => clock,
    issue: async () => {
      const n = ++issued;
      await gate;
      clock += options.issueMs ?? 0;
      return { token: `t${n}` };
    },
    onRenewed: (r) => reasons.push(r),
    tenantsAhead: options.tenantsAhead,
  });
  return {
    policy,
    lifetime,
    reasons,
    issued: () => issued,
    now: () => clock,
    advance: (ms: number) => (clock += ms),
    holdIssues: () => {
      gate = new Promise<void>((r) => (open = r));
    },
    releaseIssue: () => {
      gate = undefined;
      open?.();
    },
  };
}

const echo = (token: string) => Promise.resolve(token);

test('renews after refreshEvery tenants, counting tenants started', async () => {
  const h = harness(3, 60_000);
  const used: string[] = [];
  for (let i = 0; i < 7; i++) used.push(await h.policy.run(echo, true));
  assert.deepEqual(used, ['t1', 't1', 't1', 't2', 't2', 't2', 't3']);
  assert.deepEqual(h.reasons, ['first', 'count', 'count']);
  assert.equal(h.policy.renewals, 2);
});

test('listing calls do not count towards the tenant count', async () => {
  const h = harness(2, 60_000);
  for (let i = 0; i < 5; i++) await h.policy.run(echo);
  assert.equal(await h.policy.run(echo, true), 't1');
  assert.equal(h.issued(), 1);
});

test('renews once the token reaches its maximum age, before the count', async () => {
  const h = harness(100, 1_000);
  assert.equal(await h.policy.run(echo, true), 't1');
  h.advance(999);
  assert.equal(await h.policy.run(echo, true), 't1');
  h.advance(1);
  assert.equal(await h.policy.run(echo, true), 't2');
  assert.deepEqual(h.reasons, ['first', 'age']);
});

test('a refused token is renewed once and the call retried with the new token', async () => {
  const h = harness(100, 60_000);
  const seen: string[] = [];
  const result = await h.policy.run(async (token) => {
    seen.push(token);
    if (token === 't1') throw new ApsError(500, 'Authentication failed.', 'APS::Hosting::Exception');
    return 'done';
  }, true);
  assert.equal(result, 'done');
  assert.deepEqual(seen, ['t1', 't2']);
  assert.deepEqual(h.reasons, ['first', 'refused']);
});

test('a token refused twice in a row fails the call instead of looping', async () => {
  const h = harness(100, 60_000);
  const refuse = async () => {
    throw new ApsError(401, 'Unauthorized', undefined);
  };
  await assert.rejects(h.policy.run(refuse, true), (e: unknown) => e instanceof ApsError && e.status === 401);
  assert.equal(h.issued(), 2);
});

test('other errors are not treated as a refused token', async () => {
  const h = harness(100, 60_000);
  await assert.rejects(
    h.policy.run(async () => {
      throw new ApsError(500, 'Office 365 rejected the request', 'APS::Hosting::Exception');
    }),
    /Office 365 rejected/,
  );
  assert.equal(h.issued(), 1);
});

test('concurrent callers share one renewal (single flight)', async () => {
  const h = harness(2, 60_000);
  await h.policy.run(echo, true);
  await h.policy.run(echo, true);
  h.holdIssues();
  const waiting = Array.from({ length: 10 }, () => h.policy.run(echo, true));
  await new Promise((r) => setImmediate(r));
  h.releaseIssue();
  const used = await Promise.all(waiting);
  // One renewal for the first two of the ten, then the count rule renews again every two tenants.
  assert.equal(h.issued(), 6);
  assert.deepEqual(used, ['t2', 't2', 't3', 't3', 't4', 't4', 't5', 't5', 't6', 't6']);
});

test('concurrent refusals of the same token renew it only once', async () => {
  const h = harness(100, 60_000);
  await h.policy.run(echo);
  const refusedOnce = async (token: string) => {
    if (token === 't1') throw new ApsError(500, 'Authentication failed.', 'APS::Hosting::Exception');
    return token;
  };
  const used = await Promise.all(Array.from({ length: 8 }, () => h.policy.run(refusedOnce, true)));
  assert.deepEqual(used, Array(8).fill('t2'));
  assert.equal(h.issued(), 2);
});

test('a failed renewal is reported to every waiting caller', async () => {
  let calls = 0;
  const policy = new TokenPolicy({
    refreshEvery: 10,
    lifetime: new TokenLifetime({ configuredMaxAgeMs: 1000 }),
    issue: async () => {
      calls++;
      throw new Error('OA is down');
    },
  });
  const results = await Promise.allSettled([policy.run(echo), policy.run(echo), policy.run(echo)]);
  assert.ok(results.every((r) => r.status === 'rejected' && /OA is down/.test(String(r.reason))));
  assert.equal(calls, 1);
});

const refusal = (): ApsError => new ApsError(500, 'Authentication failed.', 'APS::Hosting::Exception');

test('a clock stepped back an hour mid-pass: no call leaves with a token past its age', async () => {
  const h = harness(1_000_000, 300);
  // The true time since each token was requested, kept apart from the clock the policy reads.
  let elapsed = 0;
  const requestedAt = new Map<string, number>();
  const ages: number[] = [];
  const call = async (token: string) => {
    if (!requestedAt.has(token)) requestedAt.set(token, elapsed);
    ages.push(elapsed - requestedAt.get(token)!);
  };
  for (let i = 0; i < 60; i++) {
    await h.policy.run(call, true);
    h.advance(35);
    elapsed += 35;
    if (i === 20) h.advance(-3_600_000);
  }
  assert.ok(Math.max(...ages) < 300, `a token was used at ${Math.max(...ages)} ms`);
  assert.ok(h.reasons.includes('age'));
});

test('the monotonic clock is the default: the age rule does not read the wall clock', async () => {
  const realNow = Date.now;
  let issued = 0;
  const policy = new TokenPolicy({
    refreshEvery: 1_000_000,
    lifetime: new TokenLifetime({ configuredMaxAgeMs: 60_000 }),
    issue: async () => ({ token: `t${++issued}` }),
  });
  try {
    assert.equal(await policy.run(echo), 't1');
    Date.now = () => realNow() + 3_600_000;
    assert.equal(await policy.run(echo), 't1', 'a wall clock stepped forward an hour renewed the token');
    Date.now = () => realNow() - 3_600_000;
    assert.equal(await policy.run(echo), 't1');
  } finally {
    Date.now = realNow;
  }
});

test('a token refused younger than the maximum age teaches the lifetime: later tokens are renewed at 80% of it', async () => {
  const learned: [number, boolean][] = [];
  const lifetime = new TokenLifetime({
    configuredMaxAgeMs: 1_500_000,
    onLearned: (ms, first) => learned.push([ms, first]),
  });
  const h = harness(1_000_000, 1_500_000, { lifetime });
  const serverLifetime = 2000;
  // A controller whose tokens live 2 s: the token's age is read from the policy's own clock.
  const issuedAt = new Map<string, number>();
  let refused = 0;
  const controller = async (token: string) => {
    if (!issuedAt.has(token)) issuedAt.set(token, h.now());
    if (h.now() - issuedAt.get(token)! > serverLifetime) {
      refused++;
      throw refusal();
    }
  };
  for (let i = 0; i < 100; i++) {
    await h.policy.run(controller, true);
    h.advance(100);
  }
  assert.equal(refused, 1);
  assert.deepEqual(learned, [[2100, true]]);
  assert.equal(lifetime.maxAgeMs, 1680);
  assert.deepEqual(h.reasons.slice(0, 3), ['first', 'refused', 'age']);
  assert.match(
    lifetime.describe(),
    /^1\.68 s \(80% of the 2\.1 s the controller's tokens were found to live; APS_TOKEN_MAX_AGE \(1500 s\)\)$/,
  );
});

test('a refusal younger than an age already accepted is a revoked token, not the lifetime', () => {
  const learned: number[] = [];
  const lifetime = new TokenLifetime({ configuredMaxAgeMs: 60_000, onLearned: (ms) => learned.push(ms) });
  lifetime.accepted(5000);
  lifetime.refused(300);
  assert.deepEqual(learned, []);
  assert.equal(lifetime.maxAgeMs, 60_000);
  lifetime.refused(6000);
  // Calls that left before the lifetime was learned, with tokens older than 80% of it, teach nothing more.
  lifetime.refused(5500);
  lifetime.refused(7000);
  assert.deepEqual(learned, [6000]);
  assert.equal(lifetime.maxAgeMs, 4800);
});

test('a token refused on its first use teaches nothing about the lifetime', async () => {
  const h = harness(100, 60_000, { issueMs: 40 });
  const firstUseRefused = async (token: string) => {
    if (token === 't1') throw refusal();
    return token;
  };
  assert.equal(await h.policy.run(firstUseRefused, true), 't2');
  assert.equal(h.lifetime.maxAgeMs, 60_000);
});

test('a refusal younger than a second is a revoked token, even when no older age was accepted', () => {
  const lifetime = new TokenLifetime({ configuredMaxAgeMs: 60_000 });
  lifetime.accepted(200);
  lifetime.refused(300);
  assert.equal(lifetime.maxAgeMs, 60_000);
  lifetime.refused(1000);
  assert.equal(lifetime.maxAgeMs, 800);
});

test('a lifetime learned by an earlier run applies from the first token; APS_TOKEN_MAX_AGE still wins when sooner', () => {
  assert.equal(new TokenLifetime({ configuredMaxAgeMs: 1_500_000, knownLifetimeMs: 300_000 }).maxAgeMs, 240_000);
  assert.equal(new TokenLifetime({ configuredMaxAgeMs: 60_000, knownLifetimeMs: 300_000 }).maxAgeMs, 60_000);
  assert.equal(
    new TokenLifetime({ configuredMaxAgeMs: 60_000, knownLifetimeMs: 300_000 }).describe(),
    'APS_TOKEN_MAX_AGE (60 s)',
  );
});

test("a token that arrives already past its age stops renewal with an error naming APS_TOKEN_MAX_AGE and OA's latency", async () => {
  const h = harness(100, 1000, { issueMs: 1200 });
  const attempts = Array.from({ length: 5 }, () => h.policy.run(echo, true));
  for (const a of attempts) {
    await assert.rejects(a, (e: unknown) => {
      assert.ok(e instanceof TokenRenewalError);
      assert.equal(
        e.message,
        "OA took 1.2 s to issue a token, already past the age a token may be used: APS_TOKEN_MAX_AGE (1 s); set APS_TOKEN_MAX_AGE well above OA's latency",
      );
      return true;
    });
  }
  await assert.rejects(h.policy.run(echo, true), TokenRenewalError);
  assert.equal(h.issued(), 1, 'OA was asked again after renewal proved hopeless');
});

test('renewals in a row without a call the controller accepts are bounded', async () => {
  const h = harness(100, 60_000, { issueMs: 40 });
  const refuseAll = async (): Promise<never> => {
    throw new ApsError(401, 'Unauthorized', undefined);
  };
  const outcomes: unknown[] = [];
  for (let i = 0; i < 20; i++) outcomes.push(await h.policy.run(refuseAll, true).catch((e: unknown) => e));
  assert.equal(h.issued(), MAX_RENEWALS_WITHOUT_SUCCESS);
  const last = outcomes.at(-1);
  assert.ok(last instanceof TokenRenewalError);
  assert.match(
    last.message,
    /^5 tokens in a row were renewed without a call the controller accepted: .*APS_TOKEN_MAX_AGE \(60 s\).*; OA took 0\.04 s to issue the last$/,
  );
});

test('tenants that fail for their own reasons do not count as renewals without success', async () => {
  const h = harness(2, 60_000);
  const tenantFails = async (): Promise<never> => {
    throw new ApsError(500, 'Office 365 rejected the request', 'APS::Hosting::Exception');
  };
  for (let i = 0; i < 40; i++) await assert.rejects(h.policy.run(tenantFails, true), /Office 365 rejected/);
  assert.equal(h.issued(), 20);
});

/** Lets promise reactions run, as the event loop would between two workers' calls. */
const settle = () => new Promise((r) => setImmediate(r));

test('renew ahead by count: the next token is fetched while the current one serves its last tenants, none beyond the count', async () => {
  let left = 100;
  const h = harness(10, 60_000, { issueMs: 2, tenantsAhead: () => left });
  const used: string[] = [];
  const tenant = async () => {
    used.push(await h.policy.run(echo, true));
    left--;
    h.advance(1);
  };
  await tenant();
  h.holdIssues();
  // 1 tenant a ms and 2 ms to issue a token: the next is asked for with a few tenants left on this one.
  for (let i = 1; i < 10; i++) await tenant();
  assert.equal(h.issued(), 2, 'the next token was not asked for ahead');
  assert.deepEqual(used, Array(10).fill('t1'), 'a worker waited for OA while the current token was still good');
  // The 11th tenant is past the count: it waits for the token under way, and gets it.
  const eleventh = tenant();
  await settle();
  assert.equal(used.length, 10);
  h.releaseIssue();
  await eleventh;
  assert.equal(used[10], 't2');
  assert.deepEqual(h.reasons.slice(0, 2), ['first', 'count']);
});

test('renew ahead by age: callers keep the current token until its age, then take the one fetched ahead without waiting', async () => {
  const h = harness(1_000_000, 1000, { issueMs: 50 });
  const ages: number[] = [];
  const issuedAt = new Map<string, number>();
  const call = async (token: string) => {
    ages.push(h.now() - issuedAt.get(token)!);
    return token;
  };
  // t1 is asked for at 0 and arrives at 50: OA takes 50 ms, so the next is asked for 100 ms before the age.
  issuedAt.set('t1', 0);
  assert.equal(await h.policy.run(call), 't1');
  h.advance(800);
  assert.equal(await h.policy.run(call), 't1');
  assert.equal(h.issued(), 1, 'fetched ahead too early');
  h.advance(60);
  issuedAt.set('t2', h.now());
  assert.equal(await h.policy.run(call), 't1');
  await settle();
  assert.equal(h.issued(), 2);
  assert.equal(h.now(), 960);
  h.advance(30);
  assert.equal(await h.policy.run(call), 't1', 'the current token was dropped before its age');
  h.advance(10);
  assert.equal(await h.policy.run(call), 't2');
  assert.equal(h.issued(), 2);
  assert.ok(Math.max(...ages) < 1000, `a token was used at ${Math.max(...ages)} ms`);
  assert.deepEqual(h.reasons, ['first', 'age']);
});

test('no token is fetched ahead when the current one covers the tenants still to come', async () => {
  let left = 8;
  const h = harness(10, 60_000, { issueMs: 2, tenantsAhead: () => left });
  for (let i = 0; i < 8; i++) {
    await h.policy.run(echo, true);
    left--;
    h.advance(1);
  }
  await settle();
  assert.equal(h.issued(), 1);
});

test('a refused token gives way to the one fetched ahead, without another request to OA', async () => {
  const h = harness(1_000_000, 1000, { issueMs: 50 });
  await h.policy.run(echo);
  h.advance(920);
  await h.policy.run(echo);
  await settle();
  assert.equal(h.issued(), 2);
  const refusedOnce = async (token: string) => {
    if (token === 't1') throw refusal();
    return token;
  };
  assert.equal(await h.policy.run(refusedOnce), 't2');
  assert.equal(h.issued(), 2);
});

test('a failed fetch ahead is not retried until the token is needed, and then its error is heard', async () => {
  let clock = 0;
  let calls = 0;
  const policy = new TokenPolicy({
    refreshEvery: 1_000_000,
    lifetime: new TokenLifetime({ configuredMaxAgeMs: 1000 }),
    now: () => clock,
    issue: async () => {
      if (++calls > 1) throw new Error('OA is down');
      clock += 50;
      return { token: 't1' };
    },
  });
  await policy.run(echo);
  clock = 950;
  for (let i = 0; i < 5; i++) assert.equal(await policy.run(echo), 't1');
  await settle();
  assert.equal(calls, 2);
  clock = 1000;
  await assert.rejects(policy.run(echo), /OA is down/);
  assert.equal(calls, 3);
});
