import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyFaults, parseSimFlags, SIM_USAGE } from './flags';
import { startSimulator } from './index';

/**
 * `npm run sim`: the simulator in the foreground, for trying the real CLI by hand. It writes an env
 * file that points the CLI at it (with its own LOG_DIR and STATE_DIR beside it), prints the commands
 * to try, and on Ctrl-C (or SIGTERM) stops and removes that folder.
 */
const CLI = resolve(__dirname, '../../../bin/o365-backsync');

async function main(): Promise<void> {
  const flags = parseSimFlags(process.argv.slice(2), `npm run sim -- ${SIM_USAGE}`);
  // Enough tenants, and slow enough replies, that a pass takes a few seconds and its progress shows.
  const sim = await startSimulator({
    instances: 3,
    tenantsPerInstance: 200,
    latencyMs: 25,
    pageCap: 100,
    provisioningEvery: 20,
    ...defined(flags.options),
  });
  applyFaults(sim, flags);
  const folder = mkdtempSync(join(tmpdir(), 'o365-backsync-sim-'));
  const envFile = join(folder, 'sim.env');
  const env = { ...sim.env(), LOG_DIR: join(folder, 'log'), STATE_DIR: join(folder, 'state') };
  writeFileSync(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );

  const ready = sim.readyTenants().length;
  const total = sim.instances.reduce((n, i) => n + i.tenants.length, 0);
  const faults = [
    flags.failing && `${flags.failing} refuse their resync`,
    flags.removed && `${flags.removed} answer 404`,
  ].filter(Boolean);
  const cli = (args: string) => `${CLI} ${args} --env-file ${envFile}`;
  process.stdout.write(
    `simulator: OA Public API at ${sim.oaUrl}, APS controller at ${sim.apsUrl}\n` +
      `           ${sim.instances.length} instances, ${ready} ready tenants (${total - ready} still provisioning)${faults.length ? `; ${faults.join(', ')}` : ''}\n` +
      `env file:  ${envFile} (its LOG_DIR and STATE_DIR are beside it)\n\n` +
      'Try, in another terminal:\n' +
      `  ${cli('check')}\n` +
      `  ${cli('sync')}\n` +
      `  ${cli('status')}\n\n` +
      `Ctrl-C stops the simulator and removes ${folder}.\n`,
  );
  const stop = (): void => {
    void sim.close().then(() => {
      rmSync(folder, { recursive: true, force: true });
      process.stdout.write(`simulator stopped after ${sim.stats.requests} controller requests; ${folder} removed\n`);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** The options given on the command line, so that they override the defaults above and no others do. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
