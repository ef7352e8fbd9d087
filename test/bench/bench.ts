import { spawn, spawnSync } from 'node:child_process';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireRunLock } from '../../src/runtime/run-lock';

/**
 * `npm run bench`: the real CLI against the simulator, side by side with a bare loop, at several
 * concurrencies, plus the cost of the runs cron starts every minute. Writes its table to
 * test/bench/RESULTS.md (one section per tenant count and latency, replaced on each run).
 *
 *   npm run bench                                  3,000 tenants over 3 instances, 10 ms, concurrency 1, 4, 16,
 *                                                  3 rounds; then 30 instances x 100 tenants and the CPU per
 *                                                  tenant at no latency, both at concurrency 16
 *   npm run bench -- --tenants 100000 --instances 1  the memory check (concurrency 16, 1 round)
 *   npm run bench -- --tenants 600 --rounds 1      a quick look
 *
 * The simulator runs in its own process, and so do the CLI and the bare loop, one at a time. Rounds
 * interleave every configuration and alternate which of the CLI and the bare loop goes first, so a
 * noisy neighbour hurts both sides alike; each figure is the median over the rounds.
 */
const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'bin/o365-backsync');
const SIM = join(ROOT, 'dist/test/sim/main.js');
const BARE = join(__dirname, 'bare-loop.js');
const FLOOR = join(__dirname, 'floor.js');
/** Requests of the floor's run at concurrency 1: enough for a steady time per request, few enough to be quick. */
const FLOOR_SEQUENTIAL = 500;
const USAGE_PRELOAD = join(__dirname, 'usage.js');
const RESULTS = join(ROOT, 'test/bench/RESULTS.md');
/** Every run's folders go under this one, removed at the end: a 100,000-tenant log is not worth keeping. */
const SCRATCH = mkdtempSync(join(os.tmpdir(), 'obs-bench-'));
/** Above this many tenants the sequential shape would take too long to be worth waiting for. */
const LARGE = 20_000;
/**
 * The no-latency run that measures CPU per tenant: enough tenants that start-up is a small share of
 * each process's CPU (the CLI's start-up, about 350 ms of CPU, is 7 µs per tenant here), few enough for 3 rounds.
 */
const CPU_TENANTS = 50_000;
/** The instance-boundary case of issue 13: many small instances, each one page. */
const BOUNDARY: Omit<Shape, 'latencyMs'> = { instances: 30, tenants: 3000 };
/** The concurrency of the instance-boundary and CPU cases. */
const CASE_CONCURRENCY = 16;

const USAGE =
  'usage: bench.js [--tenants N] [--instances N] [--latency MS] [--concurrency 1,4,16] [--rounds N] [--startup-runs N] [--cpu-tenants N] [--no-write]';

/** The installation the simulator plays: `tenants` in all, spread evenly over `instances`. */
interface Shape {
  tenants: number;
  instances: number;
  latencyMs: number;
}

