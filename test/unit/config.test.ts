import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors';
import { doubtfulSettings, loadConfig } from '../../src/runtime/config';
import { editDistance } from '../../src/runtime/setting-names';
import { otherCaFile } from '../sim';
import { testCerts } from '../sim/certs';
import { scratchDir } from '../tmp';

const MINIMAL = { OFFICE_APP_ID: '41', OA_HOST: 'oa.example' };
/** A folder of its own, so no stray ./.env is read. */
const cwd = scratchDir('obs-config-');

function load(env: Record<string, string>, flags: Record<string, string | undefined> = {}, envFile?: string) {
  return loadConfig({ env: { ...MINIMAL, ...env }, flags, envFile, cwd });
}

/** Asserts that `env` is refused with a ConfigError whose message starts with the variable's name. */
function refused(env: Record<string, string>, message: RegExp, flags: Record<string, string | undefined> = {}): void {
  assert.throws(
    () => load(env, flags),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `${JSON.stringify(env)}: ${String(e)}`);
      assert.match(e.message, message, JSON.stringify(env));
      return true;
    },
  );
}

test('the two required settings are enough; everything else has its documented default', () => {
  const c = load({});
  assert.deepEqual(
    { ...c, envFile: undefined },
    {
      officeAppId: 41,
      oaHost: 'oa.example',
      oaPort: 8440,
      oaUser: undefined,
      oaPassword: undefined,
      oaTls: false,
      oaCaFile: undefined,
      apsUrl: undefined,
      apsCaFile: undefined,
      apsTlsInsecure: false,
      apsCertSha256: undefined,
      tenantType: undefined,
      resyncOperation: 'synchronize_async?fullSync=true',
      resyncMethod: 'GET',
      syncStatusOperation: 'sync_status',
      pageSize: 500,
      tokenRefreshEvery: 100,
      tokenMaxAgeMs: 1_500_000,
      concurrency: 4,
      requestTimeoutMs: 60_000,
      connectTimeoutMs: 10_000,
      retries: 3,
      retryMaxDelayMs: 30_000,
      maxConsecutiveFailures: 20,
      maxBodyBytes: 16 * 1024 * 1024,
      traceMaxEntries: 10_000,
      minIntervalSeconds: 'auto',
      logDir: '/var/log/sync',
      stateDir: '/var/lib/o365-backsync',
      metricsFile: undefined,
      logLevel: 'info',
      envFile: undefined,
    },
  );
});

test('a missing required setting is named', () => {
  assert.throws(() => loadConfig({ env: { OA_HOST: 'oa' }, cwd }), {
    message: 'OFFICE_APP_ID: is required but not set (see config.example.env)',
  });
  assert.throws(() => loadConfig({ env: { OFFICE_APP_ID: '41', OA_HOST: '' }, cwd }), {
    message: /^OA_HOST: is required/,
  });
});

test('whole numbers: zero, negatives, fractions, words and unsafe sizes are refused, each naming its variable', () => {
  for (const name of [
    'OFFICE_APP_ID',
    'APS_PAGE_SIZE',
    'TOKEN_REFRESH_EVERY',
    'SYNC_CONCURRENCY',
    'REQUEST_TIMEOUT_MS',
    'CONNECT_TIMEOUT_MS',
    'RETRY_MAX_DELAY_MS',
    'MAX_CONSECUTIVE_FAILURES',
    'MAX_REPLY_BYTES',
    'TRACE_MAX_ENTRIES',
  ]) {
    for (const bad of ['0', '-1', '1.5', 'ten', '99999999999999999999', ' 5']) {
      refused(
        { [name]: bad },
        new RegExp(`^${name}: must be a positive whole number, got '${bad.replace('.', '\\.')}'$`),
      );
    }
  }
  for (const bad of ['-1', '2.5', 'three'])
    refused(
      { RETRIES: bad },
      new RegExp(`^RETRIES: must be a whole number of 0 or more, got '${bad.replace('.', '\\.')}'$`),
    );
  assert.equal(load({ RETRIES: '0' }).retries, 0);
  assert.equal(load({ APS_PAGE_SIZE: '007' }).pageSize, 7);
});

