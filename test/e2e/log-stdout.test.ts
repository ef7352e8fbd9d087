import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { missing } from '../tools';
import { runCliOnTerminal, simulatorSetup } from './harness';

/** LOG_DIR=-: the JSON log on stdout, one object a line and nothing else there, as a container's runtime reads it. */
const setup = simulatorSetup({ LOG_DIR: '-' });

/** Every line of `text` as a JSON object; fails on any line that is not one. */
function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split(/\r?\n/).filter(Boolean);
  return lines.map((line) => {
    const parsed = JSON.parse(line) as unknown;
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), line);
    return parsed as Record<string, unknown>;
  });
}

test('sync with LOG_DIR=- writes the log to stdout, one JSON object a line, ending with the summary; no file is made', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: 4 },
    { OA_USER: 'api', OA_PASSWORD: 's3cret-pw', SYNC_MIN_INTERVAL: '0' },
  );
  const bad = sim.readyTenants()[5]!;
  sim.setFault(bad.id, 'fail500');
  const result = await run(['sync']);
  assert.equal(result.code, 1, result.stderr);
  const log = jsonLines(result.stdout);
  assert.ok(log.length > 3, result.stdout);
  for (const line of log)
    assert.deepEqual(Object.keys(line).slice(0, 3), ['level', 'time', 'pid'], JSON.stringify(line));
  assert.equal(log[0]!.msg, 'pass started');
  const last = log.at(-1)!;
  assert.equal(last.msg, 'pass finished');
  assert.deepEqual([last.synced, last.failed, last.tenants], [7, 1, 8]);
  assert.ok(log.some((l) => l.msg === 'tenant failed' && l.tenantId === bad.id));
  assert.doesNotMatch(result.stdout, /s3cret-pw/);
  // The operator's line still goes to stderr, and says where the details are.
  assert.equal(result.stderr, `o365-backsync: 1 of 8 tenants failed; details in standard output (LOG_DIR=-)\n`);
  assert.equal(existsSync(w.logDir), false);
  assert.deepEqual(readdirSync(w.cwd).sort(), ['state']);
});

test('a run with no pass due logs to stdout too', async () => {
  const { run } = await setup({ instances: 1, tenantsPerInstance: 2 }, { SYNC_MIN_INTERVAL: '3600' });
  assert.equal((await run(['sync'])).code, 0);
  const notDue = await run(['sync']);
  assert.equal(notDue.code, 0, notDue.stderr);
  assert.equal(notDue.stderr, '');
  const log = jsonLines(notDue.stdout);
  assert.match(String(log.at(-1)!.msg), /^not due yet; next pass due at /);
});

test('sync --json with LOG_DIR=- is a usage error in one line, before any network call', async () => {
  const { sim, run } = await setup({ instances: 1, tenantsPerInstance: 2 });
  const result = await run(['sync', '--json']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    'o365-backsync: --json: cannot be combined with LOG_DIR=-: stdout then carries the log, whose last line ("pass finished") holds the same summary; drop --json, or set LOG_DIR to a folder\n',
  );
  assert.equal(sim.stats.oaCalls.length, 0);
});

test('check with LOG_DIR=- names stdout as the log and tests only STATE_DIR for writing', async () => {
  const { w, run } = await setup({ instances: 1, tenantsPerInstance: 2 });
  const check = await run(['check']);
  assert.equal(check.code, 0, check.stdout);
  assert.match(
    check.stdout,
    new RegExp(`^ok {3}folders: LOG_DIR standard output \\(LOG_DIR=-\\), STATE_DIR ${w.stateDir}$`, 'm'),
  );
});

test('status with LOG_DIR=- names stdout as the log, and null in --json', async () => {
  const { run } = await setup({ instances: 1, tenantsPerInstance: 2 });
  assert.equal((await run(['sync'])).code, 0);
  const text = await run(['status']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^log: {9}standard output \(LOG_DIR=-\)$/m);
  const json = await run(['status', '--json']);
  assert.equal((JSON.parse(json.stdout) as { logFile: unknown }).logFile, null);
});

test(
  'on a terminal with LOG_DIR=- the screen shows the JSON log only: no progress line, no summary for a person',
  { skip: missing('script') },
  async () => {
    const { w, env } = await setup({ instances: 1, tenantsPerInstance: 5 });
    const result = await runCliOnTerminal(['sync'], env, w.cwd);
    assert.equal(result.code, 0, result.stdout);
    const log = jsonLines(result.stdout);
    assert.equal(log.at(-1)!.msg, 'pass finished');
    assert.equal(log.at(-1)!.synced, 5);
  },
);
