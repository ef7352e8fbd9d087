import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missing } from '../tools';
import { endsByItself, simulatorSetup, startCli, summaryOf } from './harness';

/**
 * Every file a run opens is what it expects: never through a symlink, never a FIFO or a device (which
 * would hang it), 0600 when it is the trace whatever mode it was found with; `--trace` and
 * METRICS_FILE may not name the files the tool keeps; and an env-file value dotenv would cut is named.
 */
const setup = simulatorSetup();

const fifo = (path: string): void => void execFileSync('mkfifo', ['-m', '600', path]);

test(
  'a FIFO at the log file name: exit 2 at once naming it, no network call',
  { skip: missing('mkfifo') },
  async () => {
    const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 3 });
    mkdirSync(w.logDir, { recursive: true, mode: 0o750 });
    const log = join(w.logDir, 'o365-backsync.log');
    fifo(log);
    const result = await endsByItself(startCli(['sync', '--json', '--force'], env, w.cwd));
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `o365-backsync: LOG_DIR: cannot write the log file ${log}: ENOTREG (it is not a regular file (a FIFO, a device or a socket), which this tool never opens)\n`,
    );
    assert.equal(sim.stats.oaCalls.length, 0);
  },
);

test(
  'FIFOs at every state file name: read as damaged state, never waited on; the pass runs',
  { skip: missing('mkfifo') },
  async () => {
    const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 3 });
    mkdirSync(w.stateDir, { recursive: true, mode: 0o700 });
    for (const name of ['pass.json', 'journal.ndjson', 'last-pass.json', 'lock.json', 'token-lifetime.json'])
      fifo(join(w.stateDir, name));
    const result = await endsByItself(startCli(['sync', '--json', '--force'], env, w.cwd));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(summaryOf(result).synced, 3);
    assert.equal(sim.stats.resyncSucceeded.size, 3);
  },
);

test('--trace never writes through a symlink, never waits on a FIFO, and makes a file it finds 0600', async (t) => {
  const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 3 });
  const trace = (path: string) => endsByItself(startCli(['sync', '--json', '--force', '--trace', path], env, w.cwd));

  const target = join(w.cwd, 'precious');
  writeFileSync(target, 'keep me\n');
  const link = join(w.cwd, 'link.har');
  symlinkSync(target, link);
  const linked = await trace(link);
  assert.equal(linked.code, 2, linked.stderr);
  assert.match(linked.stderr, /^o365-backsync: --trace: cannot write '.*link\.har': ELOOP /);
  assert.equal(readFileSync(target, 'utf8'), 'keep me\n');

  if (!missing('mkfifo')) {
    const pipe = join(w.cwd, 'pipe.har');
    fifo(pipe);
    const piped = await trace(pipe);
    assert.equal(piped.code, 2, piped.stderr);
    assert.match(piped.stderr, /^o365-backsync: --trace: cannot write '.*pipe\.har': ENXIO /);
  } else t.diagnostic('mkfifo is not on PATH: the FIFO case is not run');
  const device = await trace('/dev/full');
  assert.equal(device.code, 2, device.stderr);
  assert.match(device.stderr, /^o365-backsync: --trace: cannot write '\/dev\/full': ENOTREG /);
  assert.equal(sim.stats.oaCalls.length, 0);

  const open = join(w.cwd, 'open.har');
  writeFileSync(open, 'old content that is longer than nothing');
  chmodSync(open, 0o666);
  const written = await trace(open);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(statSync(open).mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(open, 'utf8')) as { log: { version: string } }).log.version, '1.2');
});

test('--trace and METRICS_FILE may not name the log or a file in STATE_DIR: exit 2, and the file is untouched', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 4 });
  assert.equal((await run(['sync', '--json'])).code, 0);
  const log = join(w.logDir, 'o365-backsync.log');
  const lastPass = join(w.stateDir, 'last-pass.json');
  const before = { log: readFileSync(log, 'utf8'), lastPass: readFileSync(lastPass, 'utf8') };
  const calls = sim.stats.oaCalls.length;

  for (const path of [log, lastPass, join(w.stateDir, 'pass.json'), join(w.logDir, '..', 'state', 'new.har')]) {
    const result = await run(['sync', '--json', '--force', '--trace', path]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^o365-backsync: --trace: will not write '.*': it (is the log file|is in STATE_DIR)/);
  }
  for (const path of [log, join(w.stateDir, 'pass.json'), lastPass]) {
    const result = await run(['sync', '--json', '--force'], { METRICS_FILE: path });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /^o365-backsync: METRICS_FILE: will not write '.*': it (is the log file|is in STATE_DIR)/,
    );
  }
  assert.equal(readFileSync(lastPass, 'utf8'), before.lastPass);
  assert.ok(readFileSync(log, 'utf8').startsWith(before.log), 'the log was not cut');
  assert.equal(existsSync(join(w.stateDir, 'pass.json')), false);
  assert.equal(existsSync(join(w.stateDir, 'new.har')), false);
  assert.equal(sim.stats.oaCalls.length, calls);
  // Elsewhere both are fine.
  const ok = await run(['sync', '--json', '--force', '--trace', join(w.cwd, 'run.har')], {
    METRICS_FILE: join(w.cwd, 'metrics.prom'),
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(summaryOf(ok).synced, 4);
});

test('an unquoted # in an env-file value: a warning naming the variable and asking for quotes; quoted, none', async () => {
  const AUTH = { user: 'admin', password: 'se#cret' };
  const { sim, w, env } = await setup({ instances: 1, tenantsPerInstance: 2, oaAuth: AUTH });
  const envFile = join(w.cwd, 'backsync.env');
  const settings = (password: string) =>
    `${Object.entries(env)
      .filter(([k]) => !k.startsWith('OA_USER') && !k.startsWith('OA_PASSWORD'))
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\nOA_USER=${AUTH.user}\nOA_PASSWORD=${password}\nRETRIES=0 # no retries in a test\n`;
  writeFileSync(envFile, settings(AUTH.password), { mode: 0o600 });
  const cut = await startCli(['sync', '--json', '--force', '--env-file', envFile], {}, w.cwd).done;
  assert.equal(cut.code, 3, cut.stderr);
  const warnings = w.log().filter((l) => l.level === 40 && String(l.msg).includes('#'));
  assert.deepEqual(
    warnings.map((l) => l.msg),
    [
      `OA_PASSWORD in ${envFile} has an unquoted '#', where the value ends (the rest is read as a comment): quote the value, OA_PASSWORD="..."`,
    ],
  );
  assert.ok(!JSON.stringify(w.log()).includes('cret'), 'the value is not shown');

  writeFileSync(envFile, settings(`"${AUTH.password}"`));
  const quoted = await startCli(['sync', '--json', '--force', '--env-file', envFile], {}, w.cwd).done;
  assert.equal(quoted.code, 0, quoted.stderr);
  assert.equal(w.log().filter((l) => l.level === 40 && String(l.msg).includes('#')).length, 1);
  assert.equal(sim.stats.resyncSucceeded.size, 2);
});