test('timeouts and delays beyond what a Node timer holds are refused instead of becoming 1 ms', () => {
  for (const name of ['REQUEST_TIMEOUT_MS', 'CONNECT_TIMEOUT_MS', 'RETRY_MAX_DELAY_MS']) {
    refused({ [name]: '2147483648' }, new RegExp(`^${name}: must be at most 2147483647 ms`));
    refused({ [name]: '3000000000' }, new RegExp(`^${name}: must be at most 2147483647 ms`));
  }
  const c = load({ REQUEST_TIMEOUT_MS: '2147483647', CONNECT_TIMEOUT_MS: '1', RETRY_MAX_DELAY_MS: '86400000' });
  assert.deepEqual([c.requestTimeoutMs, c.connectTimeoutMs, c.retryMaxDelayMs], [2147483647, 1, 86400000]);
});

test('ports, booleans, URLs, methods, operations, intervals and fingerprints are checked', () => {
  refused({ OA_PORT: '65536' }, /^OA_PORT: must be a TCP port from 1 to 65535, got '65536'$/);
  refused({ OA_PORT: '0' }, /^OA_PORT: must be a positive whole number/);
  refused({ OA_TLS: 'maybe' }, /^OA_TLS: must be true or false, got 'maybe'$/);
  refused({ APS_TLS_INSECURE: '2' }, /^APS_TLS_INSECURE: must be true or false/);
  refused({ OA_HOST: 'oa.example/RPC2' }, /^OA_HOST: must be a host name or IP address/);
  refused({ APS_URL: 'ftp://oa.example/' }, /^APS_URL: must be an http\(s\) URL, got 'ftp:\/\/oa.example\/'$/);
  refused({ APS_URL: 'not a url' }, /^APS_URL: must be an http\(s\) URL/);
  refused({ APS_URL: 'https://admin:pw@oa.example:6308/' }, /^APS_URL: must not carry credentials$/);
  refused({ APS_RESYNC_METHOD: 'DELETE' }, /^APS_RESYNC_METHOD: must be GET, POST or PUT, got 'DELETE'$/);
  refused({ APS_RESYNC_OPERATION: 'sync now' }, /^APS_RESYNC_OPERATION: must be an operation path/);
  for (const op of [
    '../../admin/x',
    'a/%2E%2e/b?x=1',
    'synchronize/.',
    '/synchronize',
    '//evil.example/x',
    'https://evil.example/x',
    'javascript:x',
    'a\\..\\b',
    'a/%zz',
  ]) {
    refused(
      { APS_RESYNC_OPERATION: op },
      /^APS_RESYNC_OPERATION: must (stay below the tenant|be a path below the tenant|be an operation path)/,
    );
    refused({ APS_SYNC_STATUS_OPERATION: op }, /^APS_SYNC_STATUS_OPERATION: must/);
  }
  refused(
    { SYNC_MIN_INTERVAL: '-1' },
    /^SYNC_MIN_INTERVAL: must be 'auto' or a decimal number of seconds from 0 to 31622400/,
  );
  refused({ SYNC_MIN_INTERVAL: '1e20' }, /^SYNC_MIN_INTERVAL: must be 'auto' or a decimal number/);
  refused({ SYNC_MIN_INTERVAL: '0x10' }, /^SYNC_MIN_INTERVAL: must be 'auto' or a decimal number/);
  refused({ SYNC_MIN_INTERVAL: '31622401' }, /^SYNC_MIN_INTERVAL: must be 'auto' or a decimal number/);
  refused({ APS_TOKEN_MAX_AGE: '0' }, /^APS_TOKEN_MAX_AGE: must be a positive decimal number, got '0'$/);
  refused({ APS_TOKEN_MAX_AGE: 'Infinity' }, /^APS_TOKEN_MAX_AGE: must be a positive decimal number/);
  refused({ APS_TOKEN_MAX_AGE: '0x10' }, /^APS_TOKEN_MAX_AGE: must be a positive decimal number/);
  refused({ APS_TOKEN_MAX_AGE: '9'.repeat(400) }, /^APS_TOKEN_MAX_AGE: must be a positive decimal number/);
  refused({ APS_PAGE_SIZE: '0x10' }, /^APS_PAGE_SIZE: must be a positive whole number/);
  refused(
    { OA_HOST: '127.0.0.1:8440' },
    /^OA_HOST: must be a host name or IP address without a port, got '127\.0\.0\.1:8440': set it to 127\.0\.0\.1 and the port in OA_PORT$/,
  );
  refused({ OA_HOST: 'oa.example:8440' }, /^OA_HOST: must be a host name or IP address without a port/);
  refused({ OA_HOST: '[::1]:8440' }, /^OA_HOST: must be a host name or IP address/);
  for (const host of ['::1', '[::1]', 'fe80::1', '10.0.0.10', 'oa-1.example'])
    assert.equal(load({ OA_HOST: host }).oaHost, host);
  refused(
    { APS_CERT_SHA256: 'abcd' },
    /^APS_CERT_SHA256: must be a SHA-256 fingerprint \(64 hex digits, colons allowed\)$/,
  );
  refused({ APS_CERT_SHA256: 'g'.repeat(64) }, /^APS_CERT_SHA256: must be a SHA-256 fingerprint/);
  refused(
    { LOG_LEVEL: 'verbose' },
    /^LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got 'verbose'$/,
  );
  const c = load({
    OA_TLS: 'YES',
    APS_RESYNC_METHOD: 'post',
    APS_RESYNC_OPERATION: 'synchronize',
    SYNC_MIN_INTERVAL: '0',
    APS_TOKEN_MAX_AGE: '0.5',
    APS_CERT_SHA256: 'AB:'.repeat(31) + 'AB',
    LOG_LEVEL: 'Debug',
  });
  assert.deepEqual(
    [c.oaTls, c.resyncMethod, c.resyncOperation, c.minIntervalSeconds, c.tokenMaxAgeMs, c.apsCertSha256, c.logLevel],
    [true, 'POST', 'synchronize', 0, 500, 'ab'.repeat(32), 'debug'],
  );
});

