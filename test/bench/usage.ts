import { writeFileSync } from 'node:fs';

/**
 * Preloaded into the CLI by the benchmark only (NODE_OPTIONS=--require): on exit, writes the process's
 * peak resident set size (bytes) and CPU time (ms) to BENCH_USAGE_FILE as JSON. `maxRSS` is the
 * kernel's own high-water mark, so nothing has to be sampled while the pass runs.
 */
const file = process.env.BENCH_USAGE_FILE;
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(usage())));

export function usage(): { maxRss: number; cpuMs: number } {
  const u = process.resourceUsage();
  return { maxRss: u.maxRSS * 1024, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 };
}
