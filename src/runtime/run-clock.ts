import { performance } from 'node:perf_hooks';

/**
 * A run's two clocks. The wall clock only stamps what people read (startedAt, finishedAt); how long
 * the run has worked is measured on the monotonic clock, which an operator or NTP stepping the wall
 * clock does not move, so no duration is ever negative or an hour too long.
 */
export class RunClock {
  /** When the run started, by the wall clock. */
  readonly startedAt: Date;
  private readonly startedMono: number;

  constructor(
    private readonly wallNow: () => number = Date.now,
    private readonly monoNow: () => number = () => performance.now(),
  ) {
    this.startedAt = new Date(wallNow());
    this.startedMono = monoNow();
  }

  /** Milliseconds the run has worked so far, whole and never negative. */
  elapsedMs(): number {
    return Math.max(0, Math.round(this.monoNow() - this.startedMono));
  }

  /** The wall clock now, for stamps. */
  now(): number {
    return this.wallNow();
  }
}
