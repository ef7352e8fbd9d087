import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { missing } from '../tools';
import { endsByItself, simulatorSetup, startCli, summaryOf, until } from './harness';

/**
 * The run lock against other local users and other paths: a user who cannot read STATE_DIR can
 * neither take the lock nor hold a run up, a bind mount of STATE_DIR meets the same lock, and a
 * lock held by something that is not a run, or for far too long, is reported with a non-zero exit.
 */
const setup = simulatorSetup();
const isRoot = process.getuid?.() === 0;

/** Why a test that needs a second user cannot run here, if it cannot. */
function noSecondUser(): string | false {
  if (!isRoot) return 'running as another user needs root';
  return missing('setpriv');
}

/** A process run as `nobody` (no groups), its stdout gathered; it ends when the test does. */
function asNobody(t: TestContext, script: string): { child: ChildProcess; out: () => string } {
  const child = spawn(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  return { child, out: () => out };
}

/** The lock's name in the abstract socket namespace, as versions before the flock lock bound it. */
function abstractLockName(stateDir: string): string {
  return `\0o365-backsync/${createHash('sha256').update(realpathSync(stateDir)).digest('hex').slice(0, 40)}`;
}

/** A process of this user that holds an exclusive flock on `file` (as `flock FILE cat` does) until the test ends. */
async function holdFlock(t: TestContext, file: string): Promise<number> {
  const child = spawn('flock', ['--exclusive', file, '-c', 'echo held; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await until(() => out.includes('held'));
  return child.pid!;
}

test(
  'a user who cannot read STATE_DIR cannot take the lock, whatever name or file it squats: the run does its pass',
  { skip: noSecondUser() },
  async (t) => {
    const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 20 });
    mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
    chmodSync(w.cwd, 0o755);
    const squatter = asNobody(
      t,
      `const net = require('node:net'), fs = require('node:fs');
       const says = (word) => process.stdout.write(word + '\\n');
       try { fs.openSync(${JSON.stringify(join(w.stateDir, 'run.lock'))}, 'r'); says('opened'); } catch (e) { says('open ' + e.code); }
       net.createServer().on('error', (e) => says('bind ' + e.code)).listen(${JSON.stringify(abstractLockName(w.stateDir))}, () => says('bound'));`,
    );
    await until(() => /bound|bind /.test(squatter.out()));
    assert.match(squatter.out(), /^open EACCES$/m, 'the lock file is out of the other user reach');
    for (const args of [
      ['sync', '--json', '--force'],
      ['sync', '--json', '--force', '--tenant', sim.readyTenants()[0]!.id],
    ]) {
      const result = await run(args);
      assert.equal(result.code, 0, result.stderr);
      assert.ok((summaryOf(result).synced as number) >= 1, 'the run did its work');
    }
    assert.equal(sim.stats.resyncSucceeded.size, 20);
    assert.ok(!w.log().some((l) => String(l.msg).startsWith('another run is active')));
  },
);

test(
  'a user who connects to whatever a run listens on cannot hold it up: the run ends when its pass does',
  { skip: noSecondUser() },
  async (t) => {
    const { sim, w, start } = await setup(
      { instances: 1, tenantsPerInstance: 10 },
      { REQUEST_TIMEOUT_MS: '1000', RETRIES: '30', RETRY_MAX_DELAY_MS: '50' },
    );
    chmodSync(w.cwd, 0o755);
    // The run waits on OA for its token until the other user has had its go.
    sim.setOaFault('hangToken');
    const holder = start(['sync', '--json', '--force']);
    await until(() => sim.stats.oaCalls.some((c) => c.method === 'pem.APS.getApplicationInstanceToken'));
    const knocker = asNobody(
      t,
      `const socket = require('node:net').connect(${JSON.stringify(abstractLockName(w.stateDir))});
       socket.on('connect', () => process.stdout.write('connected\\n'));
       socket.on('error', (e) => process.stdout.write('refused ' + e.code + '\\n'));`,
    );
    await until(() => /connected|refused/.test(knocker.out()));
    sim.setOaFault(undefined);
    const result = await endsByItself(holder);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(summaryOf(result).synced, 10);
  },
);

test('a bind mount of STATE_DIR meets the same lock: a second run by the other path exits 0 naming the first', async (t) => {
  if (!isRoot) return t.skip('mount --bind needs root');
  const { sim, w, env, start } = await setup(
    { instances: 1, tenantsPerInstance: 10 },
    { REQUEST_TIMEOUT_MS: '60000', RETRIES: '0' },
  );
  mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
  const alias = join(w.cwd, 'same-state');
  mkdirSync(alias, { mode: 0o700 });
  try {
    execFileSync('mount', ['--bind', w.stateDir, alias], { stdio: 'ignore' });
  } catch {
    return t.skip('this machine does not let a test bind-mount a folder');
  }
  t.after(() => execFileSync('umount', ['-l', alias]));
  // The first run holds the lock, waiting on OA for its token.
  sim.setOaFault('hangToken');
  const first = start(['sync', '--json', '--force']);
  t.after(() => first.child.kill('SIGKILL'));
  await until(() => sim.stats.oaCalls.some((c) => c.method === 'pem.APS.getApplicationInstanceToken'));
  const second = await endsByItself(startCli(['sync', '--json', '--force'], { ...env, STATE_DIR: alias }, w.cwd));
  assert.equal(second.code, 0, second.stderr);
  const busy = w.log().find((l) => String(l.msg).startsWith('another run is active'));
  assert.ok(busy, 'the second run found the lock held');
  assert.match(String(busy.msg), new RegExp(`\\(pid ${first.child.pid}, started `));
  assert.equal(w.log().filter((l) => l.msg === 'pass started').length, 1);
});

test('a lock held by a process that is not a run: exit 4 naming its pid, no network call', async (t) => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
  const pid = await holdFlock(t, join(w.stateDir, 'run.lock'));
  const result = await run(['sync', '--json', '--force']);
  assert.equal(result.code, 4, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`^o365-backsync: the run lock .*run\\.lock is held by pid ${pid}, which is not a run of this tool`),
  );
  assert.equal(sim.stats.oaCalls.length, 0);
});

test('a run that has held the lock far longer than the last pass took: exit 4 naming it and since when', async (t) => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  assert.equal((await run(['sync', '--json'])).code, 0);
  const calls = sim.stats.oaCalls.length;
  // A run of this tool, stuck for two days (say, on a hung file), still holding the lock.
  const pid = await holdFlock(t, join(w.stateDir, 'run.lock'));
  const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
  writeFileSync(join(w.stateDir, 'lock.json'), JSON.stringify({ pid, startedAt: since }), { mode: 0o600 });
  const result = await run(['sync', '--json', '--force']);
  assert.equal(result.code, 4, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`the run holding the lock \\(pid ${pid}, since ${since}\\) has gone on for 2880 min`),
  );
  assert.equal(sim.stats.oaCalls.length, calls);
  // One that started a moment ago is just busy: exit 0, as every minute's cron tick expects.
  writeFileSync(join(w.stateDir, 'lock.json'), JSON.stringify({ pid, startedAt: new Date().toISOString() }));
  const busy = await run(['sync', '--json', '--force']);
  assert.equal(busy.code, 0, busy.stderr);
  assert.match(String(w.log().at(-1)!.msg), new RegExp(`^another run is active \\(pid ${pid}, `));
});