interface Settings extends Shape {
  /** Tenants of the no-latency run that measures CPU per tenant; 0 leaves it out. */
  cpuTenants: number;
  concurrencies: number[];
  rounds: number;
  startupRuns: number;
  write: boolean;
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      tenants: { type: 'string', default: '3000' },
      instances: { type: 'string' },
      latency: { type: 'string', default: '10' },
      'cpu-tenants': { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      'startup-runs': { type: 'string', default: '21' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const whole = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error(`--${name} must be a positive whole number, got '${v}'\n${USAGE}`);
    return n;
  };
  const tenants = whole('tenants', values.tenants!);
  const large = tenants > LARGE;
  const instances = whole('instances', values.instances ?? (large ? '1' : '3'));
  if (tenants % instances)
    throw new Error(`--tenants must spread evenly over --instances, got ${tenants} over ${instances}\n${USAGE}`);
  const latencyMs = Number(values.latency);
  if (!Number.isSafeInteger(latencyMs) || latencyMs < 0)
    throw new Error(`--latency must be a whole number of ms, 0 or more, got '${values.latency}'\n${USAGE}`);
  // A large run leaves the no-latency case out unless asked: it would take as long as the run itself.
  const cpuTenants = values['cpu-tenants'] ?? (large ? '0' : String(CPU_TENANTS));
  return {
    tenants,
    instances,
    latencyMs,
    cpuTenants: cpuTenants === '0' ? 0 : whole('cpu-tenants', cpuTenants),
    concurrencies: (values.concurrency ?? (large ? '16' : '1,4,16')).split(',').map((c) => whole('concurrency', c)),
    rounds: whole('rounds', values.rounds ?? (large ? '1' : '3')),
    startupRuns: values['startup-runs'] === '0' ? 0 : whole('startup-runs', values['startup-runs']!),
    write: !values['no-write'],
  };
}

interface Sim {
  env: Record<string, string>;
  oaUrl: string;
  appId: number;
  stop(): Promise<Record<string, number>>;
}

/** The simulator in its own process, so that serving requests does not slow down the measuring. */
async function startSim(s: Shape): Promise<Sim> {
  const perInstance = String(s.tenants / s.instances);
  // Every call takes the latency, OA's too (issue 13's stand-in: "10 ms per call"): a token or a first
  // page that OA or the controller answers at once would hide a pass's waits at instance boundaries.
  const latency = String(s.latencyMs);
  const child = spawn(
    process.execPath,
    [SIM, '--instances', String(s.instances), '--tenants', perInstance, '--latency', latency, '--oa-latency', latency],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  let waiting: (() => void) | undefined;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    waiting?.();
  });
  const nextLine = async (): Promise<string> => {
    while (!lines.length) {
      if (child.exitCode !== null) throw new Error('the simulator exited');
      await new Promise<void>((r) => (waiting = r));
    }
    return lines.shift()!;
  };
  const ready = JSON.parse(await nextLine()) as { oaPort: number; appId: number; env: Record<string, string> };
  return {
    env: ready.env,
    oaUrl: `http://127.0.0.1:${ready.oaPort}/RPC2`,
    appId: ready.appId,
    stop: async () => {
      child.kill('SIGTERM');
      return (JSON.parse(await nextLine()) as { stats: Record<string, number> }).stats;
    },
  };
}

interface Run {
  wallMs: number;
  passMs: number;
  resynced: number;
  maxRss: number;
  cpuMs: number;
  tokenRefreshes?: number;
  stateDir?: string;
}

function spawnTimed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ wallMs: number; code: number | null; stdout: string; stderr: string }> {
  const started = performance.now();
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) =>
    child.on('close', (code) => done({ wallMs: performance.now() - started, code, stdout, stderr })),
  );
}

function baseEnv(sim: Sim, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...sim.env, ...extra };
}

/**
 * One full pass by the real CLI, as an operator would force it, in fresh folders. The sync status read
 * is off unless asked for: the bare loop does not read it, and the comparison is of like with like.
 */
