/**
 * V8 settings that keep a long pass's memory flat (test/bench/RESULTS.md has the figures). They are
 * given when Node starts, on bin/o365-backsync's `#!` line and in the command `setup` prints, because
 * Node documents flags set after start-up as undefined behaviour. test/unit/node-flags.test.ts holds the
 * `#!` line to this list.
 * - liftoff-only: undici's HTTP parser is WebAssembly; optimising it costs a burst of memory and CPU
 *   early in every pass, for no gain on replies this small.
 * - semi-space-growth-factor=1: the young generation stays near the size it reached while the modules
 *   loaded instead of growing fourfold.
 * - heap-growing-percent=50: the old generation is collected at 1.5x what survived the last full GC
 *   rather than up to 4x; a pass holds little, so those collections are short.
 */
export const NODE_FLAGS: readonly string[] = [
  '--liftoff-only',
  '--semi-space-growth-factor=1',
  '--heap-growing-percent=50',
];
