import { setTimeout as sleep } from 'node:timers/promises';
import { traitsOf } from '../errors';

/**
 * Retries for failures that say "not now" rather than "no" (each error says which it is: no
 * connection, no answer in time, 429/502/503/504). Delays are exponential with full jitter so that
 * many workers do not come back in step, and a Retry-After from the server is honoured up to `maxDelayMs`.
 */
export interface RetryOptions {
  retries: number;
  maxDelayMs: number;
  baseDelayMs?: number;
  random?: () => number;
  /** Waits `ms`, or less once `stop` is raised. */
  wait?: (ms: number, stop?: AbortSignal) => Promise<unknown>;
  /**
   * Once raised, a failure is not retried and a wait between tries ends at once: a run winding down
   * must exit within its stop timeout, and a backoff can reach RETRY_MAX_DELAY_MS per try.
   */
  stop?: AbortSignal;
  /** Told about each failure that will be retried, e.g. to slow the pass down. */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

export function retryDelayMs(attempt: number, error: unknown, options: RetryOptions): number {
  const { maxDelayMs, baseDelayMs = 200, random = Math.random } = options;
  const { retryAfterMs } = traitsOf(error);
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxDelayMs);
  return Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
}

export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.wait ?? stoppableSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= options.retries || !traitsOf(e).retryable || options.stop?.aborted) throw e;
      const delay = retryDelayMs(attempt, e, options);
      options.onRetry?.(e as Error, attempt + 1, delay);
      await wait(delay, options.stop);
      if (options.stop?.aborted) throw e;
    }
  }
}

/** Resolves after `ms`, or as soon as `stop` is raised. */
export function stoppableSleep(ms: number, stop?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal: stop }).catch(() => undefined);
}

/**
 * Retry-After is either seconds or an HTTP date. A date names its month, and only a value with letters
 * goes to Date.parse, which would otherwise read '1.5' or '-5' as dates in 2001 and so as "now".
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
