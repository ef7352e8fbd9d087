import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeFor, exitCodeForPass } from '../../src/cli/exit-codes';
import {
  ApsError,
  BacksyncError,
  BodyTooLargeError,
  ConfigError,
  ControllerDownError,
  type ErrorTraits,
  NetworkError,
  OaError,
  OaFaultError,
  OaHttpError,
  HostError,
  openFilesLimit,
  OwnFileError,
  TokenRenewalError,
  ProtocolError,
  TlsError,
  traitsOf,
} from '../../src/errors';
import type { PassResult } from '../../src/sync/pass';

/**
 * What every error class says about itself, one row each (a row per status where the status decides),
 * in the manner of undici's test/errors.js. A change to what an error means shows up here as a row.
 */
type Row = [label: string, error: BacksyncError, name: string, expected: Omit<ErrorTraits, 'retryAfterMs'>];

const traits = (
  code: ErrorTraits['code'],
  exitCode: ErrorTraits['exitCode'],
  scope: ErrorTraits['scope'],
  yes: (keyof ErrorTraits)[] = [],
) => ({
  code,
  exitCode,
  scope,
  retryable: yes.includes('retryable'),
  throttling: yes.includes('throttling'),
  tokenRefused: yes.includes('tokenRefused'),
  tenantGone: yes.includes('tenantGone'),
  namesFix: yes.includes('namesFix'),
});

const aps = (status: number, message = 'words', type?: string) => new ApsError(status, message, type);