async function runCli(sim: Sim, concurrency: number, tenants: number, statusRead = false): Promise<Run> {
  const work = mkdtempSync(join(SCRATCH, 'cli-'));
  const usageFile = join(work, 'usage.json');
  const stateDir = join(work, 'state');
  const env = baseEnv(sim, {
    LOG_DIR: join(work, 'log'),
    STATE_DIR: stateDir,
    NODE_OPTIONS: `--require ${USAGE_PRELOAD}`,
    BENCH_USAGE_FILE: usageFile,
    ...(statusRead ? {} : { APS_SYNC_STATUS_OPERATION: '' }),
  });
  const r = await spawnTimed(CLI, ['sync', '--force', '--json', '--concurrency', String(concurrency)], env, work);
  if (r.code !== 0) throw new Error(`the CLI exited ${r.code} at concurrency ${concurrency}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout) as { durationMs: number; synced: number; tokenRefreshes: number };
  if (summary.synced !== tenants)
    throw new Error(`the CLI synced ${summary.synced} of ${tenants} tenants at concurrency ${concurrency}`);
  const { maxRss, cpuMs } = JSON.parse(readFileSync(usageFile, 'utf8')) as { maxRss: number; cpuMs: number };
  return {
    wallMs: r.wallMs,
    passMs: summary.durationMs,
    resynced: summary.synced,
    maxRss,
    cpuMs,
    tokenRefreshes: summary.tokenRefreshes,
    stateDir,
  };
}

async function runBare(sim: Sim, concurrency: number, tenants: number): Promise<Run> {
  const options = {
    oaUrl: sim.oaUrl,
    appId: sim.appId,
    concurrency,
    pageSize: 500,
    tenantType: 'http://www.parallels.com/Office365/Tenant/2.0',
    operation: 'synchronize_async?fullSync=true',
  };
  const r = await spawnTimed(process.execPath, [...NODE_FLAGS, BARE, JSON.stringify(options)], baseEnv(sim), SCRATCH);
  if (r.code !== 0) throw new Error(`the bare loop exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    resynced: number;
    errors: number;
    durationMs: number;
    maxRss: number;
    cpuMs: number;
  };
  if (out.resynced !== tenants)
    throw new Error(`the bare loop resynced ${out.resynced} of ${tenants} tenants (${out.errors} errors)`);
  return { wallMs: r.wallMs, passMs: out.durationMs, resynced: out.resynced, maxRss: out.maxRss, cpuMs: out.cpuMs };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Startup {
  name: string;
  medianMs: number;
  minMs: number;
}

/**
 * What the runs cron starts every minute cost, over a bare `node -e 0`: the commands are timed in
 * interleaved rounds (spawn to exit) and each figure is the median (and the least) of the differences.
 * "Another run is active" finds the lock held by this process; "not due yet" finds a copy of the
 * state a real pass left, with that pass's start moved to now so that it is surely not due. Each run
 * is checked to have taken the path it is meant to measure.
 */
function measureStartup(sim: Sim, lastPassStateDir: string, runs: number, lockedStateDir: string): Startup[] {
  const work = mkdtempSync(join(SCRATCH, 'startup-'));
  const notDueState = join(work, 'state');
  mkdirSync(notDueState);
  const last = JSON.parse(readFileSync(join(lastPassStateDir, 'last-pass.json'), 'utf8')) as { startedAt: string };
  writeFileSync(join(notDueState, 'last-pass.json'), JSON.stringify({ ...last, startedAt: new Date().toISOString() }));
  const logOf = (dir: string) => join(dir, 'o365-backsync.log');
  const lastMessage = (dir: string): string =>
    String((JSON.parse(readFileSync(logOf(dir), 'utf8').trim().split('\n').at(-1)!) as { msg: unknown }).msg);
  const notDueLog = join(work, 'log-not-due');
  const lockedLog = join(work, 'log-locked');
  const commands: { name: string; command: string; args: string[]; env: NodeJS.ProcessEnv; check?: () => boolean }[] = [
    { name: 'bare `node -e 0`', command: process.execPath, args: ['-e', '0'], env: { PATH: process.env.PATH } },
    { name: '`--version`', command: CLI, args: ['--version'], env: { PATH: process.env.PATH } },
    { name: '`--help`', command: CLI, args: ['--help'], env: { PATH: process.env.PATH } },
    {
      name: 'another run is active',
      command: CLI,
      args: ['sync'],
      env: baseEnv(sim, { STATE_DIR: lockedStateDir, LOG_DIR: lockedLog }),
      check: () => lastMessage(lockedLog).startsWith('another run is active'),
    },
    {
      name: 'not due yet',
      command: CLI,
      args: ['sync'],
      env: baseEnv(sim, { STATE_DIR: notDueState, LOG_DIR: notDueLog, SYNC_MIN_INTERVAL: 'auto' }),
      check: () => lastMessage(notDueLog).startsWith('not due yet'),
    },
  ];
  const times = commands.map(() => [] as number[]);
  for (let round = 0; round < runs; round++) {
    commands.forEach((c, i) => {
      const started = performance.now();
      const r = spawnSync(c.command, c.args, { env: c.env, cwd: work, stdio: 'ignore' });
      times[i]!.push(performance.now() - started);
      if (r.status !== 0 || (c.check && !c.check()))
        throw new Error(`start-up run '${c.name}' did not take its path (exit ${r.status})`);
    });
  }
  const bare = times[0]!;
  return commands.slice(1).map((c, i) => {
    const over = times[i + 1]!.map((t, k) => t - bare[k]!);
    return { name: c.name, medianMs: median(over), minMs: Math.min(...over) };
  });
}

interface StatusCost {
  statusRead: boolean;
  passMs: number;
  sim: Record<string, number>;
}

/**
 * What reading each tenant's sync status before its resync costs: one pass with the read and one
 * without, each against a simulator of its own so that its counts are that pass's alone.
 */
async function measureStatusCost(s: Settings, concurrency: number): Promise<StatusCost[]> {
  const costs: StatusCost[] = [];
  for (const statusRead of [false, true]) {
    const sim = await startSim(s);
    const run = await runCli(sim, concurrency, s.tenants, statusRead).catch(async (e: unknown) => {
      await sim.stop();
      throw e;
    });
    costs.push({ statusRead, passMs: run.passMs, sim: await sim.stop() });
  }
  return costs;
}

function statusCostTable(s: Settings, concurrency: number, costs: StatusCost[]): string {
  const per = (n: number | undefined) => ((n ?? 0) / s.tenants).toFixed(2);
  return [
    `Calls per tenant with the sync status read (APS_SYNC_STATUS_OPERATION) on and off, concurrency ${concurrency}, one pass each:`,
    '',
    '| status read | pass time | APS requests per tenant | status reads per tenant | resyncs per tenant | listing pages | OA calls |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...costs.map(
      (c) =>
        `| ${c.statusRead ? 'on' : 'off'} | ${Math.round(c.passMs)} ms | ${per(c.sim.requests)} | ${per(c.sim.syncStatusReads)} | ${per(c.sim.resyncCalls)} | ${c.sim.listRequests} | ${c.sim.oaCalls} |`,
    ),
  ].join('\n');
}

