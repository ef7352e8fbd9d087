import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Simulator } from '../sim';
import { missing } from '../tools';
import { fill, smallDisk } from './small-disk';
import { CLI, runCli, runCliOnTerminal, simulatorSetup, summaryOf, until } from './harness';

/**
 * What a run does when this host, not the remote, is the trouble: full disks under LOG_DIR and
 * STATE_DIR, links planted where its files go, folders others can write, state files that are
 * folders, remote words that would drive a terminal, and a reader that goes away.
 */
const setup = simulatorSetup();
const succeeded = (sim: Simulator) => sim.stats.resyncSucceeded.size;

/**
 * A pass on a small disk under `folder` (LOG_DIR or STATE_DIR) that fills up once 40 tenants are done:
 * the run must stop by itself with exit 4 and the one line `failedFile` matches, and the
 * next run, with room again, must resume the pass and finish it.
 */
async function fullDiskMidPass(
  t: TestContext,
  folder: 'logDir' | 'stateDir',
  failedFile: string,
  extraEnv: Record<string, string> = {},
): Promise<void> {
  const { sim, w, start, run } = await setup(
    { instances: 1, tenantsPerInstance: 300, latencyMs: 20 },
    { SYNC_CONCURRENCY: '2', ...extraEnv },
  );
  const dir = w[folder];
  const reason = smallDisk(t, dir);
  if (reason) return t.skip(reason);
  fill(dir, 64 * 1024);
  // The controller answers 40 resyncs, then holds the rest while the disk fills: the pass is midway
  // however fast the machine is.
  const release = sim.holdResyncs(40);
  const first = start(['sync', '--json']);
  await until(() => succeeded(sim) >= 40);
  fill(dir);
  release();
  // It ends by itself: a run that hung on the full disk would fail this test by its time limit.
  const stopped = await first.done;
  assert.equal(stopped.code, 4, stopped.stderr);
  assert.match(
    stopped.stderr,
    new RegExp(`^o365-backsync: cannot write ${dir}/${failedFile}: ENOSPC \\(no space left on the device\\)\\n$`),
  );
  assert.ok(succeeded(sim) < 300, 'it stopped starting tenants');

  rmSync(join(dir, 'filler'));
  const resumed = await run(['sync', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok((summaryOf(resumed).alreadyDone as number) > 0, 'resumed, not restarted');
  for (const tenant of sim.readyTenants()) assert.ok((sim.stats.resyncSucceeded.get(tenant.id) ?? 0) >= 1, tenant.id);
}

test('a full LOG_DIR: the run stops by itself with exit 4 and one line, and the next run with room resumes', (t) =>
  // Debug lines (a token renewal every 5 tenants) keep the log writing while the disk fills.
  fullDiskMidPass(t, 'logDir', 'o365-backsync\\.log', { LOG_LEVEL: 'debug', TOKEN_REFRESH_EVERY: '5' }));

test('a full STATE_DIR: the journal write fails, the run stops with exit 4 and one line, and the next run with room resumes', (t) =>
  fullDiskMidPass(t, 'stateDir', '[a-z.-]+'));

/** A file someone wants a root run to overwrite. */
function victim(dir: string): string {
  const path = join(dir, 'victim');
  writeFileSync(path, 'precious\n');
  return path;
}

test('a symlink at the log file: refused with exit 2 and one line; the target is never written', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  mkdirSync(w.logDir, { recursive: true });
  const target = victim(w.cwd);
  symlinkSync(target, join(w.logDir, 'o365-backsync.log'));
  const result = await run(['sync']);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /^o365-backsync: LOG_DIR: cannot write the log file .*: ELOOP \(it is a symbolic link, which this tool never follows\)\n$/,
  );
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');
});

test('symlinks at the journal, last-pass.json and the metrics file: each is replaced or refused, its target never written', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 6 });
  const metricsFile = join(w.cwd, 'metrics.prom');
  mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
  const targets = ['journal', 'last-pass', 'metrics'].map((name) => {
    const path = join(w.cwd, name);
    writeFileSync(path, 'precious\n');
    return path;
  });
  // A pass in progress, so the run resumes it and reads and appends to the journal.
  writeFileSync(
    join(w.stateDir, 'pass.json'),
    JSON.stringify({ version: 1, appId: sim.appId, startedAt: new Date().toISOString(), activeMs: 0, runs: 1 }),
    { mode: 0o600 },
  );
  symlinkSync(targets[0]!, join(w.stateDir, 'journal.ndjson'));
  symlinkSync(targets[1]!, join(w.stateDir, 'last-pass.json'));
  symlinkSync(targets[2]!, metricsFile);
  const result = await run(['sync', '--json'], { METRICS_FILE: metricsFile });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(summaryOf(result).synced, 6);
  for (const target of targets) assert.equal(readFileSync(target, 'utf8'), 'precious\n', target);
  assert.equal(lstatSync(join(w.stateDir, 'last-pass.json')).isFile(), true);
  assert.equal(lstatSync(metricsFile).isFile(), true);
});

