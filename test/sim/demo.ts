import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSimulator } from './index';

/**
 * `npm run demo`: a real back-sync pass by the real CLI against the simulator: three instances,
 * about a thousand ready tenants, short pages, a little latency, a few tenants still provisioning.
 * Then the simulator's own view: did every ready tenant get exactly one resync?
 */
const CLI = resolve(__dirname, '../../../bin/o365-backsync');

async function main(): Promise<number> {
  const sim = await startSimulator({
    instances: 3,
    tenantsPerInstance: [420, 350, 290],
    provisioningEvery: 20,
    pageCap: 100,
    latencyMs: 5,
  });
  const work = mkdtempSync(join(tmpdir(), 'o365-backsync-demo-'));
  const env = {
    ...process.env,
    ...sim.env(),
    LOG_DIR: join(work, 'log'),
    STATE_DIR: join(work, 'state'),
    SYNC_CONCURRENCY: '8',
  };
  const ready = sim.readyTenants();
  process.stdout.write(
    `simulator: OA Public API at ${sim.oaUrl}, APS controller at ${sim.apsUrl}\n` +
      `           ${sim.instances.length} instances, ${ready.length} ready tenants (${sim.instances.reduce((n, i) => n + i.tenants.length, 0) - ready.length} still provisioning)\n\n` +
      `$ o365-backsync sync --json\n`,
  );
  const child = spawn(CLI, ['sync', '--json'], { env, cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
  await sim.close();
  process.stdout.write(out);

  const once = ready.filter((t) => sim.stats.resyncSucceeded.get(t.id) === 1).length;
  const extra = [...sim.stats.resyncCalls.entries()].filter(
    ([id, n]) => n !== 1 || !ready.some((t) => t.id === id),
  ).length;
  const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  process.stdout.write(
    `\nexit code ${code}: ${summary.synced} synced, ${summary.failed} failed, ${summary.skipped} skipped in ${summary.durationMs} ms, ${summary.tokenRefreshes} token renewals\n` +
      `simulator saw: ${once} of ${ready.length} ready tenants resynced exactly once, ${extra} unexpected resyncs, ` +
      `${sim.stats.tokensIssued} tokens issued, ${sim.stats.staleTokenRefusals} calls with a stale token, peak ${sim.stats.peakInFlight} requests in flight\n` +
      `log: ${join(work, 'log', 'o365-backsync.log')} (${readFileSync(join(work, 'log', 'o365-backsync.log'), 'utf8').split('\n').length - 1} lines)\n`,
  );
  return code === 0 && once === ready.length && extra === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