interface Row {
  concurrency: number;
  cli: Run[];
  bare: Run[];
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const ratio = (x: number): string => `${x.toFixed(2)}×`;
const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;

/** A case of its own beside the main table: one shape, the CLI and the bare loop at one concurrency. */
interface Case {
  name: string;
  shape: Shape;
  row: Row;
}

/**
 * `rounds` rounds of every row against one simulator. Rounds interleave the rows and alternate which
 * of the CLI and the bare loop goes first, so neither always runs on a warmer machine.
 */
async function sideBySide(sim: Sim, rows: Row[], tenants: number, rounds: number, label: string): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...rows].reverse() : rows;
    for (const row of order) {
      const pair = [
        () => runCli(sim, row.concurrency, tenants).then((r) => row.cli.push(r)),
        () => runBare(sim, row.concurrency, tenants).then((r) => row.bare.push(r)),
      ];
      for (const step of round % 2 ? pair.reverse() : pair) await step();
      process.stderr.write(
        `${label}round ${round + 1}/${rounds}, concurrency ${row.concurrency}: CLI ${Math.round(row.cli.at(-1)!.passMs)} ms (wall ${Math.round(row.cli.at(-1)!.wallMs)}, ` +
          `CPU ${Math.round(row.cli.at(-1)!.cpuMs)}), bare ${Math.round(row.bare.at(-1)!.passMs)} ms (wall ${Math.round(row.bare.at(-1)!.wallMs)}, CPU ${Math.round(row.bare.at(-1)!.cpuMs)}), ` +
          `CLI peak RSS ${mb(row.cli.at(-1)!.maxRss)}\n`,
      );
    }
  }
}

/** The case against a simulator of its own. */
/**
 * This host's floor (floor.ts): the speed-up at `concurrency` over concurrency 1 of a client and a server
 * that do nothing else, for as many requests as the pass has tenants, medians over the rounds.
 */
