import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Simulator } from '../sim';
import { CLI, type CliResult, simulatorSetup, summaryOf, until } from './harness';

/**
 * What OA may repeat or garble (an instance listed twice, a token no header can carry), what this
 * host may limit (open files), a signal a terminal sends (SIGHUP), and a token echoed where messages
 * are cut: each ends in a clean, named outcome.
 */
const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20' });

test('OA lists an instance twice: it is walked once, with a warning naming it, and counted once', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 50, pageCap: 7 }, { SYNC_CONCURRENCY: '4' });
  sim.setOaFault('instanceListedTwice');
  const result = await run(['sync', '--json', '--force']);
  assert.equal(result.code, 0, result.stderr);
  const summary = summaryOf(result);
  assert.deepEqual(
    { instances: summary.instances, tenants: summary.tenants, synced: summary.synced },
    {
      instances: 1,
      tenants: 50,
      synced: 50,
    },
  );
  for (const [id, calls] of sim.stats.resyncCalls) assert.equal(calls, 1, `tenant ${id} resynced ${calls} times`);
  const warning = w.log().find((l) => l.level === 40 && l.instanceId === 1001);
  assert.equal(warning?.msg, 'OA listed instance 1001 more than once; it is walked once');
});

test('OA issues a token no HTTP header can carry: a protocol error naming the instance, not retried, not "unreachable"', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { RETRIES: '3' });
  sim.setOaFault('invalidToken');
  const result = await run(['sync', '--json', '--force']);
  assert.equal(result.code, 3, result.stderr);
  assert.match(
    result.stderr,
    /OA issued an invalid token for instance 1001: it holds characters an HTTP header cannot carry/,
  );
  assert.equal(sim.stats.tokensIssued, 1, 'asked once: the same question would get the same answer');
  assert.equal(sim.stats.requests, 0, 'no request went to the controller with it');
  assert.ok(!w.log().some((l) => l.code === 'OBS_ERR_NETWORK'));
  assert.ok(w.log().some((l) => l.code === 'OBS_ERR_PROTOCOL'));

  const check = await run(['check']);
  assert.equal(check.code, 3);
  assert.match(check.stdout, /OA issued an invalid token for instance 1001/);
  assert.doesNotMatch(check.stdout, /reaches the controller/);
});

/** Every piece of 8 characters of every token issued, found anywhere in `text`. */
function tokenPieces(sim: Simulator, text: string): string[] {
  const found: string[] = [];
  for (const token of sim.issuedTokens())
    for (let i = 0; i + 8 <= token.length; i++)
      if (text.includes(token.slice(i, i + 8))) found.push(token.slice(i, i + 8));
  return found;
}

test('a controller message that echoes a token where messages are cut: no piece of it in the log, stderr or state', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 4 }, { RETRIES: '0' });
  sim.setFault(sim.instances[0]!.tenants[1]!.id, 'echoTokenAtCut');
  const result = await run(['sync', '--json', '--force']);
  assert.equal(result.code, 1, result.stderr);
  const failure = w.log().find((l) => l.msg === 'tenant failed' || String(l.error ?? '').includes('xxxx'));
  assert.ok(failure, 'the failure is in the log');
  const state = readdirSync(w.stateDir)
    .map((name) => readFileSync(join(w.stateDir, name), 'utf8'))
    .join('\n');
  const everything = [readFileSync(join(w.logDir, 'o365-backsync.log'), 'utf8'), result.stdout, result.stderr, state];
  assert.deepEqual(tokenPieces(sim, everything.join('\n')), []);
  assert.match(everything[0]!, /x…|\[REDACTED\]/);
});

/** The CLI under `ulimit -n limit`, as a host with a low open-files limit runs it. */
function withOpenFiles(limit: number, args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  const child = spawn('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    cwd,
  });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test('a low open-files limit: exit 4 naming the limit and how to raise it, never 70, never blamed on OA', async () => {
  const { sim, env, w } = await setup({ instances: 1, tenantsPerInstance: 30 }, { SYNC_CONCURRENCY: '8' });
  // The lowest limit under which Node.js itself starts and reads the tool: below it, there is no tool yet.
  let lowest = 12;
  while ((await withOpenFiles(lowest, ['--version'], env, w.cwd)).code !== 0) {
    lowest++;
    assert.ok(lowest < 200, 'the tool starts under some limit');
  }
  const outcomes: number[] = [];
  for (let limit = lowest; ; limit++) {
    const result = await withOpenFiles(limit, ['sync', '--json', '--force'], env, w.cwd);
    outcomes.push(result.code!);
    if (result.code === 0) {
      assert.equal(summaryOf(result).failed, 0);
      break;
    }
    assert.equal(result.code, 4, `ulimit -n ${limit}: ${result.stderr}`);
    assert.match(result.stderr, /open-files limit is reached \(.*EMFILE.*\): .*ulimit -n, or LimitNOFILE=/);
    assert.doesNotMatch(result.stderr, /OA|controller|internal error/);
    if (result.stdout) assert.equal(summaryOf(result).failed, 0, 'no tenant is blamed for the host');
    assert.ok(limit < lowest + 200, 'some limit lets the pass through');
  }
  assert.ok(outcomes.includes(4), `some limit was too low: ${outcomes.join(',')}`);
  assert.equal(sim.stats.resyncSucceeded.size, 30);
});

test('SIGHUP is a stop like SIGTERM: in-flight tenants finish, the trace is whole, the journal kept, exit 129', async () => {
  const { sim, w, start, run } = await setup(
    { instances: 1, tenantsPerInstance: 80, latencyMs: 30 },
    { SYNC_CONCURRENCY: '2' },
  );
  const trace = join(w.cwd, 'run.har');
  const first = start(['sync', '--json', '--trace', trace]);
  await until(() => sim.stats.resyncSucceeded.size >= 10);
  first.child.kill('SIGHUP');
  const stopped = await first.done;
  assert.equal(stopped.code, 129, `${stopped.signal ?? ''} ${stopped.stderr}`);
  const s1 = summaryOf(stopped);
  assert.equal(s1.interruptedBy, 'signal');
  assert.equal(sim.stats.resyncSucceeded.size, s1.synced);
  assert.ok(w.log().some((l) => String(l.msg).startsWith('SIGHUP received')));
  const har = JSON.parse(readFileSync(trace, 'utf8')) as { log: { entries: unknown[] } };
  assert.ok(har.log.entries.length > 0);
  assert.ok(existsSync(join(w.stateDir, 'pass.json')), 'the pass is kept for the next run');

  const second = await run(['sync', '--json']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(summaryOf(second).alreadyDone, s1.synced);
  for (const [id, calls] of sim.stats.resyncCalls) assert.equal(calls, 1, `tenant ${id} resynced ${calls} times`);
});
