import assert from 'node:assert/strict';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors';
import { LAST_RUN_FILE, readLastRun, writeLastRun, type LastRun } from '../../src/runtime/last-run';
import { scratchDir } from '../tmp';

const ENDED: LastRun = {
  startedAt: '2026-11-27T06:00:00.000Z',
  finishedAt: '2026-11-27T06:00:04.000Z',
  exitCode: 3,
  reason: 'OA Public API at http://10.0.0.10:8440: no answer within 60000 ms',
};

test('how a run ended is read back as written, 0600; no record is no run yet', () => {
  const dir = scratchDir('obs-last-run-');
  assert.equal(
    readLastRun(dir, () => assert.fail('no warning expected')),
    undefined,
  );
  writeLastRun(dir, ENDED);
  assert.deepEqual(
    readLastRun(dir, () => assert.fail('no warning expected')),
    ENDED,
  );
  assert.equal(statSync(join(dir, LAST_RUN_FILE)).mode & 0o777, 0o600);
});

test('a damaged record is warned about and treated as absent', () => {
  const dir = scratchDir('obs-last-run-');
  for (const text of [
    '{"exitCode":',
    JSON.stringify({ ...ENDED, exitCode: '3' }),
    '[]',
    JSON.stringify({ ...ENDED, finishedAt: '+049560-01-01T00:00:00.000Z' }),
    JSON.stringify({ ...ENDED, startedAt: 'yesterday' }),
  ]) {
    writeFileSync(join(dir, LAST_RUN_FILE), text);
    const warnings: string[] = [];
    assert.equal(
      readLastRun(dir, (m) => warnings.push(m)),
      undefined,
    );
    assert.equal(warnings.length, 1, text);
    assert.match(warnings[0]!, /^state file .*last-run\.json is damaged \(.+\); treating it as absent$/, text);
  }
});

test('a record that cannot be read is an error naming it, never "no run yet"', () => {
  const dir = scratchDir('obs-last-run-');
  symlinkSync('/etc/hostname', join(dir, LAST_RUN_FILE));
  assert.throws(
    () => readLastRun(dir, () => undefined),
    (e) => e instanceof ConfigError && e.message === `STATE_DIR: cannot read ${join(dir, LAST_RUN_FILE)}: ELOOP`,
  );
});
