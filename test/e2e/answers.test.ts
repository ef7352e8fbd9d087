import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missing } from '../tools';
import { runCli, runCliOnTerminal, simulatorSetup, startCli, summaryOf, until } from './harness';

/**
 * Every run answers where someone looks: --json always prints one object, a terminal gets one line
 * saying why no pass ran, and cron (neither) gets nothing to mail.
 */
const setup = simulatorSetup();

test('--json: a pass says ran: true; a run with no pass due says not-due and when one is; cron hears nothing', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { SYNC_MIN_INTERVAL: '3600' });
  const pass = summaryOf(await run(['sync', '--json']));
  assert.deepEqual([pass.ran, pass.synced], [true, 3]);

  const early = await run(['sync', '--json']);
  assert.equal(early.code, 0);
  assert.deepEqual(summaryOf(early), {
    ran: false,
    reason: 'not-due',
    dueAt: new Date(Date.parse(pass.startedAt as string) + 3_600_000).toISOString(),
    exitCode: 0,
  });
  assert.equal(early.stderr, '');

  const cron = await run(['sync']);
  assert.deepEqual({ code: cron.code, out: cron.stdout + cron.stderr }, { code: 0, out: '' });
  assert.equal(w.log().at(-1)?.msg, `not due yet; next pass due at ${summaryOf(early).dueAt as string}`);
  const status = JSON.parse((await run(['status', '--json'])).stdout) as { lastEnding: Record<string, unknown> };
  assert.deepEqual(
    { exitCode: status.lastEnding.exitCode, reason: status.lastEnding.reason },
    { exitCode: 0, reason: `no pass due until ${summaryOf(early).dueAt as string}` },
  );
});

test('--json: a run that finds another holding the lock says locked, with the holder pid and since when; cron hears nothing', async () => {
  const { sim, w, env, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { REQUEST_TIMEOUT_MS: '600000' });
  // OA never answers the holder, so it holds the lock until it is stopped.
  sim.setOaFault('hang');
  const holder = startCli(['sync', '--force'], env, w.cwd);
  await until(() => sim.stats.oaCalls.length > 0 && existsSync(join(w.stateDir, 'lock.json')), 60_000);
  const since = (JSON.parse(readFileSync(join(w.stateDir, 'lock.json'), 'utf8')) as { startedAt: string }).startedAt;

  const locked = await run(['sync', '--json', '--force']);
  assert.equal(locked.code, 0);
  assert.deepEqual(summaryOf(locked), { ran: false, reason: 'locked', pid: holder.child.pid, since, exitCode: 0 });
  const cron = await run(['sync', '--force']);
  assert.deepEqual({ code: cron.code, out: cron.stdout + cron.stderr }, { code: 0, out: '' });

  if (!missing('script')) {
    const screen = (await runCliOnTerminal(['sync', '--force'], env, w.cwd)).stdout;
    assert.equal(
      screen,
      `o365-backsync: another run is active (pid ${holder.child.pid}, since ${since}); this one exits\r\n`,
    );
  }
  holder.child.kill('SIGTERM');
  await holder.done;
});

test('on a terminal, a run with no pass due says so in one line on stderr', { skip: missing('script') }, async () => {
  const { env, w, run } = await setup({ instances: 1, tenantsPerInstance: 3 }, { SYNC_MIN_INTERVAL: '3600' });
  const pass = summaryOf(await run(['sync', '--json']));
  const dueAt = new Date(Date.parse(pass.startedAt as string) + 3_600_000).toISOString();
  const result = await runCliOnTerminal(['sync'], env, w.cwd);
  assert.equal(result.code, 0);
  assert.match(
    result.stdout,
    new RegExp(
      `^o365-backsync: no pass due until ${dueAt.replace(/\./g, '\\.')} \\(in \\S+\\); --force starts one now\\r\\n$`,
    ),
  );
  // The same run with --json on a terminal: the object only.
  const json = await runCliOnTerminal(['sync', '--json'], env, w.cwd);
  assert.match(json.stdout, /^\{"ran":false,"reason":"not-due",[^\n]*\}\r\n$/);
  assert.equal((await runCli(['sync'], env, w.cwd)).stderr, '', 'without a terminal: nothing');
});
