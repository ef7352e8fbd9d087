import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { LOG_FILE_NAME } from '../../src/runtime/logger';
import { missing } from '../tools';
import { CLI, runCli, runCliThrough, simulatorSetup, until, workdir, writeEnvFile, type Workdir } from './harness';

/** `setup cron|systemd|logrotate`: the files for this host, checked by running them or with the real tools. */
const setup = simulatorSetup();

const runSetup = (w: Workdir, args: string[]) => runCli(['setup', ...args], {}, w.cwd);

test('setup cron prints a line with absolute paths that runs a pass with no PATH at all, as cron starts it', async () => {
  const { sim, w, env } = await setup({ instances: 2, tenantsPerInstance: 5 });
  const file = writeEnvFile(w, env);
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
  const file = writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: '127.0.0.1' });
  const write = (...more: string[]) => runSetup(w, ['systemd', '--env-file', file, '--write', '--root', root, ...more]);
  const service = join(root, 'etc/systemd/system/o365-backsync.service');
  const timer = join(root, 'etc/systemd/system/o365-backsync.timer');

  const first = await write();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stdout,
    `wrote ${service}\nwrote ${timer}\nnext: id o365-backsync || useradd --system --no-create-home --shell /sbin/nologin o365-backsync; ` +
      `chgrp o365-backsync ${file} && chmod 0640 ${file}; systemctl daemon-reload && systemctl enable --now o365-backsync.timer\n`,
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
    writeEnvFile(w, { METRICS_FILE: join(w.cwd, 'metrics/o365.prom') }),
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
  const file = writeEnvFile(w, {
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
  const relative = await runSetup(w, ['logrotate', '--env-file', writeEnvFile(w, { LOG_DIR: 'log' })]);
  assert.equal(relative.code, 2);
  assert.equal(
    relative.stderr,
    "o365-backsync: LOG_DIR: must be an absolute path for setup (cron and systemd start the tool in another folder), got 'log'\n",
  );
  const unknown = await runSetup(w, ['anacron']);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /^o365-backsync: .*'anacron' is invalid.*cron, systemd, logrotate, kubernetes, alerts\.\n$/,
  );
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
    const written = await runSetup(w, ['logrotate', '--env-file', writeEnvFile(w, env), '--write', '--root', root]);
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

/** The [Service] directives of a printed unit, by name, in order. */
function serviceDirectives(unit: string): string[] {
  const service = unit.slice(
    unit.indexOf('[Service]\n') + '[Service]\n'.length,
    unit.indexOf('\n[', unit.indexOf('[Service]')),
  );
  return service
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.slice(0, line.indexOf('=')));
}

test('setup systemd runs the service as a user of its own, o365-backsync unless --user names another, never root', async () => {
  const w = workdir();
  const file = writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: '127.0.0.1' });
  const byDefault = await runSetup(w, ['systemd', '--env-file', file]);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  assert.match(byDefault.stdout, /^User=o365-backsync$/m);
  const told = await runSetup(w, ['systemd', '--env-file', file, '--user', 'svc-sync']);
  assert.match(told.stdout, /^User=svc-sync$/m);
  assert.equal((told.stdout.match(/^User=/gm) ?? []).length, 1);
  const bad = await runSetup(w, ['systemd', '--env-file', file, '--user', 'a b']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "o365-backsync: --user: must be a user name or uid, got 'a b'\n");
  const written = await runSetup(w, ['systemd', '--env-file', file, '--write', '--root', join(w.cwd, 'root')]);
  assert.match(written.stdout, /\nnext: .*useradd --system .*o365-backsync.*chgrp o365-backsync .*\.env/);
});

const noOfflineSecurity =
  missing('systemd-analyze') ||
  (!spawnSync('systemd-analyze', ['security', '--help'], { encoding: 'utf8' }).stdout.includes('--offline') &&
    'this systemd-analyze has no security --offline');

