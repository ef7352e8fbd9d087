import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
  const cwd = mkdtempSync(join(tmpdir(), 'obs-e2e-'));
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
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return startCli(args, env, cwd).done;
}

/** Waits until `condition` holds, checking every 10 ms, for at most `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The one JSON object `--json` prints, checking that it is the only thing on stdout. */
export function summaryOf(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.split('\n').filter(Boolean);
  if (lines.length !== 1) throw new Error(`expected one line on stdout, got ${lines.length}: ${result.stdout}\nstderr: ${result.stderr}`);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}
