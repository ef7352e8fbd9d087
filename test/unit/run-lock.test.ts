import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireRunLock, foreignHolder, HOLDER_FILE, lockHolder, stuckHolder } from '../../src/runtime/run-lock';
import { scratchDir } from '../tmp';

const lockModule = join(__dirname, '../../src/runtime/run-lock.js');
const stateDir = () => scratchDir('obs-lock-');

/**
 * A separate process that loads the lock module, says it is ready, and tries the lock when told to go
 * (a line on its stdin), so that all contenders try at once however long each took to start. It says
 * whether it got the lock and holds it until its stdin ends.
 */
function contender(dir: string) {
  const child = spawn(process.execPath, [
    '-e',
    `const { acquireRunLock } = require(${JSON.stringify(lockModule)});
     process.stdout.write('ready\\n');
     process.stdin.once('data', () => {
       acquireRunLock(process.argv[1], new Date()).then((a) => {
         process.stdout.write(a.acquired ? 'acquired\\n' : 'held\\n');
         process.stdin.on('end', () => (a.acquired ? a.release() : undefined));
         process.stdin.resume();
       });
     });`,
    dir,
  ]);
  let out = '';
  const said = (line: string) =>
    new Promise<void>((resolve) => {
      const look = () => (out.split('\n').includes(line) ? resolve() : child.stdout.once('data', look));
      look();
    });
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, said, result: () => out.split('\n')[1], exited };
}

test('of many runs started in the same instant, exactly one gets the lock', async () => {
  const dir = stateDir();
  const contenders = Array.from({ length: 8 }, () => contender(dir));
  await Promise.all(contenders.map((c) => c.said('ready')));
  for (const c of contenders) c.child.stdin.write('go\n');
  await Promise.all(contenders.map((c) => Promise.race([c.said('acquired'), c.said('held')])));
  const results = contenders.map((c) => c.result());
  for (const c of contenders) c.child.stdin.end();
  await Promise.all(contenders.map((c) => c.exited));
  assert.equal(results.filter((r) => r === 'acquired').length, 1, results.join(','));
  assert.equal(results.filter((r) => r === 'held').length, 7);
});

test('a second attempt in the same process sees the holder pid and start time', async () => {
  const dir = stateDir();
  const startedAt = new Date('2026-11-27T06:00:00Z');
  const first = await acquireRunLock(dir, startedAt);
  assert.ok(first.acquired);
  const second = await acquireRunLock(dir, new Date());
  assert.deepEqual(second, { acquired: false, holder: { pid: process.pid, startedAt: startedAt.toISOString() } });
  assert.deepEqual(await lockHolder(dir), { pid: process.pid, startedAt: startedAt.toISOString() });
  await first.release();
  assert.equal(await lockHolder(dir), undefined);
  const third = await acquireRunLock(dir, new Date());
  assert.ok(third.acquired);
  await third.release();
});

test('a run that lost the lock by a moment waits for the holder to say who it is', async () => {
  const dir = stateDir();
  const first = await acquireRunLock(dir, new Date('2026-11-27T06:00:00Z'));
  assert.ok(first.acquired);
  try {
    // As if the holder had bound the lock and not yet written its file.
    const holderFile = join(dir, HOLDER_FILE);
    const written = readFileSync(holderFile, 'utf8');
    rmSync(holderFile);
    // It writes it 30 ms later. The loser looks 20 times, 5 ms apart at least, and Node fires timers in
    // the order they fall due, so the file is there before its last look however busy the machine is.
    const late = setTimeout(() => writeFileSync(holderFile, written), 30);
    try {
      assert.deepEqual(await acquireRunLock(dir, new Date()), {
        acquired: false,
        holder: { pid: process.pid, startedAt: '2026-11-27T06:00:00.000Z' },
      });
    } finally {
      clearTimeout(late);
    }
    // A file naming a process that is gone is a killed run's: not named as the holder.
    const gone = spawn(process.execPath, ['-e', '0']);
    const pid = gone.pid!;
    await new Promise((resolve) => gone.on('exit', resolve));
    writeFileSync(holderFile, JSON.stringify({ pid, startedAt: '2026-11-27T05:00:00.000Z' }));
    const unnamed = await acquireRunLock(dir, new Date());
    assert.ok(!unnamed.acquired && unnamed.holder === undefined);
    // The kernel still lists a pid for the lock: the flock(1) that took it for the holder.
    assert.equal(typeof unnamed.lockPid, 'number');
  } finally {
    await first.release();
  }
});

test('a lock whose holder was killed is free at once, whatever its holder file says', async () => {
  const dir = stateDir();
  const child = spawn(process.execPath, [
    '-e',
    `require(${JSON.stringify(lockModule)}).acquireRunLock(process.argv[1], new Date()).then(() => { process.stdout.write('ready'); setInterval(() => {}, 1000); });`,
    dir,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  assert.equal((await acquireRunLock(dir, new Date())).acquired, false);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // The dead holder's file is still there: it must not matter.
  assert.equal(JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8')).pid, child.pid);
  const after = await acquireRunLock(dir, new Date());
  assert.ok(after.acquired);
  await after.release();
});

test('a holder file left by a crashed run or a reboot does not block', async () => {
  const dir = stateDir();
  writeFileSync(join(dir, HOLDER_FILE), JSON.stringify({ pid: 1, startedAt: '2020-01-01T00:00:00.000Z' }));
  const attempt = await acquireRunLock(dir, new Date());
  assert.ok(attempt.acquired);
  await attempt.release();
});

test('different state folders have different locks', async () => {
  const a = await acquireRunLock(stateDir(), new Date());
  const b = await acquireRunLock(stateDir(), new Date());
  assert.ok(a.acquired && b.acquired);
  await a.release();
  await b.release();
});

test('a busy lock is reported once its run has gone on far longer than the last pass, or when no run holds it', () => {
  const holder = { pid: 4242, startedAt: '2026-11-27T06:00:00.000Z' };
  const at = (minutes: number) => Date.parse(holder.startedAt) + minutes * 60_000;
  // Three times the last pass, and at least a quarter of an hour.
  assert.equal(stuckHolder(holder, 10 * 60_000, at(30)), undefined);
  assert.match(
    stuckHolder(holder, 10 * 60_000, at(31))!,
    /^the run holding the lock \(pid 4242, since 2026-11-27T06:00:00.000Z\) has gone on for 31 min, over 3 x the last pass's 10 min/,
  );
  assert.equal(stuckHolder(holder, 1000, at(15)), undefined);
  assert.ok(stuckHolder(holder, 1000, at(16)));
  // With no pass ever finished, a day.
  assert.equal(stuckHolder(holder, undefined, at(24 * 60)), undefined);
  assert.match(stuckHolder(holder, undefined, at(24 * 60 + 1))!, /and no pass has finished yet/);
  assert.match(
    foreignHolder('/var/lib/o365-backsync', 99),
    /^the run lock \/var\/lib\/o365-backsync\/run\.lock is held by pid 99, which is not a run of this tool/,
  );
});
