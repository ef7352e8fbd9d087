import { RunClock } from '../src/runtime/run-clock';

/**
 * A run's clocks in the test's hands, starting at `iso` by the wall clock: `workUntil` lets time pass
 * on both clocks; `step` moves the wall clock alone, as an operator or NTP does.
 */
export function manualClock(
  iso = '2026-11-27T06:00:00Z',
): RunClock & { workUntil(iso: string): void; step(ms: number): void } {
  const t = { wall: Date.parse(iso), mono: 1_000 };
  return Object.assign(
    new RunClock(
      () => t.wall,
      () => t.mono,
    ),
    {
      workUntil(until: string): void {
        const ms = Date.parse(until) - t.wall;
        t.wall += ms;
        t.mono += ms;
      },
      step(ms: number): void {
        t.wall += ms;
      },
    },
  );
}
