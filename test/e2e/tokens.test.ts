import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Simulator } from '../sim';
import { simulatorSetup, summaryOf, until } from './harness';

/** Tokens against the simulator: a short platform lifetime learned once, slow OA, stops while OA hangs, OA's content type. */
const setup = simulatorSetup();

const TOKEN_METHOD = 'pem.APS.getApplicationInstanceToken';

function assertEveryReadyTenantSynced(sim: Simulator): void {
  const ready = sim
    .readyTenants()
    .map((t) => t.id)
    .sort();
  assert.deepEqual([...sim.stats.resyncSucceeded.keys()].sort(), ready);
}

test('tokens that live 4 s: the lifetime is learned from the first refusal, warned once, and used by the next run from the start', async () => {
  // 300 tenants at 60 ms over 4 workers take at least 4.5 s per instance, so every instance outlives a
  // token. The count rule is set out of the way: the age rule alone decides. Without learning, every
  // call in flight at every expiry is refused. A 4 s lifetime leaves a second either way for a busy
  // machine's delays between the tool's clock and the controller's.
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: 300, pageCap: 100, latencyMs: 60, tokenLifetimeMs: 4000 },
    { TOKEN_REFRESH_EVERY: '100000' },
  );
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  const s = summaryOf(first);
  assert.deepEqual(
    { tenants: s.tenants, synced: s.synced, failed: s.failed },
    { tenants: 600, synced: 600, failed: 0 },
  );
  assertEveryReadyTenantSynced(sim);
  // Learning costs the calls in flight at the first expiry, at most one per worker, all in the first instance.
  const refusals = sim.stats.expiredTokenRefusalsByInstance;
  assert.ok(
    sim.stats.staleTokenRefusals <= 2 * 3,
    `${sim.stats.staleTokenRefusals} refused calls: ${JSON.stringify([...refusals])}`,
  );
  assert.deepEqual([...refusals.keys()], [1001], `refusals by instance: ${JSON.stringify([...refusals])}`);
  assert.ok(refusals.get(1001)! <= 4);

  const warnings = w
    .log()
    .filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('APS_TOKEN_MAX_AGE'));
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  const saved = JSON.parse(readFileSync(join(w.stateDir, 'token-lifetime.json'), 'utf8')) as { lifetimeMs: number };
  assert.ok(saved.lifetimeMs > 3000 && saved.lifetimeMs <= 5000, `learned ${saved.lifetimeMs} ms`);
  assert.equal(warnings[0]!.lifetimeMs, saved.lifetimeMs);

  const refusedBefore = sim.stats.staleTokenRefusals;
  const second = await run(['sync', '--json', '--force']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(summaryOf(second).failed, 0);
  assert.equal(
    sim.stats.staleTokenRefusals,
    refusedBefore,
    'the second run had calls refused: it did not use the learned lifetime',
  );
  const secondRun = w.log().slice(w.log().findIndex((l) => l.msg === 'pass finished') + 1);
  assert.ok(
    secondRun.some(
      (l) => l.level === 30 && l.lifetimeMs === saved.lifetimeMs && String(l.msg).startsWith('tokens are renewed at '),
    ),
  );
  assert.ok(!secondRun.some((l) => l.level === 40), 'the second run warned again');
});

// A renewal loop would never end by itself: the timeout makes it a failure.
test(
  "APS_TOKEN_MAX_AGE=1 with OA answering in 1.2 s: the pass stops at once naming the setting and OA's latency",
  { timeout: 60_000 },
  async () => {
    const { sim, w, run } = await setup(
      { instances: 2, tenantsPerInstance: 5, oaLatencyMs: 1200 },
      { APS_TOKEN_MAX_AGE: '1' },
    );
    const result = await run(['sync']);
    assert.equal(result.code, 3, result.stderr);
    // "At once": a bounded number of token requests, not a time (OA answers no sooner than 1.2 s, later
    // on a busy machine).
    assert.ok(sim.stats.tokensIssued < 20, `${sim.stats.tokensIssued} tokens`);
    assert.equal(sim.stats.resyncCalls.size, 0);
    const named =
      /^o365-backsync: stopped at instance 1001: OA took (\d+(?:\.\d+)?) s to issue a token, already past the age a token may be used: APS_TOKEN_MAX_AGE \(1 s\); set APS_TOKEN_MAX_AGE well above OA's latency\n$/.exec(
        result.stderr,
      );
    assert.ok(named, result.stderr);
    assert.ok(Number(named[1]) >= 1.2, `OA's latency is at least 1.2 s, not ${named[1]} s`);
    // The pass is kept for the next run, which resumes it once the setting is fixed.
    assert.ok(existsSync(join(w.stateDir, 'pass.json')));
  },
);

test('SIGTERM while OA never answers a token request: the stop reaches the request, exit 143, and the next run resumes', async () => {
  // The request would wait 10 minutes and then be retried 3 times: only a stop that reaches OA's request
  // ends the run within the test's time limit.
  const { sim, start, run } = await setup(
    { instances: 2, tenantsPerInstance: 10, latencyMs: 50 },
    { REQUEST_TIMEOUT_MS: '600000', RETRIES: '3', SYNC_CONCURRENCY: '1' },
  );
  const cli = start();
  // The first instance's token is answered; the second instance's never is.
  await until(() => sim.stats.tokensIssued >= 1);
  sim.setOaFault('hangToken');
  await until(() => sim.stats.oaCalls.filter((c) => c.method === TOKEN_METHOD).length >= 2);
  cli.child.kill('SIGTERM');
  const stopped = await cli.done;
  assert.equal(stopped.code, 143, stopped.stderr);
  assert.equal(sim.stats.oaCalls.filter((c) => c.method === TOKEN_METHOD).length, 2, 'no token request retried');
  assert.equal(summaryOf(stopped).failed, 0);
  // The second instance's token is asked for while the first one's last tenants run (one pool across
  // instances): the stop leaves those of them not yet started to the next run.
  const synced = summaryOf(stopped).synced as number;
  assert.ok(synced > 0 && synced <= 10, `synced ${synced}`);

  sim.setOaFault(undefined);
  const resumed = await run();
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(summaryOf(resumed).alreadyDone, synced);
  assertEveryReadyTenantSynced(sim);
  for (const [tenant, calls] of sim.stats.resyncCalls)
    assert.equal(calls, 1, `tenant ${tenant} resynced ${calls} times`);
});

for (const [label, oaContentType] of [
  ['text/plain', 'text/plain'],
  ['no content type', null],
] as const) {
  test(`OA answering with ${label}: the replies are read as XML-RPC, exit 0`, async () => {
    const { sim, run } = await setup({ instances: 2, tenantsPerInstance: 5, oaContentType });
    const result = await run();
    assert.equal(result.code, 0, result.stderr);
    assertEveryReadyTenantSynced(sim);
  });
}
