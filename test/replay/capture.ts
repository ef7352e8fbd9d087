import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runCli, workdir } from '../e2e/harness';
import { startSimulator } from '../sim';

/**
 * Captures test/fixtures/traces/simulator-sync.har (and its .expect.json) from the simulator:
 * `npm run build && node dist/test/replay/capture.js test/fixtures/traces/simulator-sync`.
 * Two instances of three tenants on pages of two, basic auth on OA, one tenant Office 365 refuses.
 */
async function main(base: string): Promise<void> {
  const har = `${resolve(base)}.har`;
  const sim = await startSimulator({
    instances: 2,
    tenantsPerInstance: 3,
    pageCap: 2,
    oaAuth: { user: 'admin', password: 'fixture-secret' },
  });
  try {
    sim.setFault(sim.instances[1]!.tenants[1]!.id, 'fail500');
    const w = workdir();
    const result = await runCli(
      ['sync', '--force', '--json', '--trace', har],
      { ...sim.env(), ...w.env, APS_PAGE_SIZE: '2' },
      w.cwd,
    );
    const { tenants, synced, failed, skipped } = JSON.parse(result.stdout) as Record<string, number>;
    const expectation = { exitCode: result.code, summary: { tenants, synced, failed, skipped } };
    writeFileSync(`${base}.expect.json`, `${JSON.stringify(expectation, null, 2)}\n`);
    process.stdout.write(`${har}: exit ${result.code}, ${sim.stats.oaRequests + sim.stats.requests} requests\n`);
  } finally {
    await sim.close();
  }
}

void main(process.argv[2] ?? 'simulator-sync');
