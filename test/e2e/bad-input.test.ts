import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ListingFault, OaFault } from '../sim';
import { missing } from '../tools';
import { type CliResult, runCli, runCliOnTerminal, startCli, summaryOf, until, simulatorSetup } from './harness';
import { scratchDir } from '../tmp';

/**
 * Replies that do not follow the protocol, and settings out of range: each ends in one clear line on
 * stderr and the right exit code, never a stack trace, and the tenants done before it stay done.
 */
const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20' });

/** Exactly one line on stderr, in the tool's voice, matching `words`; no stack trace anywhere. */
function oneLine(result: CliResult, words: RegExp): void {
  assert.match(result.stderr, /^o365-backsync: [^\n]+\n$/, result.stderr);
  assert.match(result.stderr, words);
  assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /, 'no stack trace');
}

test('OA answering badly before the pass starts: exit 3 with what was wrong, nothing resynced', async () => {
  const { sim, w, run } = await setup(
    { instances: 1, tenantsPerInstance: 3 },
    { REQUEST_TIMEOUT_MS: '300', RETRIES: '1' },
  );
  const cases: [OaFault, RegExp][] = [
    ['malformedXml', /^o365-backsync: OA pem\.APS\.getApplicationInstances: reply is not valid XML-RPC: /],
    ['truncatedXml', /^o365-backsync: OA pem\.APS\.getApplicationInstances: reply is not valid XML-RPC: /],
    [
      'fault',
      /^o365-backsync: OA pem\.APS\.getApplicationInstances fault -32500: Internal server error: simulated fault; fix: something answered that is not the OA Public API: check OA_HOST, OA_PORT \(usually 8440\) and OA_TLS\n$/,
    ],
    [
      'html500',
      /^o365-backsync: OA Public API answered HTTP 500: 500 Internal Server Error; fix: something answered that is not the OA Public API: check OA_HOST, OA_PORT \(usually 8440\) and OA_TLS\n$/,
    ],
    [
      'statusMinusOne',
      /^o365-backsync: OA pem\.APS\.getApplicationInstances failed: Internal error: database is unavailable \(module Common, extype 1\); fix: OFFICE_APP_ID must be the Office 365 application's ID in OA \(not an instance ID\)\n$/,
    ],
    [
      'hang',
      /^o365-backsync: OA Public API at http:\/\/127\.0\.0\.1:\d+: no answer within 300 ms; fix: check OA_HOST and OA_PORT \(\d+\), that the OA Public API is enabled there, and that it allows this host's IP\n$/,
    ],
  ];
  for (const [fault, words] of cases) {
    sim.setOaFault(fault);
    const result = await run(['sync']);
    assert.equal(result.code, 3, `${fault}: ${result.stderr}`);
    oneLine(result, words);
    assert.equal(result.stdout, '');
    const failure = w.log().at(-1)!;
    assert.deepEqual([failure.msg, failure.level], ['pass failed', 50], fault);
  }
  assert.equal(sim.stats.requests, 0, 'no controller request');
  assert.ok(existsSync(join(w.stateDir, 'pass.json')), 'the pass that could not start is left for the next run');
});

