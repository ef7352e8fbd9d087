import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Abortable, SharedDeadlines } from '../../src/http/deadlines';

/** A request that records why it was ended. */
function request(): Abortable & { reasons: Error[] } {
  const reasons: Error[] = [];
  return { reasons, abort: (reason) => reasons.push(reason) };
}

test('requests that start within one slot share a deadline; a later one starts another', () => {
  let now = 1000;
  const deadlines = new SharedDeadlines(60_000, () => now);
  const first = deadlines.join(request());
  now += 99;
  assert.equal(deadlines.join(request()), first, 'a tenth of the timeout, at most 100 ms, is one slot');
  assert.equal(first.size, 2);
  now += 1;
  const second = deadlines.join(request());
  assert.notEqual(second, first);
  assert.equal(second.size, 1);
});

test('the deadline ends the requests still in its slot with a timeout, and not those that left it', async () => {
  // The deadline's timer does not hold the process open (a request in flight does): this one stands in.
  const inFlight = setInterval(() => undefined, 1000);
  try {
    const deadlines = new SharedDeadlines(20);
    const requests = Array.from({ length: 32 }, request);
    const done = request();
    let slot = deadlines.join(done);
    for (const r of requests) slot = deadlines.join(r);
    slot.delete(done);
    await new Promise((r) => setTimeout(r, 60));
    for (const r of requests)
      assert.deepEqual(
        r.reasons.map((e) => e.name),
        ['TimeoutError'],
      );
    assert.deepEqual(done.reasons, []);
    assert.equal(slot.size, 0, 'the slot lets go of its requests once it has ended them');
  } finally {
    clearInterval(inFlight);
  }
});
