import { parseArgs } from 'node:util';
import type { SimOptions, Simulator, TenantFault } from './types';

/**
 * The simulator's command-line flags, for `npm run sim` (try-it.ts) and the benchmark's simulator
 * process (main.ts): the shape of the installation, its latency, and the faults to play.
 */
export interface SimFlags {
  options: SimOptions;
  /** Tenants whose resync the controller refuses with a 500, spread over the instances. */
  failing: number;
  /** Tenants removed after they were listed: their resync answers 404. */
  removed: number;
}

export const SIM_USAGE =
  '[--instances N] [--tenants N] [--latency MS] [--oa-latency MS] [--page-cap N] [--provisioning-every N] ' +
  '[--transient-503-rate R] [--failing N] [--removed N] [--token-lifetime S] [--https] [--oa-https]';

/** Parses the flags; bad input ends the process with exit 2 and the usage, like any CLI. */
export function parseSimFlags(args: string[], usage: string): SimFlags {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\nusage: ${usage}\n`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    ({ values } = parseArgs({
      args,
      options: {
        ...Object.fromEntries(
          [
            'instances',
            'tenants',
            'latency',
            'oa-latency',
            'page-cap',
            'provisioning-every',
            'transient-503-rate',
            'failing',
            'removed',
            'token-lifetime',
          ].map((n) => [n, { type: 'string' as const }]),
        ),
        https: { type: 'boolean' },
        'oa-https': { type: 'boolean' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const number = (name: string): number | undefined => {
    const value = values[name] as string | undefined;
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0)
      fail(`--${name} must be a number of 0 or more, got '${value}'`);
    return n;
  };
  const tokenLifetime = number('token-lifetime');
  return {
    options: {
      instances: number('instances'),
      tenantsPerInstance: number('tenants'),
      latencyMs: number('latency'),
      oaLatencyMs: number('oa-latency'),
      pageCap: number('page-cap'),
      provisioningEvery: number('provisioning-every'),
      transient503Rate: number('transient-503-rate'),
      tokenLifetimeMs: tokenLifetime === undefined ? undefined : tokenLifetime * 1000,
      https: values.https as boolean | undefined,
      oaHttps: values['oa-https'] as boolean | undefined,
    },
    failing: number('failing') ?? 0,
    removed: number('removed') ?? 0,
  };
}

/** Gives `failing` and then `removed` ready tenants their fault, spread evenly over all ready tenants. */
export function applyFaults(sim: Simulator, flags: Pick<SimFlags, 'failing' | 'removed'>): void {
  const ready = sim.readyTenants();
  const faults = [
    ...Array<TenantFault>(flags.failing).fill('fail500'),
    ...Array<TenantFault>(flags.removed).fill('notFound'),
  ].slice(0, ready.length);
  faults.forEach((fault, i) => sim.setFault(ready[Math.floor((i * ready.length) / faults.length)]!.id, fault));
}
