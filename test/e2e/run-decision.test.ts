import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Status } from '../../src/cli/status-command';
import type { SimOptions } from '../sim';
import { runCli, simulatorSetup, summaryOf, until, type SimSetup } from './harness';

/**
 * What `status` says the next run will do is what `sync` then does, for each state a run can find:
 * the real CLI, status first, then sync, on the same state folder.
 */
const setup = simulatorSetup();
const OTHER_TYPE = 'http://www.parallels.com/Office365/Tenant/3.0';

async function statusOf(env: Record<string, string>, cwd: string): Promise<Status> {
  const result = await runCli(['status', '--json'], env, cwd);
  assert.equal(result.code, 0, result.stderr);
  return summaryOf(result) as unknown as Status;
}

/** A full pass stopped by SIGTERM after some tenants: pass.json and a journal are left for the next run. */
async function unfinishedPass(): Promise<SimSetup> {
  const first = await setup({ instances: 1, tenantsPerInstance: 150, latencyMs: 40 }, { SYNC_CONCURRENCY: '1' });
  const release = first.sim.holdResyncs(2);
  const pass = first.start(['sync']);
  const journal = join(first.w.stateDir, 'journal.ndjson');
  // The journal opens with a snapshot of the pass; a tenant done adds a line.
  await until(() => existsSync(journal) && readFileSync(journal, 'utf8').split('\n').filter(Boolean).length > 1);
  pass.child.kill('SIGTERM');
  await until(() => first.w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  assert.equal((await pass.done).code, 143);
  return first;
}

/** OA and a controller that answer for `options`, with the first run's state and log folders. */
function laterWith(first: SimSetup, options: SimOptions, env: Record<string, string> = {}): Promise<SimSetup> {
  return setup(options, { LOG_DIR: first.w.logDir, STATE_DIR: first.w.stateDir, ...env });
}

function passHeader(first: SimSetup): { appId: number; tenantType?: string; startedAt: string; runs: number } {
  return JSON.parse(readFileSync(join(first.w.stateDir, 'pass.json'), 'utf8'));
}

test('OFFICE_APP_ID changed while a pass is unfinished: status says the next run discards it, and sync does', async () => {
  const first = await unfinishedPass();
  const interrupted = passHeader(first);
  assert.deepEqual(
    { appId: interrupted.appId, tenantType: interrupted.tenantType },
    { appId: 41, tenantType: 'found in the types library' },
    'APS_TENANT_TYPE unset: the types are found in the types library, again by each run',
  );
  assert.equal(
    (await statusOf(first.env, first.w.cwd)).next.reason,
    'resume',
    'with the same settings it would resume',
  );

  const later = await laterWith(first, { appId: 42, instances: 1, tenantsPerInstance: 5 });
  const announced = await statusOf(later.env, later.w.cwd);
  assert.deepEqual(
    { ...announced.next, at: typeof announced.next.at },
    {
      startsPass: true,
      at: 'string',
      reason: 'first',
      why: 'the unfinished pass was for application 41, not 42 (OFFICE_APP_ID): the next run discards it',
    },
  );
  const human = (await runCli(['status'], later.env, later.w.cwd)).stdout;
  assert.match(human, /\nin progress: pass started .*; no run is working on it now\n/, 'not "the next run resumes it"');
  assert.match(
    human,
    /\nnext pass: {3}the next run starts the first pass; the unfinished pass was for application 41, not 42 \(OFFICE_APP_ID\): the next run discards it\n/,
  );
  const { OFFICE_APP_ID: _unset, ...withoutAppId } = later.env;
  const unsure = await statusOf(withoutAppId, later.w.cwd);
  assert.deepEqual(unsure.next, {
    startsPass: null,
    at: null,
    reason: 'unknown',
    why: 'the unfinished pass is resumed only if OFFICE_APP_ID is still 41, and it is not set here (or not valid)',
  });

  const result = await later.run();
  assert.equal(result.code, 0, result.stderr);
  const summary = summaryOf(result);
  assert.deepEqual(
    { synced: summary.synced, alreadyDone: summary.alreadyDone },
    { synced: 5, alreadyDone: 0 },
    'a fresh pass over the new application',
  );
  const log = first.w.log();
  assert.ok(
    log.some(
      (l) =>
        l.level === 40 &&
        /^unfinished pass in .*pass\.json was for application 41, not 42 \(OFFICE_APP_ID\); starting a fresh pass$/.test(
          String(l.msg),
        ),
    ),
  );
  assert.deepEqual(
    log.filter((l) => l.appId === 42 && String(l.msg).startsWith('pass ')).map((l) => [l.msg, l.resumed]),
    [['pass started', false]],
  );
  const lastPass = JSON.parse(readFileSync(join(first.w.stateDir, 'last-pass.json'), 'utf8')) as { startedAt: string };
  assert.notEqual(lastPass.startedAt, interrupted.startedAt);
});

test('APS_TENANT_TYPE changed while a pass is unfinished: status says the next run discards it, and sync does', async () => {
  const first = await unfinishedPass();
  const later = await laterWith(
    first,
    { instances: 1, tenantsPerInstance: 4, tenantType: OTHER_TYPE },
    { APS_TENANT_TYPE: OTHER_TYPE },
  );
  const announced = await statusOf(later.env, later.w.cwd);
  assert.equal(announced.next.reason, 'first');
  assert.equal(
    announced.next.why,
    `the unfinished pass was for the tenant types found in the types library, not ${OTHER_TYPE} (APS_TENANT_TYPE): the next run discards it`,
  );

  const summary = summaryOf(await later.run());
  assert.deepEqual(
    { synced: summary.synced, alreadyDone: summary.alreadyDone, exitCode: summary.exitCode },
    { synced: 4, alreadyDone: 0, exitCode: 0 },
  );
  assert.ok(
    first.w
      .log()
      .some(
        (l) =>
          l.level === 40 &&
          /was for the tenant types found in the types library, not .*Tenant\/3\.0 \(APS_TENANT_TYPE\); starting a fresh pass$/.test(
            String(l.msg),
          ),
      ),
  );
});

test('the same settings: status says the next run resumes, and sync resumes where the first run stopped', async () => {
  const first = await unfinishedPass();
  // After the journal's opening snapshot, a line per tenant done.
  const done = readFileSync(join(first.w.stateDir, 'journal.ndjson'), 'utf8').split('\n').filter(Boolean).length - 1;
  const { next } = await statusOf(first.env, first.w.cwd);
  assert.deepEqual({ ...next, at: typeof next.at }, { startsPass: true, at: 'string', reason: 'resume', why: null });
  const summary = summaryOf(await first.run(['sync', '--json'], { SYNC_CONCURRENCY: '8' }));
  assert.deepEqual(
    { alreadyDone: summary.alreadyDone, total: (summary.alreadyDone as number) + (summary.synced as number) },
    { alreadyDone: done, total: 150 },
  );
  assert.ok(first.w.log().some((l) => l.msg === 'pass resumed'));
});

test('a damaged pass file: status says the next run discards it; sync warns and starts a fresh pass', async () => {
  const { w, env, run } = await setup({ instances: 1, tenantsPerInstance: 3 });
  mkdirSync(w.stateDir, { recursive: true });
  writeFileSync(join(w.stateDir, 'pass.json'), '{"version":1,"startedAt":"2026-11-2');
  const announced = await statusOf(env, w.cwd);
  assert.deepEqual(
    [announced.next.reason, announced.next.why, announced.inProgress],
    ['first', 'the unfinished pass is damaged: the next run discards it', null],
  );
  const summary = summaryOf(await run());
  assert.deepEqual([summary.synced, summary.alreadyDone], [3, 0]);
  assert.ok(
    w
      .log()
      .some(
        (l) =>
          l.level === 40 && /^unfinished pass in .*pass\.json is damaged; starting a fresh pass$/.test(String(l.msg)),
      ),
  );
});

test('not due: status names the time, and sync exits at once naming the same time', async () => {
  const { w, env, run, sim } = await setup({ instances: 1, tenantsPerInstance: 2 }, { SYNC_MIN_INTERVAL: '3600' });
  assert.equal((await run()).code, 0);
  const announced = await statusOf(env, w.cwd);
  assert.equal(announced.next.reason, 'not-due');
  const requests = sim.stats.requests;
  const tick = await run(['sync']);
  assert.equal(tick.code, 0, tick.stderr);
  assert.equal(w.log().at(-1)?.msg, `not due yet; next pass due at ${announced.next.at}`);
  assert.equal(sim.stats.requests, requests, 'no network call');
});

test('a last pass that started in the future (a clock set back): status says due now and why, sync runs the pass and warns', async () => {
  const { sim, w, env, run } = await setup({ instances: 1, tenantsPerInstance: 4 });
  assert.equal((await run()).code, 0);
  const lastPassFile = join(w.stateDir, 'last-pass.json');
  const future = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
  writeFileSync(lastPassFile, JSON.stringify({ ...JSON.parse(readFileSync(lastPassFile, 'utf8')), startedAt: future }));
  const announced = await statusOf(env, w.cwd);
  assert.deepEqual([announced.next.startsPass, announced.next.reason], [true, 'due']);
  assert.match(
    announced.next.why ?? '',
    new RegExp(
      `^the last pass started at ${future}, after now \\(.*\\): the clock was set back, or last-pass\\.json is wrong; the next pass is due now$`,
    ),
  );
  assert.equal(announced.warnings.filter((m) => m.startsWith(`the last pass started at ${future}`)).length, 1);

  const again = await run();
  assert.equal(again.code, 0, again.stderr);
  assert.equal(summaryOf(again).synced, 4, 'due now: the pass ran');
  assert.equal(sim.stats.resyncSucceeded.get(sim.readyTenants()[0]!.id), 2);
  assert.equal(
    w.log().filter((l) => l.level === 40 && String(l.msg).startsWith(`the last pass started at ${future}`)).length,
    1,
  );
});
