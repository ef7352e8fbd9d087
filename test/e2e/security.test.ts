import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { otherCaFile } from '../sim';
import { testCerts } from '../sim/certs';
import { type CliResult, runCli, startCli, summaryOf, until, type Workdir, workdir, simulatorSetup } from './harness';

/**
 * Secrets stay out of every output, files get modes only their owner (and the log's group) can read,
 * and certificates are verified unless the operator says otherwise, with a fix named when refused.
 */
const PASSWORD = 'Pa55-w0rd.that.must.stay.secret';
const AUTH = { user: 'backsync', password: PASSWORD };

const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20' });

/** Everything the tool wrote: its outputs, its log and its state files. */
function everything(w: Workdir, results: CliResult[]): [string, string][] {
  const files = [w.logDir, w.stateDir].filter(existsSync).flatMap((dir) => readdirSync(dir).map((f) => join(dir, f)));
  return [
    ...results.flatMap((r, i): [string, string][] => [
      [`stdout ${i}`, r.stdout],
      [`stderr ${i}`, r.stderr],
    ]),
    ...files.map((f): [string, string] => [f, readFileSync(f, 'utf8')]),
  ];
}

function assertNowhere(secrets: string[], outputs: [string, string][]): void {
  assert.ok(secrets.length > 0);
  for (const secret of secrets) {
    for (const [where, text] of outputs)
      assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) appears in ${where}`);
  }
}

const basicAuth = Buffer.from(`${AUTH.user}:${PASSWORD}`).toString('base64');
const mode = (path: string): number => statSync(path).mode & 0o777;
const umask = process.umask();

test('the OA password and every APS token stay out of stdout, stderr, the log and the state files, even when the controller echoes a token', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: [14, 9], pageCap: 4, oaAuth: AUTH, transient503Rate: 0.05 },
    { TOKEN_REFRESH_EVERY: '3', RETRIES: '4', LOG_LEVEL: 'debug', APS_RESYNC_OPERATION: 'synchronize' },
  );
  const [a, b] = sim.instances.map((i) => i.tenants);
  sim.setFault(a![2]!.id, 'echoToken');
  sim.setFault(b![5]!.id, 'echoToken');
  sim.setFault(a![9]!.id, 'fail500');
  sim.setFault(b![1]!.id, 'reportFailure');

  const json = await run(['sync', '--json', '--force']);
  const cron = await run(['sync', '--force']);
  for (const r of [json, cron]) assert.equal(r.code, 1, r.stderr);
  assert.deepEqual((({ synced, failed }) => ({ synced, failed }))(summaryOf(json)), { synced: 19, failed: 4 });
  assert.match(cron.stderr, /^o365-backsync: 4 of 23 tenants failed/);

  const tokens = sim.issuedTokens();
  assert.ok(tokens.length >= 2 * 6, `tokens issued: ${tokens.length}`);
  assertNowhere([PASSWORD, basicAuth, ...tokens], everything(w, [json, cron]));
  // The echoed token was blanked, not the whole message dropped.
  const echoed = w.log().filter((l) => l.msg === 'tenant failed' && l.tenantId === a![2]!.id);
  assert.equal(echoed.length, 2);
  assert.match(
    String(echoed[0]!.error),
    /^APS controller answered 500 APS::Hosting::Exception: Token \[REDACTED\] may not synchronize tenant /,
  );
  assert.ok(
    w.log().some((l) => l.msg === 'retrying a controller request'),
    'debug lines were written too',
  );
});

test('a wrong OA password exits 3 with the refusal, and the password is in no output', async () => {
  const { sim, w, run } = await setup(
    { instances: 1, tenantsPerInstance: 3, oaAuth: AUTH },
    { OA_PASSWORD: `${PASSWORD}-typo` },
  );
  const results = [await run(['sync', '--json']), await run(['sync'])];
  for (const r of results) {
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^o365-backsync: OA Public API answered HTTP 401: 401 Authorization Required; OA refused OA_USER\/OA_PASSWORD: check them\n$/,
    );
  }
  assert.equal(results[0]!.stdout, '');
  assert.equal(sim.stats.oaCalls.length, 0, 'the refused calls never reached the API');
  assertNowhere(
    [PASSWORD, `${PASSWORD}-typo`, Buffer.from(`${AUTH.user}:${PASSWORD}-typo`).toString('base64')],
    everything(w, results),
  );
});

test('an env file that group or others can read is warned about once per run, in the log', async () => {
  const { w, env } = await setup({ instances: 1, tenantsPerInstance: 2, oaAuth: AUTH });
  const file = join(w.cwd, '.env');
  writeFileSync(
    file,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  );
  const warnings = () =>
    w.log().filter((l) => l.level === 40 && String(l.msg).includes('can be read by group or others'));

  chmodSync(file, 0o644);
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['sync', '--force'], {}, w.cwd);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal(warnings().length, 2, 'one warning in each of the two runs');
  assert.equal(warnings()[0]!.envFile, file);
  assert.match(String(warnings()[0]!.msg), /chmod 600/);

  chmodSync(file, 0o600);
  assert.equal((await runCli(['sync', '--force'], {}, w.cwd)).code, 0);
  assert.equal(warnings().length, 2, 'no warning for a 0600 file');
  assertNowhere([PASSWORD], everything(w, []));
});

test('the log is created 0640 and every state file 0600, in folders closed to others', async () => {
  const { sim, w, env, run } = await setup(
    { instances: 1, tenantsPerInstance: 30, latencyMs: 10 },
    { SYNC_CONCURRENCY: '1' },
  );
  // A run that cannot start its pass leaves pass.json and the journal behind.
  sim.setOaFault('fault');
  assert.equal((await run(['sync'])).code, 3);
  sim.setOaFault(undefined);
  assert.equal(mode(join(w.logDir, 'o365-backsync.log')), 0o640 & ~umask);
  for (const f of ['pass.json', 'journal.ndjson']) assert.equal(mode(join(w.stateDir, f)), 0o600, f);

  const release = sim.holdResyncs(2);
  const running = startCli(['sync'], env, w.cwd);
  await until(() => sim.stats.resyncSucceeded.size >= 2);
  assert.equal(mode(join(w.stateDir, 'lock.json')), 0o600, 'lock.json');
  release();
  assert.equal((await running.done).code, 0);
  assert.equal(mode(join(w.stateDir, 'last-pass.json')), 0o600, 'last-pass.json');
  assert.equal(mode(w.stateDir), 0o700 & ~umask);
  assert.equal(mode(w.logDir), 0o750 & ~umask);
  for (const f of readdirSync(w.stateDir))
    assert.equal(mode(join(w.stateDir, f)) & 0o077, 0, `${f} is closed to group and others`);
});

const FINGERPRINT = new X509Certificate(testCerts().cert).fingerprint256;

test('https controller: verified by default; its CA, insecure mode or a right pin let the pass through; the rest is refused with the fix named', async () => {
  const { sim } = await setup({ https: true, instances: 1, tenantsPerInstance: 3 });
  const { APS_CA_FILE: _ca, ...plain } = sim.env();
  const pass = async (extra: Record<string, string>) => {
    const w = workdir();
    const r = await runCli(['sync', '--json'], { ...plain, ...w.env, ...extra }, w.cwd);
    return { r, w };
  };
  const refused = async (extra: Record<string, string>, words: RegExp) => {
    const { r } = await pass(extra);
    assert.equal(r.code, 3, `${JSON.stringify(extra)}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^o365-backsync: instance 1001: certificate of https:\/\/127\.0\.0\.1:\d+ not trusted: [^\n]+\n$/,
    );
    assert.match(r.stderr, words);
  };
  await refused(
    {},
    /unable to verify the first certificate; set APS_CA_FILE to the PEM of the CA that issued the controller certificate/,
  );
  await refused({ APS_CA_FILE: otherCaFile() }, /set APS_CA_FILE/);
  const wrongPin = 'AB:'.repeat(31) + 'AB';
  await refused(
    { APS_CERT_SHA256: wrongPin },
    new RegExp(
      `its SHA-256 fingerprint ${FINGERPRINT.replace(/:/g, '').toLowerCase()} is not the pinned ${'ab'.repeat(32)}; APS_CERT_SHA256 pins another certificate`,
    ),
  );
  await refused({ APS_CERT_SHA256: wrongPin, APS_CA_FILE: sim.caFile }, /is not the pinned/);
  assert.equal(sim.stats.requests, 0, 'no request went out over a refused connection');

  const trusted: Record<string, string>[] = [
    { APS_CA_FILE: sim.caFile },
    { APS_CERT_SHA256: FINGERPRINT },
    { APS_CERT_SHA256: FINGERPRINT, APS_CA_FILE: sim.caFile },
  ];
  for (const extra of trusted) {
    const { r } = await pass(extra);
    assert.equal(r.code, 0, `${JSON.stringify(extra)}: ${r.stderr}`);
    assert.equal(summaryOf(r).synced, 3);
  }

  const { r, w } = await pass({ APS_TLS_INSECURE: 'true' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await runCli(['sync', '--force'], { ...plain, ...w.env, APS_TLS_INSECURE: 'true' }, w.cwd)).code, 0);
  const insecure = w
    .log()
    .filter((l) => l.level === 40 && l.msg === 'APS_TLS_INSECURE=true: the controller certificate is NOT verified');
  assert.equal(insecure.length, 2, 'warned on every run');
});

test('https OA: verified with OA_CA_FILE; without it, or with another CA, refused with OA_CA_FILE named', async () => {
  const { sim } = await setup({ oaHttps: true, instances: 1, tenantsPerInstance: 2 });
  const { OA_CA_FILE: _ca, ...plain } = sim.env();
  assert.equal(plain.OA_TLS, 'true');
  const untrusted: Record<string, string>[] = [{}, { OA_CA_FILE: otherCaFile() }];
  for (const extra of untrusted) {
    const w = workdir();
    const r = await runCli(['sync'], { ...plain, ...w.env, ...extra }, w.cwd);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^o365-backsync: certificate of https:\/\/127\.0\.0\.1:\d+ not trusted: .*; set OA_CA_FILE to the PEM of the CA that issued the OA certificate\n$/,
    );
  }
  assert.equal(sim.stats.oaCalls.length, 0);
  const w = workdir();
  const r = await runCli(['sync', '--json'], { ...sim.env(), ...w.env }, w.cwd);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(summaryOf(r).synced, 2);
});
