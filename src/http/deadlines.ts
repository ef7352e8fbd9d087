/** What a deadline ends: a request in flight. */
export interface Abortable {
  abort(reason: Error): void;
}

/**
 * One timer for the requests that start close together, each of which must end within `timeoutMs`.
 * An AbortController and a timer of their own for every request would be, after undici itself, the
 * largest cost per tenant of the pass's own code, and a shared signal would still cost a listener added
 * and removed per request. Requests that start within one `slotMs` of each other join one slot, whose timer ends those still in it `timeoutMs` after
 * the slot's end: each request is given between `timeoutMs` and `timeoutMs + slotMs`, and none is cut short.
 */
export class SharedDeadlines {
  private slot: { endsAt: number; members: Set<Abortable> } | undefined;
  private readonly slotMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A tenth of the timeout, at most 100 ms: a request runs at most that much past its deadline.
    this.slotMs = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
  }

  /** Starts the deadline of a request that starts now; the set it must leave once it has ended. */
  join(request: Abortable): Set<Abortable> {
    const now = this.now();
    if (!this.slot || now >= this.slot.endsAt) {
      const members = new Set<Abortable>();
      const endsAt = now + this.slotMs;
      // Unref'd: a request in flight holds the process open by its socket, and one that has ended left.
      setTimeout(
        () => {
          const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
          for (const member of members) member.abort(reason);
          members.clear();
        },
        endsAt - now + this.timeoutMs,
      ).unref();
      this.slot = { endsAt, members };
    }
    return this.slot.members.add(request);
  }
}
