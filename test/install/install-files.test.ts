import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/runtime/config';
import { LOG_FILE_NAME } from '../../src/runtime/logger';
import { CLI, simulatorSetup, until } from '../e2e/harness';
import { scratchDir } from '../tmp';
import { missing } from '../tools';

/** The systemd units and the logrotate file the README hands to operators, checked with the real tools. */
const HERE = resolve(__dirname, '../../../test/install');
const file = (name: string): string => readFileSync(join(HERE, name), 'utf8');
const defaults = loadConfig({ scope: 'local', env: {}, cwd: scratchDir('obs-install-') });
const setup = simulatorSetup();

test('the service and timer pass systemd-analyze verify, and the service writes where the defaults point', { skip: missing('systemd-analyze') }, () => {
  const dir = scratchDir('obs-units-');
  // verify insists that ExecStart exists: point it at this checkout's CLI.
  writeFileSync(join(dir, 'o365-backsync.service'), file('o365-backsync.service').replace('/usr/local/bin/o365-backsync', CLI));
  writeFileSync(join(dir, 'o365-backsync.timer'), file('o365-backsync.timer'));
  const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'o365-backsync.service'), join(dir, 'o365-backsync.timer')], { encoding: 'utf8' });
  assert.deepEqual({ status: verify.status, stderr: verify.stderr }, { status: 0, stderr: '' });
  const service = file('o365-backsync.service');
  assert.equal(`/var/lib/${/^StateDirectory=(.+)$/m.exec(service)?.[1]}`, defaults.stateDir);
  assert.equal(`/var/log/${/^LogsDirectory=(.+)$/m.exec(service)?.[1]}`, defaults.logDir);
});

test('logrotate renames the log; the pass running keeps writing to it, and the next run starts a fresh one', { skip: missing('logrotate') }, async () => {
  const config = file('o365-backsync.logrotate');
  assert.match(config, new RegExp(`^${join(defaults.logDir, LOG_FILE_NAME)} \\{$`, 'm'));
  const { w, start, run } = await setup({ instances: 1, tenantsPerInstance: 40, latencyMs: 20 }, { SYNC_CONCURRENCY: '1' });
  const log = join(w.logDir, LOG_FILE_NAME);
  const rotate = join(w.cwd, 'logrotate.conf');
  writeFileSync(rotate, config.replace(join(defaults.logDir, LOG_FILE_NAME), log));

  const pass = start(['sync']);
  await until(() => w.log().some((l) => l.msg === 'instance started'));
  const logrotate = spawnSync('logrotate', ['--state', join(w.cwd, 'logrotate.state'), '--force', rotate], { encoding: 'utf8' });
  assert.deepEqual({ status: logrotate.status, stderr: logrotate.stderr }, { status: 0, stderr: '' });
  assert.equal(existsSync(log), false);
  assert.equal((await pass.done).code, 0);
  assert.match(readFileSync(`${log}.1`, 'utf8'), /"msg":"pass finished"/, 'the rest of the pass went to the renamed file');

  assert.equal((await run(['sync'])).code, 0);
  assert.match(readFileSync(log, 'utf8'), /"msg":"not due yet; next pass due at /);
  assert.equal(statSync(log).mode & 0o777, 0o640 & ~process.umask());
});
