/**
 * How many tenants run at once, adapted to what the controller says (AIMD, as TCP does with its
 * window). The operator's SYNC_CONCURRENCY is the ceiling and the start. A throttling answer (429, or
 * 503 from the controller or a proxy in front of it) halves the limit; `limit` successes in a row add
 * one back, up to the ceiling. So a busy controller gets fewer requests quickly, and a recovered one
 * gets its full share back gradually.
 *
 * The requests already in flight when the limit is cut were sent at the old rate, so their throttles
 * say nothing new: a burst of them counts as one decrease. After a decrease, throttles are ignored
 * until about as many answers as were in flight (the old limit) have come back, or `cooldownMs` has
 * passed, whichever is first. The time bound matters when few answers come back at all (requests
 * failing in other ways), so that a controller that keeps throttling is still backed off from.
 */
export interface ConcurrencyChange {
  from: number;
  to: number;
  reason: 'throttled' | 'recovered';
}

export interface AdaptiveConcurrencyOptions {
  ceiling: number;
  /** Told about every change of the limit, for the log. */
  onChange?: (change: ConcurrencyChange) => void;
  cooldownMs?: number;
  now?: () => number;
}

/** Long enough for a window of requests to answer on a slow controller, short enough to react within a pass. */
const DEFAULT_COOLDOWN_MS = 2000;

export class AdaptiveConcurrency {
  private limit: number;
  private streak = 0;
  /** Answers still expected from the window that was in flight at the last decrease. */
  private windowLeft = 0;
  private decreasedAt = -Infinity;
  private readonly now: () => number;
  private readonly cooldownMs: number;

  constructor(private readonly options: AdaptiveConcurrencyOptions) {
    if (!Number.isSafeInteger(options.ceiling) || options.ceiling < 1)
      throw new RangeError(`concurrency ceiling must be a positive whole number, got ${options.ceiling}`);
    this.limit = options.ceiling;
    this.now = options.now ?? (() => performance.now());
    this.cooldownMs = options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  }

  get current(): number {
    return this.limit;
  }

  /** The controller asked us to slow down (429/503). */
  throttled(): void {
    this.streak = 0;
    const inBurst = this.windowLeft > 0 && this.now() - this.decreasedAt < this.cooldownMs;
    if (inBurst) {
      this.windowLeft--;
      return;
    }
    const from = this.limit;
    this.windowLeft = from - 1;
    this.decreasedAt = this.now();
    if (from === 1) return;
    this.limit = Math.max(1, Math.floor(from / 2));
    this.options.onChange?.({ from, to: this.limit, reason: 'throttled' });
  }

  /** The controller answered a request without asking us to slow down. */
  succeeded(): void {
    if (this.windowLeft > 0) this.windowLeft--;
    if (this.limit >= this.options.ceiling) return;
    if (++this.streak < this.limit) return;
    this.streak = 0;
    const from = this.limit;
    this.limit++;
    this.options.onChange?.({ from, to: this.limit, reason: 'recovered' });
  }
}
