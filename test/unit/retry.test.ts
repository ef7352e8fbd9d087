import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApsError,
  BodyTooLargeError,
  NetworkError,
  OaError,
  OaHttpError,
  ProtocolError,
  TlsError,
  traitsOf,
} from '../../src/errors';
import { parseRetryAfter, retryDelayMs, type RetryOptions, stoppableSleep, withRetries } from '../../src/http/retry';

const network = (): NetworkError => new NetworkError('aps', 'https://oa.example:6308', 'ECONNRESET socket hang up');
const aps = (status: number, retryAfterMs?: number): ApsError => new ApsError(status, 'words', undefined, retryAfterMs);

/** A call that fails with `errors` in turn, then answers 'done'; it counts its calls. */
function failing(...errors: Error[]): { call: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    call: async () => {
      const e = errors[n++];
      if (e) throw e;
      return 'done';
    },
    calls: () => n,
  };
}

/** Options that record the delays instead of waiting them out. */
function recording(options: Partial<RetryOptions> = {}): RetryOptions & { delays: number[] } {
  const delays: number[] = [];
  return {
    retries: 3,
    maxDelayMs: 30_000,
    random: () => 0.5,
    wait: async (ms) => void delays.push(ms),
    delays,
    ...options,
  };
}

test('network errors and 429/502/503/504 are retryable; other statuses and bad replies are not', () => {
  const isTransient = (e: unknown): boolean => traitsOf(e).retryable;
  assert.equal(isTransient(network()), true);
  for (const status of [429, 502, 503, 504]) {
    assert.equal(isTransient(aps(status)), true, `APS ${status}`);
    assert.equal(isTransient(new OaHttpError(status, '')), true, `OA ${status}`);
  }
  for (const status of [400, 401, 403, 404, 409, 500, 501]) {
    assert.equal(isTransient(aps(status)), false, `APS ${status}`);
    assert.equal(isTransient(new OaHttpError(status, '')), false, `OA ${status}`);
  }
  const permanent = [
    new ProtocolError('aps', 'not JSON'),
    new BodyTooLargeError('aps', 10, 'tenant list page'),
    new TlsError('aps', 'https://oa.example:6308', 'unable to verify the first certificate', 'set APS_CA_FILE'),
    new OaError('pem.APS.getApplicationInstances', 'Application with ID 41 is not found.', 'APS', 7),
    new Error('a bug'),
  ];
  for (const e of permanent) assert.equal(isTransient(e), false, e.message);
});

test('a transient failure is retried RETRIES times, then the last error is thrown', async () => {
  const errors = [network(), aps(503), aps(502), aps(504), aps(429)];
  const f = failing(...errors);
  const options = recording({ retries: 3 });
  await assert.rejects(withRetries(f.call, options), (e: unknown) => e === errors[3]);
  assert.equal(f.calls(), 4, 'one try and three retries');
  assert.equal(options.delays.length, 3);
});

test('the first success after transient failures is returned', async () => {
  const f = failing(aps(503), network());
  assert.equal(await withRetries(f.call, recording()), 'done');
  assert.equal(f.calls(), 3);
});

test('a failure that is not transient is thrown at once, without waiting', async () => {
  for (const error of [aps(500), aps(404), aps(401), new ProtocolError('oa', 'bad XML')]) {
    const f = failing(error);
    const options = recording();
    await assert.rejects(withRetries(f.call, options), (e: unknown) => e === error);
    assert.equal(f.calls(), 1, error.message);
    assert.deepEqual(options.delays, []);
  }
});

test('RETRIES=0 means one try only', async () => {
  const f = failing(aps(503));
  await assert.rejects(withRetries(f.call, recording({ retries: 0 })), ApsError);
  assert.equal(f.calls(), 1);
});

