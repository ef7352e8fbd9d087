import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../test/sim';

/**
 * The release beside the npm install, in one run (packaging/measure.sh sets both up): the wall time
 * of `--version` and of a full pass over 1,000 tenants, each the median of several runs that alternate
 * which side goes first, so a noisy neighbour on the machine hurts both alike. Prints a Markdown table.
 *
 * Usage: node measure.js RELEASE_CLI NPM_CLI TARBALL [VERSION_RUNS] [PASS_RUNS]
 */
const [releaseCli, npmCli, tarball, versionRuns = '21', passRuns = '5'] = process.argv.slice(2);
if (!releaseCli || !npmCli || !tarball) {
  process.stderr.write('usage: measure.js RELEASE_CLI NPM_CLI TARBALL [VERSION_RUNS] [PASS_RUNS]\n');
  process.exit(2);
}

function timed(cli: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(cli, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: 'ignore' });
  return new Promise((resolve, reject) =>
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`${cli} ${args.join(' ')}: exit ${code}`)),
    ),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function sideBySide(runs: number, once: (cli: string) => Promise<number>): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const side of order) times[side]!.push(await once(side === 0 ? releaseCli! : npmCli!));
  }
  return [median(times[0]), median(times[1])];
}

async function main(): Promise<void> {
  const sim = await startSimulator({ instances: 2, tenantsPerInstance: 500 });
  const scratch = mkdtempSync(join(tmpdir(), 'obs-measure-'));
  try {
    let n = 0;
    const pass = async (cli: string): Promise<number> => {
      const dir = join(scratch, String(n++));
      const elapsed = await timed(cli, ['sync'], {
        ...sim.env(),
        STATE_DIR: join(dir, 'state'),
        LOG_DIR: join(dir, 'log'),
        SYNC_MIN_INTERVAL: '0',
      });
      rmSync(dir, { recursive: true, force: true });
      return elapsed;
    };
    const version = await sideBySide(Number(versionRuns), (cli) => timed(cli, ['--version'], {}));
    const passes = await sideBySide(Number(passRuns), pass);
    // The npm install's #! line takes node from PATH, which is the node running this.
    const releaseNode = execFileSync(join(dirname(releaseCli!), '../node/bin/node'), ['--version'], {
      encoding: 'utf8',
    }).trim();
    const row = (what: string, [release, npm]: [number, number]) =>
      `| ${what} | ${release.toFixed(0)} ms | ${npm.toFixed(0)} ms | ${(release / npm).toFixed(2)} |`;
    process.stdout.write(
      [
        `Release tarball: ${(statSync(tarball).size / 1e6).toFixed(1)} MB (${statSync(tarball).size} bytes)`,
        '',
        `| median wall time | release (Node.js ${releaseNode}) | npm install (Node.js ${process.version}) | release / npm |`,
        '|---|---|---|---|',
        row(`\`--version\` (${versionRuns} runs each)`, version),
        row(`\`sync\`, 1,000 tenants (${passRuns} runs each)`, passes),
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await sim.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`measure: ${(e as Error).message}\n`);
  process.exit(1);
});
