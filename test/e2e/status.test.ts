import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Status } from '../../src/cli/status-command';
import { missing } from '../tools';
import { runCli, runCliAs, simulatorSetup, summaryOf, until, workdir } from './harness';

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
  assert.deepEqual([s.lastEnding, s.exitCode], [null, null]);
  assert.equal(existsSync(w.stateDir), false, 'status creates nothing');
  const human = await runCli(['status', '--state-dir', w.stateDir], {}, w.cwd);
  assert.match(
    human.stdout,
    /^last run: {4}none ended yet\nlast pass: {3}none finished yet\nin progress: none\nnext pass: {3}the next run starts the first pass\n/,
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

  const before = Date.now();
  const human = (await runCli(['status'], env, w.cwd)).stdout;
  const after = Date.now();
  const shown =
    /^last run: {4}ended \S+ \(\S+ ago\), exit 1: 1 of 12 tenants failed; details in \S+\nlast pass: {3}started (\S+) \((\S+) ago\), took \S+: 11 synced, 1 failed, 0 skipped of 12 tenants across 2 instances\n/.exec(
      human,
    );
  assert.ok(shown, human);
  assert.equal(shown[1], pass.startedAt);
  assertShownBetween(
    shown[2]!,
    before - Date.parse(pass.startedAt as string),
    after - Date.parse(pass.startedAt as string),
  );
  assert.match(human, new RegExp(`\n  instance 1002 tenant ${bad.id}: APS controller answered 500 `));
  const next = /\nnext pass: {3}due at (\S+) \(in (\S+)\); runs before then exit at once\n/.exec(human);
  assert.ok(next, human);
  assert.equal(next[1], s.next.at);
  // However long the status run took, the time shown lies between what was left when it started and when
  // it ended, cut to the second: a pass due in 59m59.6s is never shown as "in 1h00m".
  assertShownBetween(next[2]!, Date.parse(next[1]!) - after, Date.parse(next[1]!) - before);
});

test('after runs that exited 3: status tells when the last one ended, its exit code and its one-line reason', async () => {
  const { sim, w, env, run } = await setup(
    { instances: 1, tenantsPerInstance: 3 },
    { RETRIES: '0', REQUEST_TIMEOUT_MS: '200' },
  );
  sim.setOaFault('hang');
  assert.equal((await run(['sync'])).code, 3);
  const last = await run(['sync']);
  assert.equal(last.code, 3);
  const reason = last.stderr.replace(/^o365-backsync: /, '').trimEnd();
  assert.match(reason, /^OA Public API at \S+: no answer within 200 ms; fix: check OA_HOST/);

  const s = statusOf((await runCli(['status', '--json'], env, w.cwd)).stdout);
  assert.equal(s.exitCode, 3);
  assert.deepEqual({ exitCode: s.lastEnding?.exitCode, reason: s.lastEnding?.reason }, { exitCode: 3, reason });
  assert.ok(Date.parse(s.lastEnding!.finishedAt) >= Date.parse(s.lastEnding!.startedAt));
  assert.equal(s.lastRun, null, 'no pass has finished');
  const human = (await runCli(['status'], env, w.cwd)).stdout;
  assert.ok(
    human.startsWith(`last run:    ended ${s.lastEnding!.finishedAt} (`) &&
      human.includes(` ago), exit 3: ${reason}\nlast pass:   none finished yet\n`),
    human,
  );
});

test(
  'status as a user who cannot reach STATE_DIR: one line naming it, exit 2, never "none finished yet"',
  { skip: process.getuid?.() !== 0 ? 'needs root, to run status as another user' : missing('setpriv') },
  async () => {
    const { w, env, run } = await setup({ instances: 1, tenantsPerInstance: 2 });
    assert.equal((await run(['sync'])).code, 0);
    // The test's folder is root's and 0700: nobody (uid 65534) cannot reach the STATE_DIR inside it.
    for (const args of [['status'], ['status', '--json']]) {
      const result = await runCliAs(65534, args, env, '/');
      assert.deepEqual(
        { code: result.code, stdout: result.stdout, stderr: result.stderr },
        {
          code: 2,
          stdout: '',
          stderr: `o365-backsync: STATE_DIR: cannot read ${w.stateDir}: EACCES; run status as the user that runs sync\n`,
        },
      );
    }
  },
);

/** A duration the CLI printed (7s, 3m12s, 2h05m) is one `duration()` gives for a time in [lowMs, highMs]. */
function assertShownBetween(shown: string, lowMs: number, highMs: number): void {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(shown);
  assert.ok(m, `not a duration: ${shown}`);
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  const unit = m[1] !== undefined ? 60 : 1;
  assert.ok(
    seconds <= Math.floor(highMs / 1000) && seconds + unit > Math.floor(lowMs / 1000) - unit,
    `${shown} is not a time between ${lowMs} and ${highMs} ms cut to the unit shown`,
  );
}

test('during a pass: the run pid and the tenants done so far; after a SIGTERM the next run resumes it', async () => {
  const { sim, w, env, start } = await setup(
    { instances: 1, tenantsPerInstance: 150, latencyMs: 40 },
    { SYNC_CONCURRENCY: '1' },
  );
  // The controller answers 5 resyncs and holds the rest until the run has been looked at and stopped.
  const release = sim.holdResyncs(5);
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
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
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
