import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Simulator } from '../sim';
import { runCli, simulatorSetup, summaryOf, until } from './harness';

/** Cron-safety: one run at a time, pacing, resume after a kill, clean shutdown. */
const setup = simulatorSetup();

const succeeded = (sim: Simulator) => sim.stats.resyncSucceeded.size;

test('two runs started in the same instant: exactly one does the work, the other exits 0 naming the holder', async () => {
  const { sim, w, start } = await setup(
    { instances: 1, tenantsPerInstance: 80, latencyMs: 20 },
    { SYNC_CONCURRENCY: '2' },
  );
  // The controller holds every resync until the loser has gone, so the two runs overlap however fast or
  // slow each one starts.
  const release = sim.holdResyncs();
  const started = [start(['sync']), start(['sync'])];
  const runs = started.map((r, i) => r.done.then((result) => ({ ...result, pid: started[i]!.child.pid })));
  let loser;
  try {
    loser = await Promise.race(runs);
  } finally {
    release();
  }
  const [a, b] = await Promise.all(runs);
  assert.deepEqual([a.code, b.code], [0, 0], a.stderr + b.stderr);
  assert.equal(a.stdout + b.stdout + a.stderr + b.stderr, '');
  const log = w.log();
  assert.equal(log.filter((l) => l.msg === 'pass started').length, 1);
  const busy = log.filter((l) => String(l.msg).startsWith('another run is active'));
  assert.equal(busy.length, 1);
  assert.equal(busy[0]!.pid, loser.pid, 'the run that ended first is the one that found the lock taken');
  const worker = log.find((l) => l.msg === 'pass started')!;
  assert.match(
    String(busy[0]!.msg),
    new RegExp(`^another run is active \\(pid ${worker.pid}, started \\d{4}-\\d\\d-\\d\\dT`),
  );
  for (const t of sim.readyTenants()) assert.equal(sim.stats.resyncCalls.get(t.id), 1);
  assert.equal(sim.stats.tokensIssued, 1, 'the second run made no network call');
});

test('a tick before the pass is due exits 0 with no network call; --force and SYNC_MIN_INTERVAL=0 run anyway', async () => {
  const { sim, w, env, run } = await setup(
    { instances: 1, tenantsPerInstance: 60, latencyMs: 20 },
    { SYNC_CONCURRENCY: '1' },
  );
  assert.equal((await run(['sync'])).code, 0);
  // The pass is said to have taken 10 minutes, so the next tick is early however slowly it starts.
  const lastFile = join(w.stateDir, 'last-pass.json');
  const last = JSON.parse(readFileSync(lastFile, 'utf8')) as { startedAt: string; durationMs: number };
  assert.ok(last.durationMs > 0);
  last.durationMs = 600_000;
  writeFileSync(lastFile, JSON.stringify(last));
  const requests = sim.stats.requests;
  const oaCalls = sim.stats.oaCalls.length;

  const early = await run(['sync']);
  assert.deepEqual({ code: early.code, out: early.stdout + early.stderr }, { code: 0, out: '' });
  assert.equal(sim.stats.requests, requests);
  assert.equal(sim.stats.oaCalls.length, oaCalls);
  const notDue = w.log().at(-1)!;
  assert.equal(notDue.dueAt, new Date(Date.parse(last.startedAt) + Math.round(last.durationMs * 1.5)).toISOString());
  assert.match(String(notDue.msg), /^not due yet; next pass due at /);

  const forced = await run(['sync', '--json', '--force']);
  assert.equal(summaryOf(forced).synced, 60);
  const zero = await runCli(['sync', '--json'], { ...env, SYNC_MIN_INTERVAL: '0' }, w.cwd);
  assert.equal(summaryOf(zero).synced, 60);
  const fixed = await runCli(['sync', '--json'], { ...env, SYNC_MIN_INTERVAL: '3600' }, w.cwd);
  assert.deepEqual(
    { ran: summaryOf(fixed).ran, reason: summaryOf(fixed).reason },
    { ran: false, reason: 'not-due' },
    'an hour has not passed',
  );
});

test('a dry run neither waits for pacing nor counts as a pass', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 20, latencyMs: 5 }, { SYNC_MIN_INTERVAL: '3600' });
  assert.equal((await run(['sync'])).code, 0);
  const before = readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8');
  const dry = await run(['sync', '--json', '--dry-run']);
  assert.equal(summaryOf(dry).planned, 20);
  assert.equal(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8'), before);
});