test('combinations that cannot both hold are refused', () => {
  refused({ SYNC_CONCURRENCY: '257' }, /^SYNC_CONCURRENCY: must be at most 256, got '257'$/);
  refused({}, /^SYNC_CONCURRENCY \(--concurrency\): must be at most 256/, { SYNC_CONCURRENCY: '1000' });
  refused(
    { APS_TLS_INSECURE: 'true', APS_CERT_SHA256: 'ab'.repeat(32) },
    /^APS_TLS_INSECURE: cannot be combined with APS_CERT_SHA256/,
  );
  refused({ OA_USER: 'admin' }, /^OA_PASSWORD: OA_USER and OA_PASSWORD must be set together$/);
  refused({ OA_PASSWORD: 'S3cret-pa55' }, /^OA_USER: OA_USER and OA_PASSWORD must be set together$/);
});

test('no error message repeats the OA password', () => {
  const cases: Record<string, string>[] = [
    { OA_PASSWORD: 'S3cret-pa55' },
    { OA_USER: 'admin', OA_PASSWORD: 'S3cret-pa55', OA_PORT: 'x' },
  ];
  for (const env of cases) {
    assert.throws(
      () => load(env),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('S3cret-pa55'),
    );
  }
});

test('a CA file must be readable and hold PEM certificates, or the variable is named', () => {
  const dir = scratchDir('obs-ca-');
  const notPem = join(dir, 'ca.der');
  writeFileSync(notPem, 'this is not a certificate\n');
  const damaged = join(dir, 'damaged.pem');
  // A FIFO with no writer would hold a plain read for ever.
  const fifo = join(dir, 'ca.fifo');
  execFileSync('mkfifo', [fifo]);
  writeFileSync(
    damaged,
    readFileSync(testCerts().caFile, 'utf8').replace(/^(-----BEGIN CERTIFICATE-----\n)..../m, '$1!!!!'),
  );
  for (const name of ['APS_CA_FILE', 'OA_CA_FILE']) {
    refused({ [name]: '/nonexistent/ca.pem' }, new RegExp(`^${name}: cannot read '/nonexistent/ca.pem': ENOENT$`));
    refused({ [name]: dir }, new RegExp(`^${name}: cannot read '${dir}': ENOTREG \\(it is not a regular file`));
    refused({ [name]: fifo }, new RegExp(`^${name}: cannot read '${fifo}': ENOTREG \\(it is not a regular file`));
    refused({ [name]: notPem }, new RegExp(`^${name}: '${notPem}' holds no PEM certificate`));
    refused({ [name]: damaged }, new RegExp(`^${name}: certificate 1 in '${damaged}' is damaged$`));
  }
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(bundle, readFileSync(testCerts().caFile, 'utf8') + readFileSync(otherCaFile(), 'utf8'));
  assert.equal(load({ APS_CA_FILE: bundle }).apsCaFile, bundle);
  assert.equal(load({ OA_CA_FILE: testCerts().caFile }).oaCaFile, testCerts().caFile);
});