test(
  'the printed service scores at most 4.5 with systemd-analyze security --offline, without MemoryDenyWriteExecute or ProcSubset',
  { skip: noOfflineSecurity },
  async () => {
    const w = workdir();
    const printed = await runSetup(w, [
      'systemd',
      '--env-file',
      writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: 'oa' }),
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    const service = join(w.cwd, 'o365-backsync.service');
    writeFileSync(
      service,
      printed.stdout.slice(0, printed.stdout.indexOf('# /etc/systemd/system/o365-backsync.timer')),
    );
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=45', service], {
      encoding: 'utf8',
    });
    const score = /Overall exposure level for o365-backsync\.service: (\d+\.\d)/.exec(security.stdout)?.[1];
    assert.ok(score !== undefined, security.stdout + security.stderr);
    assert.ok(Number(score) <= 4.5, `exposure ${score}:\n${security.stdout}`);
    assert.equal(security.status, 0, security.stderr);
    // V8's JIT writes the code it runs; Node.js reads /proc/meminfo.
    assert.doesNotMatch(printed.stdout, /^(MemoryDenyWriteExecute|ProcSubset)=/m);
  },
);

/** The [Service] directives systemd 219 (RHEL 7) knows, of those a unit like this could use (systemd.exec(5), 219). */
const SYSTEMD_219 = new Set([
  'Type',
  'User',
  'ExecStart',
  'TimeoutStartSec',
  'TimeoutStopSec',
  'ReadWriteDirectories',
  'ProtectSystem',
  'ProtectHome',
  'UMask',
  'PrivateTmp',
  'NoNewPrivileges',
  'CapabilityBoundingSet',
  'PrivateDevices',
  'DevicePolicy',
  'RestrictAddressFamilies',
  'SystemCallArchitectures',
  'SystemCallErrorNumber',
]);

test('setup systemd --systemd-version 219 (RHEL 7) uses only directives and values that systemd knows', async () => {
  const w = workdir();
  const printed = await runSetup(w, [
    'systemd',
    '--env-file',
    writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: 'oa' }),
    '--systemd-version',
    '219',
  ]);
  assert.equal(printed.code, 0, printed.stderr);
  const unknown = serviceDirectives(printed.stdout).filter((d) => !SYSTEMD_219.has(d));
  assert.deepEqual(unknown, []);
  // 219 knows neither `infinity` for a timeout nor ProtectSystem=strict.
  assert.match(printed.stdout, /^TimeoutStartSec=0$/m);
  assert.match(printed.stdout, /^ProtectSystem=full$/m);
  assert.match(printed.stdout, /^# \/var\/lib\/o365-backsync must exist, owned by o365-backsync/m);
  assert.match(printed.stdout, /^User=o365-backsync$/m);
  const bad = await runSetup(w, ['systemd', '--systemd-version', 'seven']);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    "o365-backsync: --systemd-version: must be a systemd release number such as 219 or 252, got 'seven'\n",
  );
});

test('with LOG_DIR=-, setup systemd leaves the log to the journal, and cron and logrotate are refused', async () => {
  const w = workdir();
  const file = writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: 'oa', LOG_DIR: '-' });
  const systemd = await runSetup(w, ['systemd', '--env-file', file]);
  assert.equal(systemd.code, 0, systemd.stderr);
  assert.doesNotMatch(systemd.stdout, /^(LogsDirectory|ReadWritePaths)=/m);
  assert.match(systemd.stdout, /^StateDirectory=o365-backsync$/m);
  const cron = await runSetup(w, ['cron', '--env-file', file]);
  assert.equal(cron.code, 2);
  assert.equal(
    cron.stderr,
    "o365-backsync: LOG_DIR: is '-' (stdout), which cron would mail every minute: set it to a folder for cron\n",
  );
  const logrotate = await runSetup(w, ['logrotate', '--env-file', file]);
  assert.equal(logrotate.code, 2);
  assert.equal(logrotate.stderr, "o365-backsync: LOG_DIR: is '-' (stdout): there is no log file to rotate\n");
});

const asRootWithSetpriv =
  (process.getuid?.() !== 0 && 'needs root, to run setup as a uid with no passwd entry') || missing('setpriv');

test(
  'setup cron run as a uid with no passwd entry (a container, a bare chroot) names the uid',
  { skip: asRootWithSetpriv },
  async () => {
    const w = workdir();
    chmodSync(w.cwd, 0o755);
    const file = writeEnvFile(w, { OFFICE_APP_ID: '41', OA_HOST: 'oa' });
    chmodSync(file, 0o644);
    const uid = 4242;
    assert.equal(spawnSync('getent', ['passwd', String(uid)]).status, 2, `uid ${uid} has a passwd entry here`);
    const printed = await runCliThrough(
      ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'],
      ['setup', 'cron', '--env-file', file],
      {},
      w.cwd,
    );
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`^\\* \\* \\* \\* \\* ${uid} `, 'm'));
  },
);