async function measureFloor(s: Settings, concurrency: number): Promise<number> {
  const server = spawn(process.execPath, [FLOOR, 'serve', String(s.latencyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (d: string) => (out += d).includes('\n') && resolve(out.trim()));
      server.once('exit', () => reject(new Error('the floor server exited')));
    });
    const call = async (c: number, requests: number): Promise<number> => {
      const r = await spawnTimed(
        process.execPath,
        [FLOOR, 'call', port, String(c), String(requests)],
        { PATH: process.env.PATH },
        SCRATCH,
      );
      if (r.code !== 0) throw new Error(`the floor's client exited ${r.code}: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { passMs: number }).passMs;
    };
    const sequential: number[] = [];
    const parallel: number[] = [];
    for (let round = 0; round < s.rounds; round++) {
      sequential.push(((await call(1, FLOOR_SEQUENTIAL)) / FLOOR_SEQUENTIAL) * s.tenants);
      parallel.push(await call(concurrency, s.tenants));
    }
    return median(sequential) / median(parallel);
  } finally {
    server.kill('SIGTERM');
  }
}

async function measureCase(name: string, shape: Shape, rounds: number): Promise<Case> {
  const sim = await startSim(shape);
  const row: Row = { concurrency: CASE_CONCURRENCY, cli: [], bare: [] };
  try {
    await sideBySide(sim, [row], shape.tenants, rounds, `${name}: `);
  } finally {
    await sim.stop();
  }
  return { name, shape, row };
}

/** CPU time (user + system) per tenant, median over the rounds, in µs. */
const cpuPerTenant = (runs: Run[], tenants: number): number => (median(runs.map((x) => x.cpuMs)) * 1000) / tenants;

function casesTable(cases: Case[]): string {
  return [
    `Cases of their own, concurrency ${CASE_CONCURRENCY}, each against a simulator of its own:`,
    '',
    '| case | CLI pass time | bare loop pass time | CLI time ÷ bare loop | CLI CPU per tenant | bare loop CPU per tenant | CLI CPU ÷ bare CPU | token renewals |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...cases.map(({ name, shape, row }) => {
      const cli = median(row.cli.map((x) => x.passMs));
      const bare = median(row.bare.map((x) => x.passMs));
      const cliCpu = cpuPerTenant(row.cli, shape.tenants);
      const bareCpu = cpuPerTenant(row.bare, shape.tenants);
      return (
        `| ${name} | ${Math.round(cli)} ms | ${Math.round(bare)} ms | ${ratio(cli / bare)} | ${Math.round(cliCpu)} µs | ${Math.round(bareCpu)} µs | ${ratio(cliCpu / bareCpu)} | ` +
        `${[...new Set(row.cli.map((x) => x.tokenRefreshes))].join(', ')} |`
      );
    }),
  ].join('\n');
}

function table(
  s: Settings,
  rows: Row[],
  startup: Startup[] | undefined,
  simStats: Record<string, number>,
  statusCost: string | undefined,
  cases: Case[],
  floor: number | undefined,
): string {
  const base = rows.find((r) => r.concurrency === 1);
  const lines = [
    '| concurrency | CLI tenants/s | CLI efficiency | bare loop efficiency | CLI time ÷ bare loop | CLI wall ÷ bare wall | CLI CPU ÷ bare CPU | speed-up vs concurrency 1 | CLI peak RSS | token renewals |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const cli = median(r.cli.map((x) => x.passMs));
    const bare = median(r.bare.map((x) => x.passMs));
    const ideal = (s.tenants * s.latencyMs) / r.concurrency;
    const speedup = base ? median(base.cli.map((x) => x.passMs)) / cli : undefined;
    lines.push(
      `| ${r.concurrency} | ${Math.round((s.tenants / cli) * 1000)} | ${pct(ideal / cli)} | ${pct(ideal / bare)} | ${ratio(cli / bare)} | ` +
        `${ratio(median(r.cli.map((x) => x.wallMs)) / median(r.bare.map((x) => x.wallMs)))} | ${ratio(median(r.cli.map((x) => x.cpuMs)) / median(r.bare.map((x) => x.cpuMs)))} | ${speedup === undefined ? 'n/a' : ratio(speedup)} | ` +
        `${mb(Math.max(...r.cli.map((x) => x.maxRss)))} | ${[...new Set(r.cli.map((x) => x.tokenRefreshes))].join(', ')} |`,
    );
  }
  const out = [lines.join('\n')];
  if (startup) {
    out.push(
      [
        '| start-up path | overhead over `node -e 0`, median | least |',
        '|---|---:|---:|',
        ...startup.map((x) => `| ${x.name} | ${Math.round(x.medianMs)} ms | ${Math.round(x.minMs)} ms |`),
      ].join('\n'),
    );
  }
  if (statusCost) out.push(statusCost);
  if (cases.length) out.push(casesTable(cases));
  out.push(criteria(s, rows, startup));
  const perf = performanceCriteria(s, rows, startup, cases, floor);
  if (perf) out.push(perf);
  out.push(
    `Simulator's view over all runs: ${simStats.requests} requests, ${simStats.staleTokenRefusals} refused for a stale token, ` +
      `oldest token used ${Math.round(simStats.maxTokenAgeUsedMs! / 1000)} s, peak ${simStats.peakInFlight} in flight.`,
  );
  return out.join('\n\n');
}

/** Issue 5's done criteria, as far as this run measured them. */
function criteria(s: Settings, rows: Row[], startup: Startup[] | undefined): string {
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const pass = (r: Row | undefined, side: 'cli' | 'bare') => (r ? median(r[side].map((x) => x.passMs)) : undefined);
  const lines: string[] = [];
  const one = rows.find((r) => r.concurrency === 1);
  const sixteen = rows.find((r) => r.concurrency === 16);
  if (one && sixteen) {
    const speedup = pass(one, 'cli')! / pass(sixteen, 'cli')!;
    lines.push(`- concurrency 16 more than 10× faster than concurrency 1: ${ratio(speedup)}, ${verdict(speedup > 10)}`);
  }
  if (sixteen) {
    const slower = pass(sixteen, 'cli')! / pass(sixteen, 'bare')! - 1;
    lines.push(`- concurrency 16 within 15% of the bare loop: ${pct(slower)} slower, ${verdict(slower <= 0.15)}`);
  }
  if (s.tenants >= 100_000) {
    const peak = Math.max(...rows.flatMap((r) => r.cli.map((x) => x.maxRss)));
    lines.push(
      `- peak RSS at ${s.tenants.toLocaleString('en')} tenants under 120 MB: ${mb(peak)}, ${verdict(peak < 120 * 1024 * 1024)}`,
    );
  }
  if (startup) {
    const worst = Math.max(...startup.map((x) => x.medianMs));
    lines.push(
      `- start-up overhead at most 150 ms (the worst median above): ${Math.round(worst)} ms, ${verdict(worst <= 150)}`,
    );
  }
  return `Done criteria of issue 5 measured in this run:\n${lines.join('\n')}`;
}

/** Issue 13's done criteria, as far as this run measured them. */
function performanceCriteria(
  s: Settings,
  rows: Row[],
  startup: Startup[] | undefined,
  cases: Case[],
  floor: number | undefined,
): string | undefined {
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const pass = (r: Row, side: 'cli' | 'bare') => median(r[side].map((x) => x.passMs));
  const lines: string[] = [];
  const one = rows.find((r) => r.concurrency === 1);
  const sixteen = rows.find((r) => r.concurrency === 16);
  const shape = `${s.tenants.toLocaleString('en')} tenants, ${s.instances} instance(s), ${s.latencyMs} ms, concurrency 16`;
  if (one && sixteen) {
    // The original script's shape: one tenant at a time, the token renewed every 100 tenants; here the
    // CLI itself at concurrency 1, so that the comparison is of the same work. The bare loop's own
    // speed-up, and the floor's, say how much of the 15× this host leaves to any client.
    const faster = pass(one, 'cli') / pass(sixteen, 'cli');
    const bareFaster = pass(one, 'bare') / pass(sixteen, 'bare');
    const floorNote =
      floor === undefined ? '' : `; a client and a server that do nothing else, on this host: ${ratio(floor)}`;
    lines.push(
      `- ${shape}: at least 15× the sequential shape (the CLI at concurrency 1): ${ratio(faster)}, ${verdict(faster >= 15)} ` +
        `(the bare loop, against its own run at concurrency 1: ${ratio(bareFaster)}${floorNote})`,
    );
  }
  if (sixteen) {
    const overBare = pass(sixteen, 'cli') / pass(sixteen, 'bare');
    lines.push(`- ${shape}: at most 1.05× the bare loop: ${ratio(overBare)}, ${verdict(overBare <= 1.05)}`);
  }
  for (const c of cases) {
    if (c.shape.latencyMs > 0) {
      const overBare = pass(c.row, 'cli') / pass(c.row, 'bare');
      lines.push(
        `- ${c.name}, ${c.shape.latencyMs} ms, concurrency ${CASE_CONCURRENCY}: at most 1.10× the bare loop: ${ratio(overBare)}, ${verdict(overBare <= 1.1)}`,
      );
    } else {
      const cli = cpuPerTenant(c.row.cli, c.shape.tenants);
      const bare = cpuPerTenant(c.row.bare, c.shape.tenants);
      lines.push(
        `- CPU per tenant at no latency at most 1.5× the bare loop's: ${Math.round(cli)} µs over ${Math.round(bare)} µs, ${ratio(cli / bare)}, ${verdict(cli / bare <= 1.5)}`,
      );
    }
  }
  if (startup) {
    const worst = Math.max(...startup.map((x) => x.medianMs));
    lines.push(
      `- start-up overhead at most 150 ms over bare node on every cron path: ${Math.round(worst)} ms, ${verdict(worst <= 150)}`,
    );
  }
  return lines.length ? `Done criteria of issue 13 measured in this run:\n${lines.join('\n')}` : undefined;
}

function machine(): string {
  const cpus = os.cpus();
  return (
    `${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / 1024 ** 3)} GB memory, ` +
    `Node ${process.version} on ${os.platform()} ${os.release()}, load average ${os.loadavg()[0]!.toFixed(2)} at the start`
  );
}

const HEADER = `# Benchmark results

Produced by \`npm run bench\` (code in test/bench/): the real CLI (\`o365-backsync sync --force --json\`, fresh
LOG_DIR and STATE_DIR each run) against the simulator in its own process, side by side with a bare loop
(undici at the same concurrency, one token, no retries, logging or state: the practical limit on this
simulator). One section per tenant count and latency; a new run replaces its own section.

- **efficiency**: the ideal pass time \`tenants × latency ÷ concurrency\` divided by the measured pass time.
- **CLI time ÷ bare loop**: pass time from the CLI's own summary (\`durationMs\`: lock, state, loading the HTTP
  stack, OA, listing, resyncs, journal) over the bare loop's time from loading its HTTP stack to its last reply.
  The bare loop starts with the V8 settings the CLI starts with (NODE_FLAGS). **wall** compares the
  two processes from spawn to exit, start-up included. **CPU** is each process's user + system time: where both
  sides share two cores with the simulator, CPU per tenant is what limits the pass at high concurrency.
- **peak RSS**: the CLI process's \`maxRSS\` as the kernel counts it, the highest over the rounds.
- The CLI runs with the sync status read off (\`APS_SYNC_STATUS_OPERATION=\`), as the bare loop does not read it;
  a table of its own gives the read's cost in calls per tenant and pass time, one pass with it and one without.
- **cases of their own**: 30 instances × 100 tenants (the pool across instance boundaries) and a pass at no
  latency, whose **CPU per tenant** (user + system ÷ tenants, start-up included) is what limits a pass on a fast
  controller. The sequential shape of issue 13 is the CLI at concurrency 1, renewing every 100 tenants.
- OA answers with the same latency as the controller: every call, a token's too, takes it.
- **the floor** (floor.ts): a server that only waits the latency and a loop that only calls it, each in its own
  process, at concurrency 1 and 16: the most any client's speed-up can be on this host, where server, client
  and kernel share the cores.
- Machines are noisy: read the ratios, not the absolute times.
`;

function writeResults(s: Settings, body: string): void {
  // One instance keeps the key sections written before instances were a setting had.
  const key = `<!-- bench tenants=${s.tenants}${s.instances === 1 ? '' : ` instances=${s.instances}`} latency=${s.latencyMs} -->`;
  const end = '<!-- /bench -->';
  const over = s.instances === 1 ? '' : ` over ${s.instances} instances`;
  const section = `${key}\n## ${s.tenants.toLocaleString('en')} tenants${over}, ${s.latencyMs} ms per request\n\n${body}\n${end}`;
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : `${HEADER}\n`;
  const at = current.indexOf(key);
  const next =
    at < 0
      ? `${current.trimEnd()}\n\n${section}\n`
      : `${current.slice(0, at)}${section}${current.slice(current.indexOf(end, at) + end.length)}`;
  writeFileSync(RESULTS, next);
}

async function main(): Promise<void> {
  const s = settings();
  const machineFacts = machine();
  const sim = await startSim(s);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const rows: Row[] = s.concurrencies.map((concurrency) => ({ concurrency, cli: [], bare: [] }));
  let startup: Startup[] | undefined;
  let simStats: Record<string, number>;
  let statusCost: string | undefined;
  const cases: Case[] = [];
  let floor: number | undefined;
  try {
    await sideBySide(sim, rows, s.tenants, s.rounds, '');
    if (s.concurrencies.includes(1) && s.concurrencies.includes(16) && s.latencyMs > 0) {
      floor = await measureFloor(s, 16);
      say(`floor: a client and a server that do nothing else, concurrency 16 over 1: ${ratio(floor)}`);
    }
    if (s.tenants <= LARGE) {
      cases.push(
        await measureCase(
          `${BOUNDARY.instances} instances × ${BOUNDARY.tenants / BOUNDARY.instances} tenants`,
          { ...BOUNDARY, latencyMs: s.latencyMs },
          s.rounds,
        ),
      );
    }
    if (s.cpuTenants > 0) {
      cases.push(
        await measureCase(
          `${s.cpuTenants.toLocaleString('en')} tenants, no latency`,
          { tenants: s.cpuTenants, instances: 1, latencyMs: 0 },
          s.rounds,
        ),
      );
    }
    if (s.tenants <= LARGE) {
      const concurrency = Math.max(...s.concurrencies);
      statusCost = statusCostTable(s, concurrency, await measureStatusCost(s, concurrency));
    }
    if (s.startupRuns > 0) {
      const locked = mkdtempSync(join(SCRATCH, 'locked-'));
      const lock = await acquireRunLock(locked, new Date());
      if (!lock.acquired) throw new Error('could not take the lock to measure "another run is active"');
      try {
        startup = measureStartup(sim, rows[0]!.cli.at(-1)!.stateDir!, s.startupRuns, locked);
      } finally {
        await lock.release();
      }
    }
  } finally {
    simStats = await sim.stop();
    rmSync(SCRATCH, { recursive: true, force: true });
  }
  const date = new Date().toISOString().slice(0, 10);
  const body =
    `${date}, ${machineFacts}. ${s.rounds} round(s), medians; \`npm run bench -- --tenants ${s.tenants} --instances ${s.instances} --latency ${s.latencyMs} ` +
    `--concurrency ${s.concurrencies.join(',')} --rounds ${s.rounds} --cpu-tenants ${s.cpuTenants}\`.\n\n${table(s, rows, startup, simStats, statusCost, cases, floor)}\n`;
  process.stdout.write(`${body}\n`);
  if (s.write) {
    writeResults(s, body);
    say(`written to ${RESULTS}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
