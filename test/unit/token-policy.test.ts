import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApsError } from '../../src/errors';
import { TokenPolicy, type RenewalReason } from '../../src/sync/token-policy';

function harness(refreshEvery: number, maxAgeMs: number) {
  let clock = 0;
  let issued = 0;
  const reasons: RenewalReason[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const policy = new TokenPolicy({
    refreshEvery,
    maxAgeMs,
    now: () => clock,
    issue: async () => {
      const n = ++issued;
      await gate;
      return { token: `t${n}` };
    },
    onRenewed: (r) => reasons.push(r),
  });
  return {
    policy,
    reasons,
    issued: () => issued,
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
  await assert.rejects(h.policy.run(async () => {
    throw new ApsError(500, 'Office 365 rejected the request', 'APS::Hosting::Exception');
  }), /Office 365 rejected/);
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
    maxAgeMs: 1000,
    issue: async () => {
      calls++;
      throw new Error('OA is down');
    },
  });
  const results = await Promise.allSettled([policy.run(echo), policy.run(echo), policy.run(echo)]);
  assert.ok(results.every((r) => r.status === 'rejected' && /OA is down/.test(String(r.reason))));
  assert.equal(calls, 1);
});