test('backoff doubles from the base up to the cap, and full jitter draws anywhere below it', async () => {
  const top = recording({ retries: 6, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
  await assert.rejects(withRetries(failing(...Array.from({ length: 7 }, network)).call, top));
  assert.deepEqual(top.delays, [99, 199, 399, 799, 999, 999]);

  const half = recording({ retries: 6, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
  await assert.rejects(withRetries(failing(...Array.from({ length: 7 }, network)).call, half));
  assert.deepEqual(half.delays, [50, 100, 200, 400, 500, 500]);

  const zero = recording({ retries: 3, random: () => 0 });
  await assert.rejects(withRetries(failing(network(), network(), network(), network()).call, zero));
  assert.deepEqual(zero.delays, [0, 0, 0]);
});

test('the default base is 200 ms and real waits happen between tries', async () => {
  assert.equal(retryDelayMs(0, network(), { retries: 3, maxDelayMs: 30_000, random: () => 0.999999 }), 199);
  assert.equal(
    retryDelayMs(40, network(), { retries: 3, maxDelayMs: 30_000, random: () => 0.999999 }),
    29_999,
    'no overflow at high attempts',
  );
  const f = failing(network());
  assert.equal(await withRetries(f.call, { retries: 1, maxDelayMs: 5 }), 'done');
});

test("the controller's Retry-After replaces the backoff, up to RETRY_MAX_DELAY_MS", async () => {
  const options = recording({ maxDelayMs: 5000, random: () => 0 });
  await withRetries(failing(aps(503, 1500), aps(429, 60_000), aps(503, 0)).call, options);
  assert.deepEqual(options.delays, [1500, 5000, 0]);
});

test("OA's Retry-After is honoured the same way", async () => {
  const options = recording({ maxDelayMs: 5000, random: () => 0 });
  await withRetries(
    failing(new OaHttpError(503, 'Service Unavailable', 2000), new OaHttpError(503, '', 90_000)).call,
    options,
  );
  assert.deepEqual(options.delays, [2000, 5000]);
});

test('each retry is reported with its error, attempt number and delay', async () => {
  const seen: [string, number, number][] = [];
  const errors = [aps(503), network()];
  await withRetries(
    failing(...errors).call,
    recording({ onRetry: (e, attempt, delay) => seen.push([e.message, attempt, delay]) }),
  );
  assert.deepEqual(seen, [
    [errors[0]!.message, 1, 100],
    [errors[1]!.message, 2, 200],
  ]);
});

test('once the run winds down a failure is not retried', async () => {
  const stop = new AbortController();
  stop.abort();
  const f = failing(aps(503));
  await assert.rejects(withRetries(f.call, recording({ stop: stop.signal })), ApsError);
  assert.equal(f.calls(), 1);
});

test('a stop raised during the wait between tries ends the wait and throws the failure', async () => {
  const stop = new AbortController();
  const failure = aps(503, 60_000);
  const f = failing(failure);
  const waits: (AbortSignal | undefined)[] = [];
  // The run is told to stop while the wait is under way; a wait that ignored it would last the minute.
  const wait = (ms: number, signal?: AbortSignal): Promise<void> => {
    waits.push(signal);
    stop.abort();
    return stoppableSleep(ms, signal);
  };
  await assert.rejects(
    withRetries(f.call, { retries: 3, maxDelayMs: 60_000, wait, stop: stop.signal }),
    (e: unknown) => e === failure,
  );
  assert.equal(f.calls(), 1);
  assert.deepEqual(waits, [stop.signal]);
});

test('stoppableSleep resolves as soon as stop is raised', async () => {
  const stop = new AbortController();
  const slept = stoppableSleep(3_600_000, stop.signal);
  stop.abort();
  await slept;
  const already = new AbortController();
  already.abort();
  await stoppableSleep(3_600_000, already.signal);
});

test('Retry-After is whole seconds or an HTTP date; anything else is ignored', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 3 ', now), 3000);
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter(['7', '9'], now), 7000);
  assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0, 'a date in the past means now');
  for (const bad of [undefined, [], '', 'soon', '1.5', '-5', '1e3', '12 apples']) {
    assert.equal(parseRetryAfter(bad, now), undefined, JSON.stringify(bad));
  }
});
