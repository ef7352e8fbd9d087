import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { simulatorSetup, summaryOf, until } from './harness';

/** METRICS_FILE / --metrics-file: Prometheus textfile metrics, rewritten by every run that takes the lock. */
const setup = simulatorSetup();

/** The samples of a metrics file, by name and labels. */
function samples(path: string): Record<string, number> {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  return Object.fromEntries(
    lines.map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
  );
}

test('after a pass: success time, duration, tenants by outcome, token renewals, nothing in progress', async () => {
  const { sim, w, run } = await setup({ instances: 2, tenantsPerInstance: 10 }, { TOKEN_REFRESH_EVERY: '4' });
  sim.setFault(sim.readyTenants()[3]!.id, 'fail500');
  sim.setFault(sim.readyTenants()[4]!.id, 'notFound');
  mkdirSync(join(w.cwd, 'textfile'));
  const path = join(w.cwd, 'textfile', 'o365-backsync.prom');
  // A killed run's temporary rewrite is cleared; another exporter's file in the same folder is not ours.
  writeFileSync(`${path}.0a1b2c3d4e5f6a7b.tmp`, '');
  writeFileSync(join(w.cwd, 'textfile', 'node.prom.0a1b2c3d4e5f6a7b.tmp'), '');
  const s = summaryOf(await run(['sync', '--json', '--metrics-file', path]));
  assert.deepEqual(readdirSync(join(w.cwd, 'textfile')).sort(), [
    'node.prom.0a1b2c3d4e5f6a7b.tmp',
    'o365-backsync.prom',
  ]);
  const last = JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as {
    finishedAt: string;
    durationMs: number;
  };
  const ending = JSON.parse(readFileSync(join(w.stateDir, 'last-run.json'), 'utf8')) as { finishedAt: string };
  assert.deepEqual(samples(path), {
    o365_backsync_last_run_exit_code: 1,
    o365_backsync_last_run_timestamp_seconds: Date.parse(ending.finishedAt) / 1000,
    o365_backsync_last_success_timestamp_seconds: Date.parse(last.finishedAt) / 1000,
    o365_backsync_last_pass_end_timestamp_seconds: Date.parse(last.finishedAt) / 1000,
    o365_backsync_last_pass_duration_seconds: last.durationMs / 1000,
    o365_backsync_last_pass_complete: 1,
    'o365_backsync_last_pass_tenants{outcome="synced"}': 18,
    'o365_backsync_last_pass_tenants{outcome="failed"}': 1,
    'o365_backsync_last_pass_tenants{outcome="skipped"}': 1,
    'o365_backsync_last_pass_tenants{outcome="busy"}': 0,
    o365_backsync_last_pass_last_sync_failed: 0,
    o365_backsync_last_pass_invalid_items: 0,
    o365_backsync_last_pass_token_renewals: s.tokenRefreshes,
    o365_backsync_pass_in_progress: 0,
  });
  assert.match(
    readFileSync(path, 'utf8'),
    /^# HELP o365_backsync_last_run_exit_code .+\n# TYPE o365_backsync_last_run_exit_code gauge\n/,
  );
  assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
});

test('a pass stopped midway is in progress until the run that resumes it finishes it', async () => {
  const { sim, w, start, run } = await setup(
    { instances: 1, tenantsPerInstance: 100, latencyMs: 20 },
    { SYNC_CONCURRENCY: '1' },
  );
  const path = join(w.cwd, 'o365-backsync.prom');
  const release = sim.holdResyncs(5);
  const first = start(['sync', '--metrics-file', path]);
  await until(() => existsSync(path));
  assert.equal(samples(path).o365_backsync_pass_in_progress, 1, 'written when the pass starts');
  await until(() => sim.stats.resyncSucceeded.size >= 5);
  first.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  await first.done;
  const stopped = samples(path);
  assert.equal(stopped.o365_backsync_pass_in_progress, 1);
  assert.equal(stopped.o365_backsync_last_success_timestamp_seconds, undefined, 'no pass has finished yet');
  const header = JSON.parse(readFileSync(join(w.stateDir, 'pass.json'), 'utf8')) as { startedAt: string };
  assert.equal(stopped.o365_backsync_pass_in_progress_start_timestamp_seconds, Date.parse(header.startedAt) / 1000);

  assert.equal((await run(['sync', '--metrics-file', path])).code, 0);
  const done = samples(path);
  assert.equal(done.o365_backsync_pass_in_progress, 0);
  assert.equal(done['o365_backsync_last_pass_tenants{outcome="synced"}'], 100);
});

test('a metrics file that cannot be written ends the run with exit 4 and one line naming it', async () => {
  const { w, run } = await setup(
    { instances: 1, tenantsPerInstance: 3 },
    { METRICS_FILE: '/nonexistent/folder/o365-backsync.prom' },
  );
  const result = await run(['sync']);
  assert.equal(result.code, 4);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^o365-backsync: cannot write \/nonexistent\/folder\/o365-backsync\.prom: ENOENT\n$/);
  assert.ok(w.log().some((l) => l.msg === 'pass failed' && l.code === 'OBS_ERR_OWN_FILE'));
});

test('a failed run still writes how it ended: its exit code and when, until the next run ends otherwise', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { RETRIES: '0' });
  const path = join(w.cwd, 'o365-backsync.prom');
  sim.setOaFault('fault');
  assert.equal((await run(['sync', '--metrics-file', path])).code, 3);
  const ending = JSON.parse(readFileSync(join(w.stateDir, 'last-run.json'), 'utf8')) as { finishedAt: string };
  const failed = samples(path);
  assert.deepEqual(
    [failed.o365_backsync_last_run_exit_code, failed.o365_backsync_last_run_timestamp_seconds],
    [3, Date.parse(ending.finishedAt) / 1000],
  );
  assert.equal(failed.o365_backsync_last_success_timestamp_seconds, undefined, 'no pass has finished');

  sim.setOaFault(undefined);
  assert.equal((await run(['sync', '--metrics-file', path])).code, 0);
  assert.equal(samples(path).o365_backsync_last_run_exit_code, 0);
});
