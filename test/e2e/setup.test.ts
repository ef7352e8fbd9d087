import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { LOG_FILE_NAME } from '../../src/runtime/logger';
import { missing } from '../tools';
import { CLI, runCli, simulatorSetup, until, workdir, type Workdir } from './harness';

/** `setup cron|systemd|logrotate`: the files for this host, checked by running them or with the real tools. */
const setup = simulatorSetup();

/** An env file holding `env`, as an operator writes /etc/o365-backsync.env. */
function envFile(w: Workdir, env: Record<string, string>): string {
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

const runSetup = (w: Workdir, args: string[]) => runCli(['setup', ...args], {}, w.cwd);

test('setup cron prints a line with absolute paths that runs a pass with no PATH at all, as cron starts it', async () => {
  const { sim, w, env } = await setup({ instances: 2, tenantsPerInstance: 5 });
  const file = envFile(w, env);
  const printed = await runSetup(w, ['cron', '--env-file', file]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stderr, '');
  const jobs = printed.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(jobs.length, 1, printed.stdout);
  const cli = realpathSync(CLI);
  assert.equal(
    jobs[0],
    `* * * * * ${userInfo().username} ${process.execPath} ${NODE_FLAGS.join(' ')} -- ${cli} sync --env-file ${file}`,
  );
  assert.doesNotMatch(printed.stdout, /^PATH=/m);

  // What cron does with a line of /etc/cron.d: the command after the time and the user, through /bin/sh.
  const command = jobs[0]!.split(' ').slice(6).join(' ');
  // Not spawnSync: the simulator answers from this process's event loop.
  const cron = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) =>
    execFile('/bin/sh', ['-c', command], { env: { PATH: '/nonexistent' }, cwd: '/' }, (error, stdout, stderr) =>
      done({ status: error ? (error.code as number) : 0, stdout, stderr }),
    ),
  );
  assert.deepEqual(cron, { status: 0, stdout: '', stderr: '' });
  assert.equal(sim.stats.resyncSucceeded.size, 10);
  assert.ok(w.log().some((l) => l.msg === 'pass finished'));
});

test('setup systemd --write installs the units, prints what it writes, never replaces a changed one without --force, and names the next command', async () => {
  const w = workdir();
  const root = join(w.cwd, 'root');
  const file = envFile(w, { OFFICE_APP_ID: '41', OA_HOST: '127.0.0.1' });
  const write = (...more: string[]) => runSetup(w, ['systemd', '--env-file', file, '--write', '--root', root, ...more]);
  const service = join(root, 'etc/systemd/system/o365-backsync.service');
  const timer = join(root, 'etc/systemd/system/o365-backsync.timer');

  const first = await write();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stdout,
    `wrote ${service}\nwrote ${timer}\nnext: systemctl daemon-reload && systemctl enable --now o365-backsync.timer\n`,
  );
  const unit = readFileSync(service, 'utf8');
  assert.match(
    unit,
    new RegExp(
      `^ExecStart=${process.execPath} ${NODE_FLAGS.join(' ')} -- ${realpathSync(CLI)} sync --env-file ${file}$`,
      'm',
    ),
  );
  // The defaults: folders systemd creates, and the only ones the run may write.
  assert.match(unit, /^StateDirectory=o365-backsync$/m);
  assert.match(unit, /^LogsDirectory=sync$/m);
  assert.equal(statSync(service).mode & 0o777, 0o644 & ~process.umask());
  assert.equal(
    (await runSetup(w, ['systemd', '--env-file', file])).stdout,
    `${unit}\n${readFileSync(timer, 'utf8')}`,
    'printed is what is written',
  );

  const again = await write();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^unchanged .*o365-backsync\.service\nunchanged .*o365-backsync\.timer\n/);

  writeFileSync(timer, 'edited by hand\n');
  const refused = await write();
  assert.equal(refused.code, 2);
  assert.equal(
    refused.stderr,
    `o365-backsync: ${timer}: exists with other content; compare it with \`o365-backsync setup systemd\`, then add --force to replace it\n`,
  );
  assert.equal(readFileSync(timer, 'utf8'), 'edited by hand\n');
  const forced = await write('--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /^unchanged .*\.service\nwrote .*\.timer\n/);
});

