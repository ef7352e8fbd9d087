import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runWorkers } from '../../src/sync/workers';

/** A source that counts how far it has been pulled and whether it was closed early. */
function source(count: number) {
  const state = { pulled: 0, returned: false };
  const iterable: AsyncIterable<number> = {
    [Symbol.asyncIterator]: () => ({
      next: async () =>
        state.pulled < count ? { done: false, value: state.pulled++ } : { done: true, value: undefined },
      return: async () => {
        state.returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return { iterable, state };
}

/** Handlers that stay running until released, so a test can look at the pool in between. */
function gated() {
  const waiting: (() => void)[] = [];
  const started: number[] = [];
  let inFlight = 0;
  let peak = 0;
  const handle = async (item: number): Promise<void> => {
    started.push(item);
    peak = Math.max(peak, ++inFlight);
    await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight--;
  };
  const release = async (n = waiting.length): Promise<void> => {
    for (const r of waiting.splice(0, n)) r();
    await new Promise((r) => setImmediate(r));
  };
  return { handle, started, waiting, release, peak: () => peak };
}

test('never more than `concurrency` handlers at once, and the source pulled only when one is free', async () => {
  const { iterable, state } = source(10);
  const g = gated();
  const done = runWorkers(
    iterable,
    () => 3,
    g.handle,
    () => false,
  );
  await g.release(0);
  assert.deepEqual({ started: g.started.length, pulled: state.pulled }, { started: 3, pulled: 3 });
  await g.release(1);
  assert.deepEqual({ started: g.started.length, pulled: state.pulled }, { started: 4, pulled: 4 });
  while (g.waiting.length) await g.release();
  await done;
  assert.deepEqual(g.started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(g.peak(), 3);
  assert.equal(state.returned, false);
});

test('the concurrency is read again as the pool runs: lowered, the pool drains down to it; raised, it fills up', async () => {
  const { iterable } = source(20);
  const g = gated();
  let limit = 4;
  const done = runWorkers(
    iterable,
    () => limit,
    g.handle,
    () => false,
  );
  await g.release(0);
  assert.equal(g.waiting.length, 4);
  limit = 2;
  await g.release(1);
  assert.equal(g.waiting.length, 3, 'nothing new starts while more than the new limit run');
  await g.release(2);
  assert.equal(g.waiting.length, 2);
  limit = 5;
  await g.release(0);
  assert.equal(g.waiting.length, 2, 'raising waits for the next handler to end');
  await g.release(1);
  assert.equal(g.waiting.length, 5);
  while (g.waiting.length) await g.release();
  await done;
  assert.equal(g.started.length, 20);
});

test('a stop lets the running handlers finish, starts nothing more and closes the source', async () => {
  const { iterable, state } = source(100);
  const g = gated();
  let stop = false;
  const done = runWorkers(
    iterable,
    () => 4,
    g.handle,
    () => stop,
  );
  await g.release(0);
  stop = true;
  await g.release(1);
  assert.equal(g.waiting.length, 3);
  await g.release();
  await done;
  assert.equal(g.started.length, 4);
  assert.equal(state.returned, true);
});

test('a handler that throws stops the pulling; the others finish and its error comes out', async () => {
  const { iterable, state } = source(100);
  const finished: number[] = [];
  const handle = async (item: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, item === 2 ? 1 : 20));
    if (item === 2) throw new Error('boom');
    finished.push(item);
  };
  await assert.rejects(
    runWorkers(
      iterable,
      () => 4,
      handle,
      () => false,
    ),
    /boom/,
  );
  assert.deepEqual(finished.sort(), [0, 1, 3]);
  assert.ok(state.pulled <= 5, `pulled ${state.pulled}`);
  assert.equal(state.returned, true);
});