test('a STATE_DIR that others can write is refused with exit 2, naming it and the fix; no network call', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  mkdirSync(w.stateDir, { recursive: true });
  chmodSync(w.stateDir, 0o777);
  const result = await run(['sync']);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /^o365-backsync: STATE_DIR: .* can be written by group or others \(mode 0777\); .*chmod 700 it/,
  );
  assert.equal(sim.stats.requests + sim.stats.oaCalls.length, 0);
});

test('state files that are folders: moved aside with their contents, a warning, and a fresh pass, not a crash; stale temp files are cleared', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 5 });
  for (const name of ['pass.json', 'journal.ndjson', 'last-pass.json'])
    mkdirSync(join(w.stateDir, name, 'inner'), { recursive: true, mode: 0o700 });
  writeFileSync(join(w.stateDir, 'pass.json.4242.tmp'), '');
  writeFileSync(join(w.stateDir, 'last-pass.json.0a1b2c3d4e5f6a7b.tmp'), '');
  const result = await run(['sync', '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(summaryOf(result).synced, 5);
  assert.equal(succeeded(sim), 5);
  assert.ok(w.log().some((l) => l.level === 40 && /pass\.json .*damaged/.test(String(l.msg))));
  const left = readdirSync(w.stateDir).sort();
  assert.deepEqual(
    left.map((n) => n.replace(/\.moved-aside-.*$/, '.moved-aside')),
    [
      'journal.ndjson.moved-aside',
      'last-pass.json',
      'last-pass.json.moved-aside',
      'last-run.json',
      'pass.json.moved-aside',
      'run.lock',
    ],
  );
  assert.equal(lstatSync(join(w.stateDir, 'last-pass.json')).isFile(), true);
  for (const aside of left.filter((n) => n.includes('.moved-aside-')))
    assert.deepEqual(readdirSync(join(w.stateDir, aside)), ['inner'], `${aside} kept its contents`);
});

test(
  'ESC and BEL in a controller message never reach a terminal, stderr or status',
  { skip: missing('script') },
  async () => {
    const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 4 });
    sim.setFault(sim.instances[0]!.tenants[1]!.id, 'terminalEscapes');
    const onTerminal = await runCliOnTerminal(['sync'], env, w.cwd);
    assert.equal(onTerminal.code, 1, onTerminal.stdout);
    const status = await runCli(['status'], env, w.cwd);
    // The simulator runs in this process: the CLI must be waited for without blocking it.
    const cron = await runCli(['sync', '--force'], { ...env, LOG_LEVEL: 'warn' }, w.cwd);
    assert.equal(cron.code, 1, cron.stderr);
    for (const [where, text] of [
      ['terminal', onTerminal.stdout],
      ['status', status.stdout],
      ['cron stderr', cron.stderr],
    ] as const) {
      assert.ok(
        !/[\u0007]|\u001b\]|\u001b\[2J/.test(text),
        `a control sequence reached ${where}: ${JSON.stringify(text)}`,
      );
    }
    assert.match(onTerminal.stdout, /\\x1b\]0;pwned\\x07/, 'the words are shown, escaped');
    assert.match(status.stdout, /\\x1b\]0;pwned\\x07/);
  },
);

test("a reader that closes the pipe: output stops quietly, no stack, the exit code is the run's own", async () => {
  const { env, w } = await setup({ instances: 1, tenantsPerInstance: 3 });
  // `true` exits without reading, so every line check prints meets a closed pipe.
  const script = `"${CLI}" check | true; echo "exit \${PIPESTATUS[0]}" >&2`;
  const child = spawn('bash', ['--noprofile', '--norc', '-c', script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    cwd: w.cwd,
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise((resolve) => child.on('close', resolve));
  assert.equal(stderr, 'exit 0\n');
});