test('the env file is read first, the environment wins over it and flags over both; empty means unset', () => {
  const dir = scratchDir('obs-envfile-');
  const file = join(dir, 'backsync.env');
  writeFileSync(file, 'OFFICE_APP_ID=41\nOA_HOST=from-file\nSYNC_CONCURRENCY=2\nRETRIES=5\nLOG_DIR=/file/log\n', {
    mode: 0o600,
  });
  const c = loadConfig({
    envFile: file,
    env: { OA_HOST: 'from-env', SYNC_CONCURRENCY: '3', RETRIES: '' },
    flags: { SYNC_CONCURRENCY: '9' },
    cwd,
  });
  assert.deepEqual([c.oaHost, c.concurrency, c.retries, c.logDir], ['from-env', 9, 5, '/file/log']);
  assert.deepEqual(c.envFile, { path: file, readableByOthers: false, cutAtHash: [] });
});

test('./.env is found in the working folder', () => {
  const dir = scratchDir('obs-dotenv-');
  writeFileSync(join(dir, '.env'), 'OFFICE_APP_ID=7\nOA_HOST=oa\n', { mode: 0o600 });
  const c = loadConfig({ env: {}, cwd: dir });
  assert.equal(c.officeAppId, 7);
  assert.equal(c.envFile?.path, join(dir, '.env'));
});

/** Whether loadConfig flags an env file of this mode (and group, else the run's own) as readable by others. */
function envFileFlagged(mode: number, gid?: number): boolean | undefined {
  const file = join(scratchDir('obs-envmode-'), 'o365-backsync.env');
  writeFileSync(file, 'OFFICE_APP_ID=41\nOA_HOST=oa\n');
  chmodSync(file, mode);
  if (gid !== undefined) chownSync(file, process.getuid!(), gid);
  return loadConfig({ envFile: file, env: {}, cwd }).envFile?.readableByOthers;
}

test("an env file that others can read is flagged, for the warning; its own group's read is the run's", () => {
  // The file's group is the run's own, as for a service's env file, 0640 root:<the service's group>.
  for (const [mode, flagged] of [
    [0o600, false],
    [0o400, false],
    [0o640, false],
    [0o604, true],
    [0o644, true],
  ] as const)
    assert.equal(envFileFlagged(mode), flagged, mode.toString(8));
});

test(
  "an env file that a group not the run's own can read is flagged",
  { skip: process.getuid?.() !== 0 && 'needs root, to give the file another group' },
  () => {
    assert.equal(envFileFlagged(0o640, 4242), true);
    assert.equal(envFileFlagged(0o600, 4242), false);
  },
);

test('an env file given explicitly must exist', () => {
  assert.throws(() => loadConfig({ envFile: '/nonexistent.env', env: MINIMAL, cwd }), {
    message: "--env-file: cannot read '/nonexistent.env': ENOENT",
  });
});

test("the 'local' scope reads only this host's settings: status works without OA's", () => {
  const local = loadConfig({
    scope: 'local',
    env: { STATE_DIR: '/srv/state', SYNC_MIN_INTERVAL: '600', OA_PORT: 'not a port' },
    cwd,
  });
  assert.deepEqual(local, {
    minIntervalSeconds: 600,
    logDir: '/var/log/sync',
    stateDir: '/srv/state',
    metricsFile: undefined,
    envFile: undefined,
    officeAppId: null,
    tenantType: undefined,
  });
  assert.throws(
    () => loadConfig({ scope: 'local', env: { SYNC_MIN_INTERVAL: 'soon' }, cwd }),
    /^ConfigError: SYNC_MIN_INTERVAL: /,
  );
});

test("the 'local' scope reads what decides a resume leniently: a value sync would refuse is one status cannot judge", () => {
  const read = (env: Record<string, string>) => {
    const { officeAppId, tenantType } = loadConfig({ scope: 'local', env, cwd });
    return { officeAppId, tenantType };
  };
  assert.deepEqual(read({ OFFICE_APP_ID: '42', APS_TENANT_TYPE: 'http://example.com/T/1.0' }), {
    officeAppId: 42,
    tenantType: 'http://example.com/T/1.0',
  });
  assert.deepEqual(read({ OFFICE_APP_ID: 'forty-two', APS_TENANT_TYPE: '  ' }), {
    officeAppId: null,
    tenantType: null,
  });
  assert.deepEqual(
    read({}),
    { officeAppId: null, tenantType: undefined },
    'APS_TENANT_TYPE unset is known: found at run time',
  );
});

