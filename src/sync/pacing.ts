/**
 * When the next full pass is due. The vendor's guidance for this job: measure a full pass and start
 * the next one about 1.5 x its duration after the last one started. `auto` does exactly that from the
 * last finished pass; a number of seconds fixes the interval; 0 makes every run due.
 */
export const AUTO_INTERVAL_FACTOR = 1.5;

export interface FinishedPass {
  startedAt: string;
  durationMs: number;
}

export function intervalMs(last: FinishedPass, minInterval: 'auto' | number): number {
  return minInterval === 'auto' ? Math.round(last.durationMs * AUTO_INTERVAL_FACTOR) : minInterval * 1000;
}

/** The time the next pass may start, or undefined when there is no finished pass to pace from. */
export function nextDueAt(last: FinishedPass | undefined, minInterval: 'auto' | number): number | undefined {
  if (!last) return undefined;
  return Date.parse(last.startedAt) + intervalMs(last, minInterval);
}
