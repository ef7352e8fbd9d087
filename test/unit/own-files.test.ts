import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scratchDir } from '../tmp';
import { writeFileAtomic } from '../../src/runtime/atomic-file';
import { LogFile } from '../../src/runtime/log-file';
import { openRunLog } from '../../src/runtime/logger';
import { openForAppend, removeStaleTemps } from '../../src/runtime/own-files';
import { acquireRunLock } from '../../src/runtime/run-lock';
import { SecretScrubber } from '../../src/runtime/secrets';
import { ConfigError } from '../../src/errors';

const scratch = (): string => scratchDir('obs-own-');

/** A file someone wants a root run to overwrite, and a symlink to it planted at `at`. */
function plantLink(dir: string, at: string): string {
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, at);
  return victim;
}

test('appending never follows a symlink: ELOOP, and the target is untouched', () => {
  const dir = scratch();
  const victim = plantLink(dir, join(dir, 'journal.ndjson'));
  assert.throws(() => openForAppend(join(dir, 'journal.ndjson'), 0o600), { code: 'ELOOP' });
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('an atomic write replaces a planted symlink instead of writing through it', () => {
  const dir = scratch();
  const path = join(dir, 'last-pass.json');
  const victim = plantLink(dir, path);
  writeFileAtomic(path, '{"ok":true}');
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(lstatSync(path).isSymbolicLink(), false);
  assert.equal(readFileSync(path, 'utf8'), '{"ok":true}');
  assert.deepEqual(readdirSync(dir).sort(), ['last-pass.json', 'victim']);
});

test('the log file is never opened through a symlink: a one-line LOG_DIR error, the target untouched', () => {
  const dir = scratch();
  const victim = plantLink(dir, join(dir, 'o365-backsync.log'));
  assert.throws(
    () => openRunLog(dir, new SecretScrubber()),
    (e: unknown) => e instanceof ConfigError && /LOG_DIR: .*symbolic link/.test(e.message),
  );
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('stale temporary files are removed, old and new names alike, and nothing else', () => {
  const dir = scratch();
  for (const name of [
    'pass.json.4242.tmp',
    'last-pass.json.0a1b2c3d4e5f6a7b.tmp',
    'journal.ndjson',
    'notes.tmp',
    'pass.json',
  ])
    writeFileSync(join(dir, name), '');
  assert.equal(removeStaleTemps(dir), 2);
  assert.deepEqual(readdirSync(dir).sort(), ['journal.ndjson', 'notes.tmp', 'pass.json']);
  writeFileSync(join(dir, 'metrics.prom.99.tmp'), '');
  writeFileSync(join(dir, 'other.prom.99.tmp'), '');
  assert.equal(removeStaleTemps(dir, 'metrics.prom'), 1);
  assert.ok(existsSync(join(dir, 'other.prom.99.tmp')));
});

test('a failed log write is reported once, never retried, and later lines are dropped', () => {
  const failures: string[] = [];
  let calls = 0;
  const log = new LogFile(
    99,
    (e) => failures.push(e.code!),
    (_fd, data) => {
      calls++;
      if (calls === 1) return Math.floor(data.length / 2);
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    },
  );
  log.write('{"a":1}\n');
  log.write('{"b":2}\n');
  log.flushSync();
  assert.deepEqual(failures, ['ENOSPC']);
  assert.equal(calls, 2);
  log.write('{"c":3}\n');
  log.flushSync();
  assert.equal(calls, 2);
  assert.equal(log.failed?.code, 'ENOSPC');
});

test('a full disk under the log, for real: the failure arrives, and flushing returns', (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a small tmpfs needs root');
  const dir = mkdtempSync(join(tmpdir(), 'obs-own-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return t.skip('this machine does not let a test mount a tmpfs');
  }
  const fd = openForAppend(join(dir, 'o365-backsync.log'), 0o640);
  t.after(() => {
    closeSync(fd);
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const failures: string[] = [];
  const log = new LogFile(fd, (e) => failures.push(e.code!));
  for (let i = 0; i < 2000 && !log.failed; i++) log.write(`${JSON.stringify({ i, msg: 'x'.repeat(100) })}\n`);
  log.flushSync();
  assert.deepEqual(failures, ['ENOSPC']);
});

test('a STATE_DIR that group or others can write is refused, naming it and the fix', async () => {
  const dir = join(scratch(), 'state');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  await assert.rejects(
    acquireRunLock(dir, new Date()),
    (e: unknown) =>
      e instanceof ConfigError &&
      /STATE_DIR: .* can be written by group or others \(mode 0777\).*chmod 700/.test(e.message),
  );
  chmodSync(dir, 0o700);
  const lock = await acquireRunLock(dir, new Date());
  assert.ok(lock.acquired);
  await lock.release();
});

test('a STATE_DIR owned by another user is refused', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('giving a folder to another user needs root');
  const dir = join(scratch(), 'state');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, 65534, 65534);
  await assert.rejects(
    acquireRunLock(dir, new Date()),
    (e: unknown) => e instanceof ConfigError && /STATE_DIR: .* owned by uid 65534/.test(e.message),
  );
});