const rows: Row[] = [
  [
    'ConfigError',
    new ConfigError('OA_HOST', 'is required'),
    'ConfigError',
    traits('OBS_ERR_CONFIG', 2, 'service', ['namesFix']),
  ],
  [
    'OaError',
    new OaError('pem.APS.getApplicationInstances', 'java.lang.NullPointerException: null', undefined, undefined),
    'OaError',
    traits('OBS_ERR_OA', 3, 'service'),
  ],
  [
    'OaFaultError',
    new OaFaultError('pem.x', 1, 'Method "pem.x" is not supported.'),
    'OaFaultError',
    traits('OBS_ERR_OA_FAULT', 3, 'service'),
  ],
  ['OaHttpError 401', new OaHttpError(401, ''), 'OaHttpError', traits('OBS_ERR_OA_HTTP', 3, 'service', ['namesFix'])],
  [
    'OaHttpError 403',
    new OaHttpError(403, '', undefined, true),
    'OaHttpError',
    traits('OBS_ERR_OA_HTTP', 3, 'service', ['namesFix']),
  ],
  [
    'OaHttpError 429',
    new OaHttpError(429, ''),
    'OaHttpError',
    traits('OBS_ERR_OA_HTTP', 3, 'service', ['retryable', 'throttling']),
  ],
  ['OaHttpError 500', new OaHttpError(500, ''), 'OaHttpError', traits('OBS_ERR_OA_HTTP', 3, 'service')],
  ['OaHttpError 502', new OaHttpError(502, ''), 'OaHttpError', traits('OBS_ERR_OA_HTTP', 3, 'service', ['retryable'])],
  [
    'OaHttpError 503',
    new OaHttpError(503, ''),
    'OaHttpError',
    traits('OBS_ERR_OA_HTTP', 3, 'service', ['retryable', 'throttling']),
  ],
  ['OaHttpError 504', new OaHttpError(504, ''), 'OaHttpError', traits('OBS_ERR_OA_HTTP', 3, 'service', ['retryable'])],
  ['ApsError 400', aps(400), 'ApsError', traits('OBS_ERR_APS', 3, 'tenant')],
  ['ApsError 401', aps(401), 'ApsError', traits('OBS_ERR_APS', 3, 'tenant', ['tokenRefused'])],
  ['ApsError 403', aps(403), 'ApsError', traits('OBS_ERR_APS', 3, 'tenant', ['tokenRefused'])],
  ['ApsError 404', aps(404), 'ApsError', traits('OBS_ERR_APS', 3, 'tenant', ['tenantGone'])],
  ['ApsError 429', aps(429), 'ApsError', traits('OBS_ERR_APS', 3, 'service', ['retryable', 'throttling'])],
  ['ApsError 500', aps(500), 'ApsError', traits('OBS_ERR_APS', 3, 'tenant')],
  [
    'ApsError 500 Authentication failed.',
    aps(500, 'Authentication failed.', 'APS::Hosting::Exception'),
    'ApsError',
    traits('OBS_ERR_APS', 3, 'tenant', ['tokenRefused']),
  ],
  [
    'ApsError 500 Unauthorized request',
    aps(500, 'Unauthorized request', 'APS::Util::Exception'),
    'ApsError',
    traits('OBS_ERR_APS', 3, 'tenant', ['tokenRefused']),
  ],
  [
    'ApsError 500 APS::Util::Exception: Unauthorized request',
    aps(500, 'APS::Util::Exception: Unauthorized request'),
    'ApsError',
    traits('OBS_ERR_APS', 3, 'tenant', ['tokenRefused']),
  ],
  [
    'ApsError 500 Unauthorized request for tenant',
    aps(500, 'Unauthorized request for tenant 7'),
    'ApsError',
    traits('OBS_ERR_APS', 3, 'tenant'),
  ],
  ['ApsError 502', aps(502), 'ApsError', traits('OBS_ERR_APS', 3, 'service', ['retryable'])],
  ['ApsError 503', aps(503), 'ApsError', traits('OBS_ERR_APS', 3, 'service', ['retryable', 'throttling'])],
  ['ApsError 504', aps(504), 'ApsError', traits('OBS_ERR_APS', 3, 'service', ['retryable'])],
  ['ProtocolError aps', new ProtocolError('aps', 'not JSON'), 'ProtocolError', traits('OBS_ERR_PROTOCOL', 3, 'tenant')],
  [
    'ProtocolError oa',
    new ProtocolError('oa', 'not XML-RPC'),
    'ProtocolError',
    traits('OBS_ERR_PROTOCOL', 3, 'service'),
  ],
  [
    'BodyTooLargeError aps',
    new BodyTooLargeError('aps', 10, 'resync reply'),
    'BodyTooLargeError',
    traits('OBS_ERR_BODY_TOO_LARGE', 3, 'tenant', ['namesFix']),
  ],
  [
    'BodyTooLargeError oa',
    new BodyTooLargeError('oa', 10, 'OA reply'),
    'BodyTooLargeError',
    traits('OBS_ERR_BODY_TOO_LARGE', 3, 'service', ['namesFix']),
  ],
  [
    'NetworkError',
    new NetworkError('aps', 'https://oa.example:6308', 'ECONNRESET'),
    'NetworkError',
    traits('OBS_ERR_NETWORK', 3, 'service', ['retryable']),
  ],
  [
    'TlsError',
    new TlsError('aps', 'https://oa.example:6308', 'self-signed', 'set APS_CA_FILE'),
    'TlsError',
    traits('OBS_ERR_TLS', 3, 'service', ['namesFix']),
  ],
  [
    'ControllerDownError',
    new ControllerDownError(5, new Error('x')),
    'ControllerDownError',
    traits('OBS_ERR_CONTROLLER_DOWN', 3, 'service'),
  ],
  [
    'OwnFileError',
    new OwnFileError(
      '/var/log/sync/o365-backsync.log',
      Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }),
      'ENOSPC (no space left on the device)',
    ),
    'OwnFileError',
    traits('OBS_ERR_OWN_FILE', 4, 'service'),
  ],
  [
    'TokenRenewalError',
    new TokenRenewalError('APS_TOKEN_MAX_AGE is 1 s but OA took 1.2 s'),
    'TokenRenewalError',
    traits('OBS_ERR_TOKEN_RENEWAL', 3, 'pass', ['namesFix']),
  ],
  [
    'HostError',
    new HostError('the run lock is held by pid 4242, which is not a run of this tool'),
    'HostError',
    traits('OBS_ERR_HOST', 4, 'host', ['namesFix']),
  ],
  [
    'HostError (the open-files limit, found as the cause of a network error)',
    openFilesLimit(
      new NetworkError('aps', 'https://aps:6308', 'EMFILE', {
        cause: Object.assign(new Error('connect EMFILE 10.0.0.1:6308'), { code: 'EMFILE' }),
      }),
    )!,
    'HostError',
    traits('OBS_ERR_HOST', 4, 'host', ['namesFix']),
  ],
];

for (const [label, error, name, expected] of rows) {
  test(`${label}: ${expected.code}, exit ${expected.exitCode}`, () => {
    assert.ok(error instanceof Error);
    assert.equal(error.name, name);
    const { code, exitCode, retryable, throttling, scope, tokenRefused, tenantGone, namesFix } = traitsOf(error);
    assert.deepEqual({ code, exitCode, retryable, throttling, scope, tokenRefused, tenantGone, namesFix }, expected);
    assert.equal(exitCodeFor(error), expected.exitCode);
  });
}