test('a run killed with SIGKILL is resumed by the next run, which redoes at most what was in flight and the last journal flush', async () => {
  // 50 ms a tenant with 4 workers: 80 completions a second, so the 200 ms journal flush covers at most 16.
  const { sim, w, start, run } = await setup(
    { instances: 2, tenantsPerInstance: 80, latencyMs: 50 },
    { SYNC_CONCURRENCY: '4' },
  );
  // The controller answers 60 resyncs and holds the rest, so the kill lands midway however fast the run is.
  const release = sim.holdResyncs(60);
  const first = start();
  await until(() => succeeded(sim) >= 60);
  first.child.kill('SIGKILL');
  await first.done;
  release();
  const before = new Map(sim.stats.resyncCalls);
  assert.ok(existsSync(join(w.stateDir, 'pass.json')));

  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  const s = summaryOf(second);
  assert.ok(w.log().some((l) => l.msg === 'pass resumed'));
  for (const t of sim.readyTenants())
    assert.ok((sim.stats.resyncSucceeded.get(t.id) ?? 0) >= 1, `tenant ${t.id} never synced`);
  const redone = [...before.keys()].filter((id) => sim.stats.resyncCalls.get(id)! > before.get(id)!);
  assert.ok(redone.length <= 4 + 16 + 4, `${redone.length} tenants resynced twice`);
  assert.equal((s.alreadyDone as number) + (s.tenants as number), 160);
  assert.ok((s.alreadyDone as number) >= before.size - redone.length);
  assert.equal(existsSync(join(w.stateDir, 'pass.json')), false, 'the pass is finished');
  const last = JSON.parse(readFileSync(join(w.stateDir, 'last-pass.json'), 'utf8')) as { synced: number };
  assert.equal(last.synced, 160);
});

test('SIGTERM midway: in-flight tenants finish, state is saved, exit 143; the next run completes with no tenant resynced twice', async () => {
  const { sim, w, start, run } = await setup(
    { instances: 2, tenantsPerInstance: 50, latencyMs: 40 },
    { SYNC_CONCURRENCY: '3' },
  );
  const release = sim.holdResyncs(30);
  const first = start();
  await until(() => succeeded(sim) >= 30);
  first.child.kill('SIGTERM');
  // The held calls are in flight: once the run has heard the signal, they are answered and it finishes them.
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  release();
  const stopped = await first.done;
  assert.equal(stopped.code, 143, stopped.stderr);
  const s1 = summaryOf(stopped);
  assert.equal(s1.interruptedBy, 'signal');
  assert.equal(
    sim.stats.resyncSucceeded.size,
    s1.synced,
    'every tenant started before the signal finished and was counted',
  );
  assert.match(stopped.stderr, /stopped by a signal after \d+ tenants; the next run resumes the pass/);
  assert.ok(existsSync(join(w.stateDir, 'pass.json')));
  assert.ok(w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));

  // Meanwhile a customer adds a tenant and one not yet done is removed.
  const added = sim.addTenant(1002);
  const notYetDone = sim.readyTenants().find((t) => !sim.stats.resyncCalls.has(t.id) && t.id !== added.id)!;
  sim.removeTenant(notYetDone.id);

  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  const s2 = summaryOf(second);
  for (const [id, calls] of sim.stats.resyncCalls) assert.equal(calls, 1, `tenant ${id} resynced ${calls} times`);
  assert.equal(sim.stats.resyncCalls.get(added.id), 1, 'the new tenant was picked up');
  assert.equal(sim.stats.resyncCalls.has(notYetDone.id), false, 'the removed tenant was not called');
  assert.equal(s2.alreadyDone, s1.synced);
  assert.equal((s1.synced as number) + (s2.synced as number), 100);
});

test('a damaged state file gives a warning and a fresh pass, not a crash', async () => {
  const { sim, w, run } = await setup({ instances: 1, tenantsPerInstance: 12 });
  mkdirSync(w.stateDir, { recursive: true });
  writeFileSync(join(w.stateDir, 'pass.json'), '{"version":1,"startedAt":"2026-11-2');
  writeFileSync(join(w.stateDir, 'journal.ndjson'), '\u0000\u0001garbage');
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(summaryOf(result).synced, 12);
  assert.equal(summaryOf(result).alreadyDone, 0);
  assert.ok(w.log().some((l) => l.level === 40 && /damaged; starting a fresh pass/.test(String(l.msg))));
  assert.equal(sim.stats.resyncSucceeded.size, 12);
});

test('a second SIGTERM exits at once; the journal is consistent and the next run finishes the pass', async () => {
  const { sim, w, start, run } = await setup(
    { instances: 1, tenantsPerInstance: 90, latencyMs: 60 },
    { SYNC_CONCURRENCY: '3' },
  );
  const release = sim.holdResyncs(20);
  const first = start();
  await until(() => succeeded(sim) >= 20);
  first.child.kill('SIGTERM');
  await until(() => w.log().some((l) => String(l.msg).startsWith('SIGTERM received')));
  first.child.kill('SIGTERM');
  const stopped = await first.done;
  release();
  assert.equal(stopped.code, 143);
  assert.equal(stopped.stdout, '', 'no summary: it did not wait');
  assert.ok(w.log().some((l) => String(l.msg).startsWith('second SIGTERM')));
  const before = new Map(sim.stats.resyncCalls);

  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  for (const t of sim.readyTenants()) assert.ok((sim.stats.resyncSucceeded.get(t.id) ?? 0) >= 1);
  const redone = [...before.keys()].filter((id) => sim.stats.resyncCalls.get(id)! > before.get(id)!);
  assert.ok(redone.length <= 3, `only the 3 requests in flight may be redone, not ${redone.length}`);
});
