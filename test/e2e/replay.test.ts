import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { readHar, startReplay, type HarFile } from '../replay/server';
import { runCli, simulatorSetup, summaryOf, workdir, type CliResult } from './harness';

/**
 * Traces become tests: the real CLI against a replay of a HAR file. A trace from a real installation
 * dropped into test/fixtures/traces/ (with an optional `<name>.expect.json` saying what the run must
 * do: `exitCode`, `summary` fields, extra `args` and `env`) turns whatever surprised us into a
 * regression test.
 */
const FIXTURES = resolve(__dirname, '../../../test/fixtures/traces');
const setup = simulatorSetup({ RETRY_MAX_DELAY_MS: '20' });

interface Expectation {
  args?: string[];
  env?: Record<string, string>;
  exitCode?: number;
  summary?: Record<string, unknown>;
}

/** Runs the CLI against a replay of `har` and checks it asked for exactly what the trace holds. */
async function replay(har: HarFile, expect: Expectation): Promise<CliResult> {
  const server = await startReplay(har);
  const w = workdir();
  try {
    const env = {
      ...w.env,
      OFFICE_APP_ID: '41',
      OA_HOST: '127.0.0.1',
      OA_PORT: String(server.port),
      APS_URL: server.url,
      RETRY_MAX_DELAY_MS: '20',
      ...expect.env,
    };
    const result = await runCli(expect.args ?? ['sync', '--force', '--json'], env, w.cwd);
    assert.deepEqual(server.unmatched, [], `requests the trace has no reply for; stderr: ${result.stderr}`);
    assert.equal(server.unserved(), 0, 'recorded exchanges the run did not ask for');
    if (expect.exitCode !== undefined) assert.equal(result.code, expect.exitCode, result.stderr);
    else assert.ok(result.code !== null && result.code <= 3, `exit ${result.code}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
    return result;
  } finally {
    await server.close();
  }
}

const counts = (s: Record<string, unknown>) =>
  (({ tenants, synced, failed, skipped }) => ({ tenants, synced, failed, skipped }))(s);

test('a trace captured from the simulator replays: the same requests, the same outcome', async () => {
  const { sim, w, run } = await setup(
    { instances: 2, tenantsPerInstance: [5, 4], pageCap: 3, oaAuth: { user: 'admin', password: 'replay-secret' } },
    { APS_PAGE_SIZE: '3', RETRIES: '1' },
  );
  sim.setFault(sim.instances[0]!.tenants[2]!.id, 'fail500');
  sim.setFault(sim.instances[1]!.tenants[0]!.id, 'transient503');
  const path = join(w.cwd, 'run.har');
  const live = await run(['sync', '--force', '--json', '--trace', path]);
  assert.equal(live.code, 1, live.stderr);
  await sim.close();

  const replayed = await replay(readHar(path), { exitCode: 1, env: { RETRIES: '1' } });
  assert.deepEqual(counts(summaryOf(replayed)), counts(summaryOf(live)));
});

const traces = existsSync(FIXTURES)
  ? readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.har'))
      .sort()
  : [];

test('the fixtures folder holds at least the trace captured from the simulator', () => {
  assert.ok(traces.includes('simulator-sync.har'), `found: ${traces.join(', ')}`);
});

for (const name of traces) {
  test(`fixture trace ${name} replays`, async () => {
    const sidecar = join(FIXTURES, name.replace(/\.har$/, '.expect.json'));
    const expect = existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as Expectation) : {};
    const result = await replay(readHar(join(FIXTURES, name)), expect);
    if (expect.summary) {
      const summary = summaryOf(result);
      for (const [field, value] of Object.entries(expect.summary)) assert.deepEqual(summary[field], value, field);
    }
  });
}