test('every error class has a row', () => {
  const classes = [
    ConfigError,
    OaError,
    OaFaultError,
    OaHttpError,
    ApsError,
    ProtocolError,
    BodyTooLargeError,
    NetworkError,
    TlsError,
    ControllerDownError,
    OwnFileError,
    TokenRenewalError,
    HostError,
  ];
  for (const c of classes)
    assert.ok(
      rows.some(([, error]) => error.constructor === c),
      c.name,
    );
  assert.equal(new Set(rows.map(([, , , t]) => t.code)).size, classes.length, 'one code per class');
});

test('the open-files limit, raised as is by Node.js, is the host error: exit 4 with the fix, never 70', () => {
  for (const code of ['EMFILE', 'ENFILE']) {
    const thrown = Object.assign(new Error(`${code}: too many open files, open '/x'`), { code });
    const {
      code: errorCode,
      exitCode,
      retryable,
      throttling,
      scope,
      tokenRefused,
      tenantGone,
      namesFix,
    } = traitsOf(thrown);
    assert.deepEqual(
      { code: errorCode, exitCode, scope, retryable, throttling, tokenRefused, tenantGone, namesFix },
      traits('OBS_ERR_HOST', 4, 'host', ['namesFix']),
    );
    assert.match(openFilesLimit(thrown)!.message, /ulimit -n, or LimitNOFILE=/);
  }
  assert.equal(openFilesLimit(new Error('ENOENT')), undefined);
});

test('anything else thrown is a bug: exit 70, about the tenant it happened on, never retried', () => {
  for (const thrown of [
    new TypeError('x is undefined'),
    Object.assign(new Error('EACCES'), { code: 'EACCES', remote: 'oa', status: 503 }),
    'a string',
  ]) {
    assert.deepEqual(traitsOf(thrown), traits(undefined, 70, 'tenant'));
    assert.equal(exitCodeFor(thrown), 70);
  }
});

test('OA refusals name the settings to check; other statuses do not', () => {
  assert.equal(
    new OaHttpError(401, '401 Authorization Required').message,
    'OA Public API answered HTTP 401: 401 Authorization Required; OA asks for HTTP basic auth: set OA_USER and OA_PASSWORD',
  );
  assert.equal(
    new OaHttpError(401, '401 Authorization Required', undefined, true).message,
    'OA Public API answered HTTP 401: 401 Authorization Required; OA refused OA_USER/OA_PASSWORD: check them',
  );
  assert.equal(
    new OaHttpError(403, '403 Forbidden', undefined, true).message,
    'OA Public API answered HTTP 403: 403 Forbidden; OA refused OA_USER/OA_PASSWORD: check them',
  );
  assert.match(
    new OaHttpError(403, '').message,
    /^OA Public API answered HTTP 403; OA refused this host: set OA_USER and OA_PASSWORD if it asks for basic auth/,
  );
  assert.equal(new OaHttpError(502, 'Bad Gateway').message, 'OA Public API answered HTTP 502: Bad Gateway');
});

test('Retry-After travels with the HTTP errors that carry it, for the retry delay', () => {
  assert.equal(traitsOf(new ApsError(429, 'slow down', undefined, 7000)).retryAfterMs, 7000);
  assert.equal(traitsOf(new OaHttpError(503, '', 2000)).retryAfterMs, 2000);
  assert.equal(traitsOf(new NetworkError('oa', 'http://oa', 'ECONNREFUSED')).retryAfterMs, undefined);
});

test('a pass: stopped by the controller or with an instance failed is 3, failed tenants or failed last syncs 1, else 0', () => {
  const pass = (more: Partial<PassResult>): PassResult => ({
    tenants: 3,
    synced: 3,
    failed: 0,
    skipped: 0,
    planned: 0,
    busy: 0,
    lastSyncFailed: 0,
    alreadyDone: 0,
    instances: 1,
    tokenRefreshes: 0,
    instanceFailures: [],
    invalid: 0,
    ...more,
  });
  assert.equal(exitCodeForPass(pass({})), 0);
  assert.equal(exitCodeForPass(pass({ busy: 2 })), 0);
  assert.equal(exitCodeForPass(pass({ failed: 1 })), 1);
  assert.equal(exitCodeForPass(pass({ lastSyncFailed: 1 })), 1);
  assert.equal(exitCodeForPass(pass({ invalid: 1 })), 1, 'a listed item that is not a tenant was not resynced');
  assert.equal(
    exitCodeForPass(
      pass({ failed: 1, instanceFailures: [{ instanceId: 1001, error: new ProtocolError('aps', 'x') }] }),
    ),
    3,
  );
  assert.equal(exitCodeForPass(pass({ interruptedBy: new ControllerDownError(5, new Error('x')) })), 3);
});
