/**
 * Pulls items from one async source with up to `concurrency()` handlers running at once. The source
 * is pulled only when a handler is free, so a paged listing streams straight into the work and is
 * never held whole in memory. `concurrency` is read again before each pull, so a caller can lower or
 * raise it while the pool runs. A handler that throws stops the pulling: the others finish, then its
 * error is thrown.
 */
export async function runWorkers<T>(
  source: AsyncIterable<T>,
  concurrency: () => number,
  handle: (item: T) => Promise<void>,
  shouldStop: () => boolean,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  let running = 0;
  let failure: { error: unknown } | undefined;
  // The loop waits on one promise that the next handler to end resolves. Racing the running handlers
  // instead would attach a reaction to each of them per tenant: at high concurrency, the pass's
  // biggest allocation.
  let freed: (() => void) | undefined;
  const slotFreed = (): Promise<void> => new Promise((resolve) => (freed = resolve));
  const settled = (): void => {
    running--;
    freed?.();
  };
  let exhausted = false;
  try {
    while (!exhausted && !shouldStop() && !failure) {
      if (running >= concurrency()) {
        await slotFreed();
        continue;
      }
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      running++;
      handle(next.value).then(settled, (error: unknown) => {
        failure ??= { error };
        settled();
      });
    }
  } finally {
    while (running > 0) await slotFreed();
    if (!exhausted) await iterator.return?.();
  }
  if (failure) throw failure.error;
}