test('APS_SYNC_STATUS_OPERATION reads sync_status by default; an empty value anywhere switches the read off', () => {
  assert.equal(load({ APS_SYNC_STATUS_OPERATION: 'sync_status' }).syncStatusOperation, 'sync_status');
  assert.equal(load({ APS_SYNC_STATUS_OPERATION: '' }).syncStatusOperation, undefined);
  assert.equal(load({ APS_SYNC_STATUS_OPERATION: '  ' }).syncStatusOperation, undefined);
  const file = join(scratchDir('obs-envfile-'), 'backsync.env');
  writeFileSync(file, 'OFFICE_APP_ID=41\nOA_HOST=oa.example\nAPS_SYNC_STATUS_OPERATION=\n', { mode: 0o600 });
  assert.equal(loadConfig({ envFile: file, env: {}, cwd }).syncStatusOperation, undefined, 'empty in the env file');
  assert.equal(
    loadConfig({ envFile: file, env: { APS_SYNC_STATUS_OPERATION: 'status' }, cwd }).syncStatusOperation,
    'status',
    'the environment wins',
  );
  refused({ APS_SYNC_STATUS_OPERATION: 'sync status' }, /^APS_SYNC_STATUS_OPERATION: must be an operation path/);
});

test('variables that look like a misspelt setting are named with the one meant; unrelated ones are not', () => {
  const c = load({
    OFICE_APP_ID: '41',
    SYNC_CONCURENCY: '8',
    APS_TOKEN_MAXAGE: '60',
    OA_SOMETHING_ELSE: 'x',
    PATH: '/usr/bin',
    LOGNAME: 'root',
    TMPDIR: '/tmp',
    HOSTNAME: 'h',
    LOG_FORMAT: 'json',
  });
  assert.deepEqual(
    c.misspelt?.map((m) => [m.given, m.meant, m.where]),
    [
      ['OFICE_APP_ID', 'OFFICE_APP_ID', 'the environment'],
      ['SYNC_CONCURENCY', 'SYNC_CONCURRENCY', 'the environment'],
      ['APS_TOKEN_MAXAGE', 'APS_TOKEN_MAX_AGE', 'the environment'],
      ['OA_SOMETHING_ELSE', c.misspelt?.[3].meant, 'the environment'],
    ],
  );
  assert.match(
    doubtfulSettings(c)[0],
    /^OFICE_APP_ID \(in the environment\) is not a setting and is ignored; did you mean OFFICE_APP_ID\?$/,
  );
  assert.equal(load({}).misspelt, undefined);
  const file = join(scratchDir('obs-envfile-'), 'backsync.env');
  writeFileSync(file, 'OFFICE_APP_ID=41\nOA_HOST=oa.example\nRETRYS=2\n', { mode: 0o600 });
  assert.deepEqual(loadConfig({ envFile: file, env: {}, cwd }).misspelt, [
    { given: 'RETRYS', meant: 'RETRIES', where: file },
  ]);
});

test('edit distance: insert, delete, replace and swap count one each; with a limit, anything past it reads limit + 1', () => {
  const cases: [string, string, number][] = [
    ['LOG_LEVEL', 'LOG_LEVEL', 0],
    ['LOG_LEVLE', 'LOG_LEVEL', 1],
    ['OA_HOTS', 'OA_HOST', 1],
    ['SYNC_CONCURENCY', 'SYNC_CONCURRENCY', 1],
    ['RETRYS', 'RETRIES', 2],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['CA', 'ABC', 3],
    ['HOME', 'APS_TOKEN_MAX_AGE', 14],
  ];
  for (const [a, b, edits] of cases) {
    assert.equal(editDistance(a, b), edits, `${a} -> ${b}`);
    assert.equal(editDistance(b, a), edits, `${b} -> ${a}`);
    for (const limit of [0, 1, 2, 5])
      assert.equal(editDistance(a, b, limit), Math.min(edits, limit + 1), `${a} -> ${b} within ${limit}`);
  }
});

test('a token max age above the 30-minute token life is doubted, not refused', () => {
  assert.deepEqual(doubtfulSettings(load({ APS_TOKEN_MAX_AGE: '1800' })), []);
  assert.deepEqual(doubtfulSettings(load({ APS_TOKEN_MAX_AGE: '3600' })), [
    'APS_TOKEN_MAX_AGE (3600s) is above the 1800s a token lives by default: tokens may expire before they are renewed',
  ]);
});
