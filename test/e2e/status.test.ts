import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Status } from '../../src/cli/status-command';
import { runCli, simulatorSetup, summaryOf, until, workdir } from './harness';

/** `status`: what the state files and the lock say, with no network call. */
const setup = simulatorSetup();

function statusOf(stdout: string): Status {
  return summaryOf({ code: 0, signal: null, stdout, stderr: '' }) as unknown as Status;
}

test('with no history and no OA settings at all: nothing to report, the next run starts the first pass', async () => {
  const w = workdir();
  const result = await runCli(['status', '--json'], w.env, w.cwd);
  assert.equal(result.code, 0, result.stderr);
  const s = statusOf(result.stdout);
  assert.deepEqual(
    {
      lastRun: s.lastRun,
      inProgress: s.inProgress,
      activeRun: s.activeRun,
      failed: s.failedTenants,
      interval: s.recommendedIntervalSeconds,
      next: s.next.reason,
    },
    { lastRun: null, inProgress: null, activeRun: null, failed: [], interval: null, next: 'first' },
  );
  assert.equal(existsSync(w.stateDir), false, 'status creates nothing');
  const human = await runCli(['status', '--state-dir', w.stateDir], {}, w.cwd);
  assert.match(
    human.stdout,
    /^last pass: {3}none finished yet\nin progress: none\nnext pass: {3}the next run starts the first pass\n/,
  );
});

test('after a pass: its numbers, its failed tenants with the controller words, the interval, when the next is due; no request', async () => {
  const { sim, w, env, run } = await setup({ instances: 2, tenantsPerInstance: 6 }, { SYNC_MIN_INTERVAL: '3600' });
  const bad = sim.readyTenants()[7]!;
  sim.setFault(bad.id, 'fail500');
  const pass = summaryOf(await run(['sync', '--json']));
  const requests = sim.stats.requests;
  const oaCalls = sim.stats.oaCalls.length;

  const result = await runCli(['status', '--json'], env, w.cwd);
  assert.equal(result.code, 0, result.stderr);
  const s = statusOf(result.stdout);
  assert.deepEqual(
    {
      startedAt: s.lastRun?.startedAt,
      durationMs: s.lastRun?.durationMs,
      synced: s.lastRun?.synced,
      failed: s.lastRun?.failed,
      skipped: s.lastRun?.skipped,
    },
    { startedAt: pass.startedAt, durationMs: s.lastRun?.durationMs, synced: 11, failed: 1, skipped: 0 },
  );
  assert.ok(s.lastRun!.durationMs > 0);
  assert.equal(s.lastSuccessAt, s.lastRun!.finishedAt);
  assert.deepEqual(s.failedTenants, [
    {
      instanceId: 1002,
      tenantId: bad.id,
      error: `APS controller answered 500 APS::Hosting::Exception: Office 365 rejected the request for tenant ${bad.id}`,
    },
  ]);
  assert.equal(s.recommendedIntervalSeconds, Math.round((s.lastRun!.durationMs * 1.5) / 1000));
  assert.deepEqual(s.next, {
    startsPass: false,
    at: new Date(Date.parse(pass.startedAt as string) + 3_600_000).toISOString(),
    reason: 'not-due',
    why: null,
  });
  assert.equal(s.logFile, join(w.logDir, 'o365-backsync.log'));
  assert.deepEqual(
    { requests: sim.stats.requests, oaCalls: sim.stats.oaCalls.length },
    { requests, oaCalls },
    'status made no network call',
  );

  const human = (await runCli(['status'], env, w.cwd)).stdout;
  assert.match(
    human,
    /^last pass: {3}started .* \(\d+s ago\), took \d+s: 11 synced, 1 failed, 0 skipped of 12 tenants across 2 instances\n/,
  );
  assert.match(human, new RegExp(`\n  instance 1002 tenant ${bad.id}: APS controller answered 500 `));
  assert.match(human, /\nnext pass: {3}due at .* \(in 59m\d\ds\); runs before then exit at once\n/);
});

test('during a pass: the run pid and the tenants done so far; after a SIGTERM the next run resumes it', async () => {
  const { w, env, start } = await setup(
    { instances: 1, tenantsPerInstance: 150, latencyMs: 40 },
    { SYNC_CONCURRENCY: '1' },
  );
  const pass = start(['sync']);
  const journal = join(w.stateDir, 'journal.ndjson');
  // The journal opens with a snapshot of the pass; a tenant done adds a line.
  await until(() => existsSync(journal) && readFileSync(journal, 'utf8').split('\n').filter(Boolean).length > 1);

  const during = statusOf((await runCli(['status', '--json'], env, w.cwd)).stdout);
  assert.equal(during.activeRun?.pid, pass.child.pid);
  assert.equal(during.inProgress?.pid, pass.child.pid);
  assert.ok(
    during.inProgress!.synced > 0 && during.inProgress!.synced < 150,
    `synced so far: ${during.inProgress!.synced}`,
  );
  assert.equal(during.next.reason, 'running');

  pass.child.kill('SIGTERM');
  assert.equal((await pass.done).code, 143);
  const header = JSON.parse(readFileSync(join(w.stateDir, 'pass.json'), 'utf8')) as { startedAt: string };
  const after = statusOf((await runCli(['status', '--json'], env, w.cwd)).stdout);
  assert.deepEqual(
    {
      activeRun: after.activeRun,
      pid: after.inProgress?.pid,
      startedAt: after.inProgress?.startedAt,
      next: after.next.reason,
    },
    { activeRun: null, pid: null, startedAt: header.startedAt, next: 'resume' },
  );
  assert.equal(after.lastRun, null);
});
