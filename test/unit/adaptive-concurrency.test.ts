import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveConcurrency, type ConcurrencyChange } from '../../src/sync/adaptive-concurrency';

function limiter(ceiling: number, cooldownMs = 1000) {
  let clock = 0;
  const changes: ConcurrencyChange[] = [];
  const l = new AdaptiveConcurrency({ ceiling, cooldownMs, now: () => clock, onChange: (c) => changes.push(c) });
  return { l, changes, advance: (ms: number) => (clock += ms) };
}

const times = (n: number, f: () => void) => {
  for (let i = 0; i < n; i++) f();
};

test('starts at the ceiling and stays there while the controller keeps up', () => {
  const { l, changes } = limiter(16);
  assert.equal(l.current, 16);
  times(100, () => l.succeeded());
  assert.equal(l.current, 16);
  assert.deepEqual(changes, []);
});

test('a throttle halves the limit, and a burst from the same window counts once', () => {
  const { l, changes } = limiter(16);
  times(16, () => l.throttled());
  assert.equal(l.current, 8);
  assert.deepEqual(changes, [{ from: 16, to: 8, reason: 'throttled' }]);
});

test('a throttle after the window in flight has answered halves again, down to 1 and no lower', () => {
  const { l, changes } = limiter(16);
  l.throttled(); // 16 -> 8; 15 more answers expected from the window of 16
  times(15, () => l.throttled());
  assert.equal(l.current, 8);
  l.throttled(); // the 17th answer: from requests sent at 8
  assert.equal(l.current, 4);
  times(7, () => l.throttled());
  l.throttled();
  times(3, () => l.throttled());
  l.throttled();
  times(1, () => l.throttled());
  l.throttled();
  assert.equal(l.current, 1);
  assert.deepEqual(
    changes.map((c) => [c.from, c.to]),
    [
      [16, 8],
      [8, 4],
      [4, 2],
      [2, 1],
    ],
  );
});

test('successes also close the window: the answers of requests sent before the cut', () => {
  const { l } = limiter(16);
  l.throttled();
  times(7, () => l.succeeded());
  l.throttled();
  assert.equal(l.current, 8, 'still within the window of 16');
  times(7, () => l.succeeded()); // 8 successes in a row at 8 would raise it: this is 7
  l.throttled();
  assert.equal(l.current, 4);
});

test('a throttle after the cool-down counts even when the window has not answered', () => {
  const { l, advance } = limiter(16, 1000);
  l.throttled();
  advance(999);
  l.throttled();
  assert.equal(l.current, 8);
  advance(1000);
  l.throttled();
  assert.equal(l.current, 4);
});

test('after `limit` successes in a row the limit grows by one, up to the ceiling', () => {
  const { l, changes, advance } = limiter(4);
  l.throttled();
  assert.equal(l.current, 2);
  advance(1000);
  l.succeeded();
  assert.equal(l.current, 2);
  l.succeeded();
  assert.equal(l.current, 3);
  times(2, () => l.succeeded());
  assert.equal(l.current, 3);
  l.succeeded();
  assert.equal(l.current, 4);
  times(50, () => l.succeeded());
  assert.equal(l.current, 4);
  assert.deepEqual(changes, [
    { from: 4, to: 2, reason: 'throttled' },
    { from: 2, to: 3, reason: 'recovered' },
    { from: 3, to: 4, reason: 'recovered' },
  ]);
});

test('a throttle breaks the run of successes, even one that does not lower the limit', () => {
  const { l } = limiter(8);
  l.throttled(); // 8 -> 4, window of 8
  times(3, () => l.succeeded());
  l.throttled(); // within the window: no decrease, but the run starts over
  times(3, () => l.succeeded());
  assert.equal(l.current, 4);
  l.succeeded();
  assert.equal(l.current, 5);
});

test('a ceiling of 1 never changes', () => {
  const { l, changes } = limiter(1);
  l.throttled();
  times(10, () => l.succeeded());
  l.throttled();
  assert.equal(l.current, 1);
  assert.deepEqual(changes, []);
});

test('a ceiling that is not a positive whole number is refused', () => {
  assert.throws(() => new AdaptiveConcurrency({ ceiling: 0 }), RangeError);
  assert.throws(() => new AdaptiveConcurrency({ ceiling: 2.5 }), RangeError);
});
