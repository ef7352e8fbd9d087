import { parseArgs } from 'node:util';
import { type SimStats, startSimulator } from './index';

/**
 * Runs the simulator on its own until SIGTERM/SIGINT, for the benchmark and for trying the CLI by hand:
 *   node dist/test/sim/main.js --instances 3 --tenants 400 --latency 5 [--https] [--page-cap 50]
 * Prints one JSON line {oaPort, apsUrl, appId, caFile, env} once listening, and one {stats} line on exit.
 */
const USAGE =
  'usage: main.js [--instances N] [--tenants N] [--latency MS] [--oa-latency MS] [--page-cap N] ' +
  '[--provisioning-every N] [--transient-503-rate R] [--https] [--oa-https]';

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${name} must be a number of 0 or more, got '${value}'\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        instances: { type: 'string' },
        tenants: { type: 'string' },
        latency: { type: 'string' },
        'oa-latency': { type: 'string' },
        'page-cap': { type: 'string' },
        'provisioning-every': { type: 'string' },
        'transient-503-rate': { type: 'string' },
        https: { type: 'boolean' },
        'oa-https': { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const sim = await startSimulator({
    instances: number('instances', values.instances),
    tenantsPerInstance: number('tenants', values.tenants),
    latencyMs: number('latency', values.latency),
    oaLatencyMs: number('oa-latency', values['oa-latency']),
    pageCap: number('page-cap', values['page-cap']),
    provisioningEvery: number('provisioning-every', values['provisioning-every']),
    transient503Rate: number('transient-503-rate', values['transient-503-rate']),
    https: values.https,
    oaHttps: values['oa-https'],
  });
  process.stdout.write(`${JSON.stringify({ oaPort: sim.oaPort, apsUrl: sim.apsUrl, appId: sim.appId, caFile: sim.caFile, env: sim.env() })}\n`);
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