test('the units setup systemd writes pass systemd-analyze verify', { skip: missing('systemd-analyze') }, async () => {
  const w = workdir();
  const root = join(w.cwd, 'root');
  const written = await runSetup(w, [
    'systemd',
    '--env-file',
    envFile(w, { METRICS_FILE: join(w.cwd, 'metrics/o365.prom') }),
    '--write',
    '--root',
    root,
  ]);
  assert.equal(written.code, 0, written.stderr);
  const units = ['service', 'timer'].map((kind) => join(root, `etc/systemd/system/o365-backsync.${kind}`));
  const verify = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
  assert.deepEqual({ status: verify.status, stderr: verify.stderr }, { status: 0, stderr: '' });
});

test('setup systemd: LOG_DIR, STATE_DIR and METRICS_FILE elsewhere become the paths the run may write', async () => {
  const w = workdir();
  const file = envFile(w, {
    LOG_DIR: '/srv/obs/log',
    STATE_DIR: '/var/lib/obs/state',
    METRICS_FILE: '/var/lib/node-exporter/o365.prom',
  });
  const printed = await runSetup(w, ['systemd', '--env-file', file]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /^StateDirectory=obs\/state$/m);
  assert.match(printed.stdout, /^ReadWritePaths=\/srv\/obs\/log$/m);
  assert.match(printed.stdout, /^ReadWritePaths=\/var\/lib\/node-exporter$/m);
  assert.doesNotMatch(printed.stdout, /^LogsDirectory=/m);
});

test('setup with a relative folder in the env file, or an unknown kind, is a usage error in one line', async () => {
  const w = workdir();
  const relative = await runSetup(w, ['logrotate', '--env-file', envFile(w, { LOG_DIR: 'log' })]);
  assert.equal(relative.code, 2);
  assert.equal(
    relative.stderr,
    "o365-backsync: LOG_DIR: must be an absolute path for setup (cron and systemd start the tool in another folder), got 'log'\n",
  );
  const unknown = await runSetup(w, ['anacron']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^o365-backsync: .*'anacron' is invalid.*cron, systemd, logrotate\.\n$/);
});

test(
  'setup logrotate: logrotate -d accepts the written file; rotating renames the log, the pass running keeps writing to it, and the next run starts a fresh one',
  { skip: missing('logrotate') },
  async () => {
    // A fixed interval, so the run after the pass is not due however slowly this machine starts it.
    const { w, env, start, run } = await setup(
      { instances: 1, tenantsPerInstance: 40, latencyMs: 20 },
      { SYNC_CONCURRENCY: '1', SYNC_MIN_INTERVAL: '3600' },
    );
    const root = join(w.cwd, 'root');
    const written = await runSetup(w, ['logrotate', '--env-file', envFile(w, env), '--write', '--root', root]);
    const config = join(root, 'etc/logrotate.d/o365-backsync');
    assert.equal(written.code, 0, written.stderr);
    assert.equal(written.stdout, `wrote ${config}\nnext: check it with: logrotate -d ${config}\n`);
    const log = join(w.logDir, LOG_FILE_NAME);
    assert.match(readFileSync(config, 'utf8'), new RegExp(`^${log} \\{$`, 'm'));
    const state = join(w.cwd, 'logrotate.state');
    const debug = spawnSync('logrotate', ['-d', '--state', state, config], { encoding: 'utf8' });
    assert.equal(debug.status, 0, debug.stderr);
    assert.doesNotMatch(debug.stderr, /error/i);

    const pass = start(['sync']);
    await until(() => w.log().some((l) => l.msg === 'instance started'));
    const logrotate = spawnSync('logrotate', ['--state', state, '--force', config], { encoding: 'utf8' });
    assert.deepEqual({ status: logrotate.status, stderr: logrotate.stderr }, { status: 0, stderr: '' });
    assert.equal(existsSync(log), false);
    assert.equal((await pass.done).code, 0);
    assert.match(
      readFileSync(`${log}.1`, 'utf8'),
      /"msg":"pass finished"/,
      'the rest of the pass went to the renamed file',
    );

    assert.equal((await run(['sync'])).code, 0);
    assert.match(readFileSync(log, 'utf8'), /"msg":"not due yet; next pass due at /);
    assert.equal(statSync(log).mode & 0o777, 0o640 & ~process.umask());
  },
);
