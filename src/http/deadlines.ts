import { setMaxListeners } from 'node:events';

/**
 * Abort signals for requests that must end within `timeoutMs`, shared by the requests that start
 * close together. A controller and a timer of its own for every request were, after undici itself,
 * the largest cost per tenant of the pass's own code (issue 13: about 8 µs of CPU per request in
 * creating the signal alone). Requests that start within one `slotMs` of each other share a signal,
 * raised `timeoutMs` after the end of that slot: each request is given between `timeoutMs` and
 * `timeoutMs + slotMs`, and none is cut short.
 */
export class SharedDeadlines {
  private slot: { endsAt: number; signal: AbortSignal } | undefined;
  private readonly slotMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A tenth of the timeout, at most 100 ms: a request runs at most that much past its deadline.
    this.slotMs = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
  }

  /** The signal for a request that starts now. */
  signal(): AbortSignal {
    const now = this.now();
    if (!this.slot || now >= this.slot.endsAt) {
      const controller = new AbortController();
      const endsAt = now + this.slotMs;
      // Every request in flight listens to its slot's signal; without this, 11 requests at once print
      // Node's "possible EventTarget memory leak" warning.
      setMaxListeners(0, controller.signal);
      setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), endsAt - now + this.timeoutMs).unref();
      this.slot = { endsAt, signal: controller.signal };
    }
    return this.slot.signal;
  }
}
