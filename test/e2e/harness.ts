import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { startSimulator, type SimOptions, type Simulator } from '../sim';
import { scratchDir } from '../tmp';

/** The real CLI, as an operator or cron starts it. */
export const CLI = resolve(__dirname, '../../../bin/o365-backsync');

export interface Workdir {
  cwd: string;
  logDir: string;
  stateDir: string;
  env: Record<string, string>;
  /** Every JSON line of this workdir's log so far. */
  log(): Record<string, unknown>[];
}

/** Fresh folders for one test: its own cwd (so no stray .env is read), log and state. */
export function workdir(): Workdir {
  const cwd = scratchDir('obs-e2e-');
  const logDir = join(cwd, 'log');
  const stateDir = join(cwd, 'state');
  return {
    cwd,
    logDir,
    stateDir,
    env: { LOG_DIR: logDir, STATE_DIR: stateDir },
    log: () => {
      const path = join(logDir, 'o365-backsync.log');
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

/** An env file in the workdir holding `env`, 0600, as an operator writes /etc/o365-backsync.env. */
export function writeEnvFile(w: Workdir, env: Record<string, string>): string {
  const path = join(w.cwd, 'o365-backsync.env');
  writeFileSync(
    path,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return path;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  done: Promise<CliResult>;
}

/** Starts the CLI with only the environment given (plus PATH), in `cwd`. */
export function startCli(args: string[], env: Record<string, string>, cwd: string): CliProcess {
  const child = spawn(CLI, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, cwd });
  return { child, done: outcome(child) };
}

/**
 * The CLI started through a command that ends by running the rest of its arguments (setpriv, unshare),
 * with only the environment given (plus PATH), in `cwd`.
 */
export function runCliThrough(
  through: string[],
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<CliResult> {
  const [command, ...before] = through;
  const child = spawn(command!, [...before, CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    cwd,
  });
  return outcome(child);
}

/** What a started CLI printed and how it ended, once it has. */
export function outcome(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return startCli(args, env, cwd).done;
}

/** The CLI run as another user (root only): util-linux's `setpriv` drops to `uid` and its group. */
export function runCliAs(uid: number, args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  const drop = [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', CLI, ...args];
  return outcome(spawn('setpriv', drop, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, cwd }));
}

/** Waits until `condition` holds, checking every 10 ms, for at most `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Each ready tenant resynced exactly once, and nothing else resynced. */
export function assertEachReadyTenantOnce(sim: Simulator): void {
  const ready = sim
    .readyTenants()
    .map((t) => t.id)
    .sort();
  assert.deepEqual([...sim.stats.resyncCalls.keys()].sort(), ready);
  for (const [tenant, calls] of sim.stats.resyncCalls)
    assert.equal(calls, 1, `tenant ${tenant} resynced ${calls} times`);
}

/** A run's outcome, or a failed test (and the run ended) if it has not ended by itself within `ceilingMs`. */
export async function endsByItself(run: CliProcess, ceilingMs = 60_000): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const ceiling = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`the run did not end by itself within ${ceilingMs} ms`));
    }, ceilingMs);
  });
  try {
    return await Promise.race([run.done, ceiling]);
  } finally {
    clearTimeout(timer);
  }
}

/** The one JSON object `--json` prints, checking that it is the only thing on stdout. */
export function summaryOf(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.split('\n').filter(Boolean);
  if (lines.length !== 1)
    throw new Error(`expected one line on stdout, got ${lines.length}: ${result.stdout}\nstderr: ${result.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

export interface SimSetup {
  sim: Simulator;
  w: Workdir;
  env: Record<string, string>;
  /** Runs the CLI (by default `sync --json`), with `more` on top of the environment. */
  run(args?: string[], more?: Record<string, string>): Promise<CliResult>;
  start(args?: string[]): CliProcess;
}

/**
 * For a test file: a function that starts a simulator with fresh folders for one test, with the CLI's
 * environment pointing at both (plus the file's `defaults` and the test's `extraEnv`). Every simulator
 * it started is closed when the file's tests are done.
 */
export function simulatorSetup(
  defaults: Record<string, string> = {},
): (options: SimOptions, extraEnv?: Record<string, string>) => Promise<SimSetup> {
  const sims: Simulator[] = [];
  after(async () => Promise.all(sims.map((s) => s.close())));
  return async (options, extraEnv = {}) => {
    const sim = await startSimulator(options);
    sims.push(sim);
    const w = workdir();
    const env = { ...sim.env(), ...w.env, ...defaults, ...extraEnv };
    return {
      sim,
      w,
      env,
      run: (args = ['sync', '--json'], more = {}) => runCli(args, { ...env, ...more }, w.cwd),
      start: (args = ['sync', '--json']) => startCli(args, env, w.cwd),
    };
  };
}

/**
 * The CLI on a pseudo-terminal, as a person at a shell runs it: util-linux's `script` gives it one for
 * stdout and stderr, and both come back in `stdout`, with the terminal's \r\n line ends.
 */
export function runCliOnTerminal(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  const command = [CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return outcome(
    spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** A port on loopback where nothing listens now: a controller or OA that refuses connections. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
