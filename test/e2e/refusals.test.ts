import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TokenRefusalWording } from '../sim';
import { summaryOf, until, simulatorSetup } from './harness';

/**
 * How OA and the controller say no, in each of the ways known from the field and the vendor's KB, and
 * what the real CLI makes of it: a refused APS token is renewed whatever the words or status it comes
 * in; a refusal by OA ends the run with exit 3 and a line that names the settings to check.
 */
const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20', REQUEST_TIMEOUT_MS: '5000', CONNECT_TIMEOUT_MS: '5000' });

const WORDS: Record<TokenRefusalWording, string> = {
  authenticationFailed: 'Authentication failed.',
  unauthorizedRequest: 'Unauthorized request',
};

for (const status of [403, 500]) {
  for (const wording of Object.keys(WORDS) as TokenRefusalWording[]) {
    test(`tokens refused with "${WORDS[wording]}" at HTTP ${status} are renewed: every tenant resynced once, exit 0`, async () => {
      // Short pages, so that listing calls meet the refusal as well as resyncs.
      const { sim, w, start } = await setup(
        { instances: 2, tenantsPerInstance: 20, pageCap: 5, latencyMs: 15, tokenRefusal: { wording, status } },
        { SYNC_CONCURRENCY: '2', LOG_LEVEL: 'debug' },
      );
      // Every token issued so far goes stale once during each instance's share of the pass; the
      // controller holds the resyncs past the 3rd and the 25th until the tokens are revoked.
      const firstHold = sim.holdResyncs(3);
      const cli = start();
      await until(() => sim.stats.resyncSucceeded.size >= 3);
      sim.revokeTokens();
      const secondHold = sim.holdResyncs(25);
      firstHold();
      await until(() => sim.stats.resyncSucceeded.size >= 25);
      sim.revokeTokens();
      secondHold();
      const result = await cli.done;

      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const s = summaryOf(result);
      assert.deepEqual([s.synced, s.failed], [40, 0]);
      for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, t.id);
      assert.ok(sim.stats.staleTokenRefusals >= 2, `refusals: ${sim.stats.staleTokenRefusals}`);
      for (const instance of sim.instances)
        assert.ok(sim.stats.tokensIssuedByInstance.get(instance.id)! >= 2, `tokens for ${instance.id}`);
      const renewed = w.log().filter((l) => l.msg === 'token renewed' && l.reason === 'refused');
      assert.deepEqual([...new Set(renewed.map((l) => l.instanceId))].sort(), [1001, 1002]);
    });
  }
}

const AUTH = { user: 'admin', password: 'Corr3ct-horse' };

test('a wrong OA password answered 403: exit 3 naming the credentials, from sync and from check', async () => {
  const { sim, run } = await setup(
    { instances: 1, tenantsPerInstance: 3, oaAuth: { ...AUTH, wrongStatus: 403 } },
    { OA_PASSWORD: 'battery-staple' },
  );
  const sync = await run(['sync']);
  assert.equal(sync.code, 3, sync.stderr);
  assert.equal(
    sync.stderr,
    'o365-backsync: OA Public API answered HTTP 403: 403 Forbidden; OA refused OA_USER/OA_PASSWORD: check them\n',
  );
  const check = await run(['check']);
  assert.equal(check.code, 3, check.stdout);
  assert.match(
    check.stdout,
    /^FAIL OA Public API: OA Public API answered HTTP 403: 403 Forbidden; OA refused OA_USER\/OA_PASSWORD: check them$/m,
  );
  assert.equal(sim.stats.oaCalls.length, 0, 'the refused calls never reached the API');
});

test('OA asking for credentials that are not set (401): exit 3 saying to set OA_USER and OA_PASSWORD', async () => {
  const { run } = await setup(
    { instances: 1, tenantsPerInstance: 3, oaAuth: { ...AUTH, wrongStatus: 403 } },
    { OA_USER: '', OA_PASSWORD: '' },
  );
  const sync = await run(['sync']);
  assert.equal(sync.code, 3, sync.stderr);
  assert.equal(
    sync.stderr,
    'o365-backsync: OA Public API answered HTTP 401: 401 Authorization Required; OA asks for HTTP basic auth: set OA_USER and OA_PASSWORD\n',
  );
  const check = await run(['check']);
  assert.match(
    check.stdout,
    /^FAIL OA Public API: OA Public API answered HTTP 401: 401 Authorization Required; OA asks for HTTP basic auth: set OA_USER and OA_PASSWORD$/m,
  );
});

test("OA's own error_message reaches stderr verbatim, even a raw Java exception, with the fix check names", async () => {
  const { sim, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  sim.setOaFault('javaException');
  const sync = await run(['sync']);
  assert.equal(sync.code, 3, sync.stderr);
  const said =
    "OA pem.APS.getApplicationInstances failed: java.lang.NullPointerException: null; fix: OFFICE_APP_ID must be the Office 365 application's ID in OA (not an instance ID)";
  assert.equal(sync.stderr, `o365-backsync: ${said}\n`);
  const check = await run(['check']);
  assert.ok(check.stdout.includes(`\nFAIL application 41: ${said}\n`), check.stdout);
});
