import { applyFaults, parseSimFlags, SIM_USAGE } from './flags';
import { type SimStats, startSimulator } from './index';

/**
 * Runs the simulator on its own until SIGTERM/SIGINT, for the benchmark (`npm run sim` is the one to try by hand):
 *   node dist/test/sim/main.js --instances 3 --tenants 400 --latency 5 [--https] [--page-cap 50] [--failing 3]
 * Prints one JSON line {oaPort, apsUrl, appId, caFile, env} once listening, and one {stats} line on exit.
 */
async function main(): Promise<void> {
  const flags = parseSimFlags(process.argv.slice(2), `main.js ${SIM_USAGE}`);
  const sim = await startSimulator(flags.options);
  applyFaults(sim, flags);
  process.stdout.write(
    `${JSON.stringify({ oaPort: sim.oaPort, apsUrl: sim.apsUrl, appId: sim.appId, caFile: sim.caFile, env: sim.env() })}\n`,
  );
  const stop = () => {
    process.stdout.write(`${JSON.stringify({ stats: summary(sim.stats) })}\n`);
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** The stats as plain JSON (maps summed up, long lists counted). */
function summary(s: SimStats): Record<string, number> {
  const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    requests: s.requests,
    listRequests: s.listRequests,
    oaCalls: s.oaCalls.length,
    tokensIssued: s.tokensIssued,
    resyncCalls: sum(s.resyncCalls),
    syncStatusReads: sum(s.syncStatusReads),
    resyncSucceeded: sum(s.resyncSucceeded),
    tenantsResynced: s.resyncSucceeded.size,
    staleTokenRefusals: s.staleTokenRefusals,
    maxTokenAgeUsedMs: Math.round(s.maxTokenAgeUsedMs),
    peakInFlight: s.peakInFlight,
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