test('OA failing midway, at a token renewal: the pass stops, the tenants done stay journaled, and the next run finishes the rest', async () => {
  const { sim, w, env } = await setup(
    { instances: 1, tenantsPerInstance: 40, latencyMs: 5 },
    { TOKEN_REFRESH_EVERY: '5', SYNC_CONCURRENCY: '1', MAX_CONSECUTIVE_FAILURES: '3', RETRIES: '0' },
  );
  const release = sim.holdResyncs(7);
  const first = startCli(['sync', '--json'], env, w.cwd);
  await until(() => sim.stats.resyncSucceeded.size >= 7);
  sim.setOaFault('malformedXml');
  release();
  const stopped = await first.done;
  assert.equal(stopped.code, 3, stopped.stderr);
  oneLine(
    stopped,
    /^o365-backsync: stopped after 3 consecutive controller failures; last: OA pem\.APS\.getApplicationInstanceToken: reply is not valid XML-RPC: /,
  );
  const done = sim.stats.resyncSucceeded.size;
  const s1 = summaryOf(stopped);
  assert.deepEqual([s1.synced, s1.failed], [done, 3]);
  // After the journal's opening snapshot, a line per tenant done.
  const journal = readFileSync(join(w.stateDir, 'journal.ndjson'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(1)
    .map((l) => JSON.parse(l) as { t: string; o: string; r?: number });
  assert.deepEqual(
    journal.filter((l) => !l.r).map((l) => l.o),
    Array(done).fill('synced'),
    'the tenants OA failed are not journaled as done',
  );
  assert.deepEqual(
    journal.filter((l) => l.r).map((l) => l.o),
    ['failed', 'failed', 'failed'],
    'they are journaled to be retried',
  );

  sim.setOaFault(undefined);
  const again = await runCli(['sync', '--json'], env, w.cwd);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([summaryOf(again).alreadyDone, summaryOf(again).synced], [done, 40 - done]);
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncSucceeded.get(t.id), 1, t.id);
});

test('a bad tenant list page fails its instance with one clear line; the pages before it are synced and recorded', async () => {
  // Pages of 10 overlap by the last tenant seen: 0-9, 9-18, then the spoiled one from 18.
  const cases: [ListingFault, RegExp][] = [
    [
      'notJson',
      /APS controller sent a tenant page \(offset 18\) that is not JSON: '<html> <head><title>200 Welcome<\/title>/,
    ],
    ['truncatedJson', /APS controller sent a tenant page \(offset 18\) that is not JSON: '\[\{"aps":/],
    ['notArray', /APS controller sent a tenant page \(offset 18\) that is not a JSON array: '\{"items":/],
    ['noContentRange', /APS controller sent a listing without a Content-Range header/],
    ['garbledContentRange', /APS controller sent a malformed Content-Range header: 'items 18-24 of 25'/],
    ['oversized', /tenant list page exceeded the 20000-byte reply limit \(MAX_REPLY_BYTES\)/],
    [
      'deeplyNested',
      /APS controller sent a tenant page \(offset 18\) that is not JSON \(nested deeper than 64 levels\): '\[\[\[/,
    ],
  ];
  for (const [fault, words] of cases) {
    const { sim, w, run } = await setup(
      { instances: 2, tenantsPerInstance: 25, pageCap: 10 },
      { MAX_REPLY_BYTES: '20000', RETRIES: '2' },
    );
    sim.setListingFault(fault, { fromOffset: 18 });
    const result = await run();
    assert.equal(result.code, 3, `${fault}: ${result.stderr}`);
    oneLine(result, new RegExp(`^o365-backsync: instance 1001: ${words.source}`));
    const s = summaryOf(result);
    assert.deepEqual([s.synced, s.failed, s.complete], [38, 0, false], fault);
    assert.deepEqual(
      (s.instanceFailures as { instanceId: number }[]).map((f) => f.instanceId),
      [1001, 1002],
      'the next instance is still tried',
    );
    assert.equal(sim.stats.listRequests, 6, `${fault}: a bad page is not asked for again`);
    const firstPages = sim.instances.flatMap((i) =>
      i.tenants
        .map((t) => t.id)
        .sort()
        .slice(0, 19),
    );
    for (const id of firstPages) assert.equal(sim.stats.resyncSucceeded.get(id), 1, `${fault}: ${id}`);
    const last = JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([last.synced, last.complete], [38, false], `${fault}: last-pass.json`);
    assert.equal(w.log().filter((l) => l.msg === 'instance failed').length, 2);
  }
});

test('list items without aps.id are skipped with a warning, counted, and make the exit code 1; the pass goes on', async () => {
  const { sim, w, run } = await setup({ instances: 2, tenantsPerInstance: 25, pageCap: 10 });
  const metricsFile = join(w.cwd, 'metrics.prom');
  sim.setListingFault('missingApsId', { fromOffset: 9 });
  const result = await run(['sync', '--json', '--metrics-file', metricsFile]);
  assert.equal(result.code, 1, result.stderr);
  oneLine(
    result,
    /^o365-backsync: 2 listed items were not tenants \(no or an invalid aps\.id\); details in .*o365-backsync\.log\n$/,
  );
  const s = summaryOf(result);
  assert.deepEqual([s.tenants, s.synced, s.failed, s.invalid], [48, 48, 0, 2]);
  const warnings = w.log().filter((l) => l.msg === 'listing item skipped');
  assert.deepEqual(
    warnings.map((l) => [l.level, l.instanceId, l.reason]),
    [1001, 1002].map((i) => [40, i, 'tenant list item 9 skipped: it has no aps.id']),
    'once each, though the next page holds it again',
  );
  assert.equal(w.log().find((l) => l.msg === 'pass finished')?.invalid, 2);
  assert.equal(sim.stats.resyncCalls.size, 48);
  assert.equal(
    (JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as { invalid: number }).invalid,
    2,
  );
  assert.match(readFileSync(metricsFile, 'utf8'), /^o365_backsync_last_pass_invalid_items 2$/m);
});

test('settings out of range, or a CA file that is not one, exit 2 naming the variable before any network call', async () => {
  const { sim, w, env } = await setup({});
  const dir = scratchDir('obs-bad-ca-');
  const notPem = join(dir, 'ca.txt');
  writeFileSync(notPem, 'not a certificate\n');
  const cases: [Record<string, string>, RegExp][] = [
    [{ REQUEST_TIMEOUT_MS: '3000000000' }, /^o365-backsync: REQUEST_TIMEOUT_MS: must be at most 2147483647 ms/],
    [{ CONNECT_TIMEOUT_MS: '0' }, /^o365-backsync: CONNECT_TIMEOUT_MS: must be a positive whole number, got '0'/],
    [{ RETRY_MAX_DELAY_MS: '1e3' }, /^o365-backsync: RETRY_MAX_DELAY_MS: must be a positive whole number, got '1e3'/],
    [{ RETRIES: '-1' }, /^o365-backsync: RETRIES: must be a whole number of 0 or more, got '-1'/],
    [{ MAX_CONSECUTIVE_FAILURES: '0' }, /^o365-backsync: MAX_CONSECUTIVE_FAILURES: must be a positive whole number/],
    [{ MAX_REPLY_BYTES: 'lots' }, /^o365-backsync: MAX_REPLY_BYTES: must be a positive whole number, got 'lots'/],
    [
      { APS_CA_FILE: dir },
      new RegExp(`^o365-backsync: APS_CA_FILE: cannot read '${dir}': ENOTREG \\(it is not a regular file`),
    ],
    [{ APS_CA_FILE: notPem }, new RegExp(`^o365-backsync: APS_CA_FILE: '${notPem}' holds no PEM certificate`)],
    [
      { OA_TLS: 'true', OA_CA_FILE: '/nonexistent/oa-ca.pem' },
      /^o365-backsync: OA_CA_FILE: cannot read '\/nonexistent\/oa-ca\.pem': ENOENT/,
    ],
    [{ APS_CERT_SHA256: 'sha256:abc' }, /^o365-backsync: APS_CERT_SHA256: must be a SHA-256 fingerprint/],
    [
      { LOG_LEVEL: 'loud' },
      /^o365-backsync: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/,
    ],
    [
      { LOG_LEVEL: 'verbose' },
      /^o365-backsync: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got 'verbose'/,
    ],
    [{ SYNC_MIN_INTERVAL: '1e20' }, /^o365-backsync: SYNC_MIN_INTERVAL: must be 'auto' or a decimal number of seconds/],
    [
      { SYNC_MIN_INTERVAL: '99999999999999999999' },
      /^o365-backsync: SYNC_MIN_INTERVAL: must be 'auto' or a decimal number of seconds from 0 to 31622400/,
    ],
    [{ APS_PAGE_SIZE: '0x10' }, /^o365-backsync: APS_PAGE_SIZE: must be a positive whole number, got '0x10'/],
    [{ APS_TOKEN_MAX_AGE: '0x10' }, /^o365-backsync: APS_TOKEN_MAX_AGE: must be a positive decimal number, got '0x10'/],
    [
      { OA_HOST: '127.0.0.1:8440' },
      /^o365-backsync: OA_HOST: must be a host name or IP address without a port, got '127\.0\.0\.1:8440'/,
    ],
    [
      { APS_RESYNC_OPERATION: '../../admin/x' },
      /^o365-backsync: APS_RESYNC_OPERATION: must stay below the tenant: no '\.' or '\.\.' segments/,
    ],
    [
      { APS_RESYNC_OPERATION: '/admin/x' },
      /^o365-backsync: APS_RESYNC_OPERATION: must be a path below the tenant, without a leading '\/'/,
    ],
    [
      { APS_SYNC_STATUS_OPERATION: 'https://evil.example/x' },
      /^o365-backsync: APS_SYNC_STATUS_OPERATION: must be a path below the tenant, not a URL/,
    ],
  ];
  for (const [extra, words] of cases) {
    const result = await runCli(['sync'], { ...env, ...extra }, w.cwd);
    assert.equal(result.code, 2, `${JSON.stringify(extra)}: ${result.stderr}`);
    oneLine(result, words);
  }
  assert.equal(sim.stats.oaCalls.length, 0);
  assert.equal(sim.stats.requests, 0);
});

test('--instance that is not an instance of the application exits 2 listing the ones that are, and resyncs nothing', async () => {
  const { sim, run } = await setup({ instances: 2, tenantsPerInstance: 3 });
  const result = await run(['sync', '--instance', '999', '--instance', '1002']);
  assert.equal(result.code, 2, result.stderr);
  oneLine(
    result,
    /^o365-backsync: --instance: 999 is not an instance of application \d+ \(OFFICE_APP_ID\); its instances are 1001, 1002\n$/,
  );
  assert.equal(sim.stats.resyncCalls.size, 0);
});

test('misspelt settings and a token max age above the token life are warned about once, naming the setting meant', async () => {
  const { w, env, run } = await setup(
    { instances: 1, tenantsPerInstance: 3 },
    { OFICE_APP_ID: '41', SYNC_CONCURENCY: '8', APS_TOKEN_MAX_AGE: '3600', UNRELATED_TOOL_SETTING: 'x' },
  );
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '', 'not on a terminal: the log only');
  const warnings = w
    .log()
    .filter((l) => l.level === 40)
    .map((l) => l.msg);
  assert.deepEqual(warnings, [
    'OFICE_APP_ID (in the environment) is not a setting and is ignored; did you mean OFFICE_APP_ID?',
    'SYNC_CONCURENCY (in the environment) is not a setting and is ignored; did you mean SYNC_CONCURRENCY?',
    'APS_TOKEN_MAX_AGE (3600s) is above the 1800s a token lives by default: tokens may expire before they are renewed',
  ]);
  if (missing('script')) return;
  const onTerminal = await runCliOnTerminal(['sync', '--force'], env, w.cwd);
  assert.equal(onTerminal.code, 0, onTerminal.stdout);
  const screen = onTerminal.stdout.replace(/\r/g, '');
  assert.equal(screen.match(/did you mean SYNC_CONCURRENCY\?/g)?.length, 1, screen);
  assert.equal(screen.match(/did you mean OFFICE_APP_ID\?/g)?.length, 1, screen);
  assert.match(screen, /APS_TOKEN_MAX_AGE \(3600s\) is above the 1800s/);
});

test('16 MiB of deeply nested JSON, as a resync reply or as an error reply, fails that tenant alone; the pass goes on', async () => {
  const { sim, w, run } = await setup(
    { instances: 1, tenantsPerInstance: 6 },
    { APS_RESYNC_OPERATION: 'synchronize', APS_SYNC_STATUS_OPERATION: '' },
  );
  const [nestedReply, nestedError] = sim.readyTenants();
  sim.setFault(nestedReply!.id, 'hugeNestedReply');
  sim.setFault(nestedError!.id, 'hugeNestedError');
  const result = await run();
  assert.equal(result.code, 1, result.stderr);
  const s = summaryOf(result);
  assert.deepEqual([s.synced, s.failed], [4, 2]);
  const failures = new Map(
    w
      .log()
      .filter((l) => l.msg === 'tenant failed')
      .map((l) => [l.tenantId, String(l.error)]),
  );
  assert.equal(
    failures.get(nestedReply!.id),
    'resync reply exceeded the 1048576-byte reply limit (the bound of an operation reply)',
  );
  assert.match(
    failures.get(nestedError!.id) ?? '',
    /^APS controller answered 500\b/,
    'the status counts; the body is read for a message only',
  );
});

test('a required setting unset while a near spelling of it is set: one line naming both, exit 2, in sync and check', async () => {
  const { sim, w, env } = await setup({});
  const { OFFICE_APP_ID: _unset, ...withoutAppId } = env;
  const envFile = join(w.cwd, '.env');
  writeFileSync(envFile, 'OFICE_APP_ID=42\n', { mode: 0o600 });
  const line = `OFFICE_APP_ID: is required but not set, and OFICE_APP_ID (in ${envFile}) is: did you mean OFFICE_APP_ID? Rename OFICE_APP_ID to OFFICE_APP_ID`;
  const sync = await runCli(['sync'], withoutAppId, w.cwd);
  assert.deepEqual(
    { code: sync.code, stdout: sync.stdout, stderr: sync.stderr },
    { code: 2, stdout: '', stderr: `o365-backsync: ${line}\n` },
  );
  const check = await runCli(['check'], withoutAppId, w.cwd);
  assert.deepEqual({ code: check.code, stdout: check.stdout }, { code: 2, stdout: `FAIL config: ${line}\n` });
  assert.equal(sim.stats.oaCalls.length, 0);
});

test('a mistyped command names the command meant, exit 2, and runs nothing', async () => {
  const { sim, w, env } = await setup({});
  for (const [typed, said] of [
    ['stauts', "unknown command 'stauts'; did you mean status?"],
    ['chekc', "unknown command 'chekc'; did you mean check?"],
    ['frobnicate', "unknown command 'frobnicate'; the commands are sync, status, check, setup, help"],
  ] as const) {
    const result = await runCli([typed], env, w.cwd);
    assert.deepEqual(
      { code: result.code, stdout: result.stdout, stderr: result.stderr },
      { code: 2, stdout: '', stderr: `o365-backsync: ${said}\n` },
    );
  }
  assert.equal(sim.stats.oaCalls.length + sim.stats.requests, 0);
  assert.equal(existsSync(w.stateDir), false, 'no run started');
});
