import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { SharedDeadlines } from '../../src/http/deadlines';

test('requests that start within one slot share a signal; a later one gets a new one', () => {
  let now = 1000;
  const deadlines = new SharedDeadlines(60_000, () => now);
  const first = deadlines.signal();
  now += 99;
  assert.equal(deadlines.signal(), first, 'a tenth of the timeout, at most 100 ms, is one slot');
  now += 1;
  const second = deadlines.signal();
  assert.notEqual(second, first);
  assert.equal(first.aborted, false);
});

test('the shared signal ends its requests with a timeout, and many requests at once raise no listener warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  // The deadline's timer does not hold the process open (a request in flight does): this one stands in.
  const inFlight = setInterval(() => undefined, 1000);
  try {
    const signal = new SharedDeadlines(20).signal();
    for (let i = 0; i < 32; i++) signal.addEventListener('abort', () => undefined);
    await once(signal, 'abort');
    assert.equal((signal.reason as DOMException).name, 'TimeoutError');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    clearInterval(inFlight);
    process.off('warning', onWarning);
  }
});
