/**
 * Pulls items from one async source with up to `concurrency()` handlers running at once. The source
 * is pulled only when a handler is free, so a paged listing streams straight into the work and is
 * never held whole in memory. `concurrency` is read again before each pull, so a caller can lower or
 * raise it while the pool runs.
 */
export async function runWorkers<T>(
  source: AsyncIterable<T>,
  concurrency: () => number,
  handle: (item: T) => Promise<void>,
  shouldStop: () => boolean,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  const running = new Set<Promise<void>>();
  let exhausted = false;
  try {
    while (!exhausted && !shouldStop()) {
      if (running.size >= concurrency()) {
        await Promise.race(running);
        continue;
      }
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const task = handle(next.value).finally(() => running.delete(task));
      running.add(task);
    }
  } finally {
    await Promise.allSettled(running);
    if (!exhausted) await iterator.return?.();
  }
}
