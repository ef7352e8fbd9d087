import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings that keep a long pass's memory flat: peak RSS 88-89 MB over a 100,000-tenant pass at
 * concurrency 16, against 120-125 MB without them (test/bench/). They are set when a pass starts, not
 * on the `#!` line: any V8 flag on the command line made every start about 20 ms slower (Node's
 * built-in code cache is keyed to the flags), pass or not, and cron starts us every minute. V8 reads
 * these three as it goes, so setting them this late works.
 * - liftoff-only: undici's HTTP parser is WebAssembly; optimising it took a burst of about 30 MB and
 *   0.2 s of CPU early in every pass, for no gain on replies this small.
 * - semi-space-growth-factor=1: the young generation grows little past the size it reached while the
 *   modules loaded (8 MB in the benchmark) instead of growing to 32 MB.
 * - heap-growing-percent=50: the old generation is collected at 1.5x what survived the last full GC
 *   rather than up to 4x; a pass holds little, so those collections are short.
 */
export function settleHeapForPass(): void {
  setFlagsFromString('--liftoff-only');
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=50');
}
