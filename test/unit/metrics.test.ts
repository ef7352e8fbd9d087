import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderMetrics, writeMetrics } from '../../src/runtime/metrics';
import type { LastPass } from '../../src/runtime/pass-record';
import { PassStateStore } from '../../src/runtime/pass-state';
import { scratchDir } from '../tmp';

const last: LastPass = {
  startedAt: '2026-11-27T06:00:00.000Z',
  finishedAt: '2026-11-27T06:10:00.000Z',
  durationMs: 598_500,
  invalid: 5,
  tenants: 1003,
  synced: 1000,
  failed: 2,
  skipped: 1,
  planned: 0,
  busy: 4,
  lastSyncFailed: 3,
  alreadyDone: 0,
  instances: 3,
  tokenRefreshes: 12,
  complete: false,
  failures: [],
  failuresOmitted: 0,
  lastSyncFailures: [],
  lastSyncFailuresOmitted: 0,
  lastCompleteAt: '2026-11-27T05:00:00.000Z',
};

/** name{labels} -> value, checking that every sample follows its own # HELP and # TYPE lines. */
function parse(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'));
  const samples = new Map<string, number>();
  let help = '';
  let type = '';
  for (const line of text.trimEnd().split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (m) {
      if (m[1] === 'HELP') help = m[2]!;
      else {
        assert.equal(m[2], help, `TYPE after its HELP: ${line}`);
        assert.equal(m[3], 'gauge');
        type = m[2]!;
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    assert.equal(sample[1], type, `${line} follows its own HELP and TYPE`);
    assert.ok(sample[1]!.startsWith('o365_backsync_'));
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return samples;
}

test('the metrics of the last pass and of the pass in progress, in the text exposition format', () => {
  const m = parse(
    renderMetrics({
      last,
      unfinished: {
        version: 1,
        appId: 41,
        tenantType: 'T',
        startedAt: '2026-11-27T07:00:00.000Z',
        activeMs: 0,
        runs: 2,
      },
    }),
  );
  assert.deepEqual(Object.fromEntries(m), {
    o365_backsync_last_success_timestamp_seconds: Date.parse('2026-11-27T05:00:00Z') / 1000,
    o365_backsync_last_pass_end_timestamp_seconds: Date.parse('2026-11-27T06:10:00Z') / 1000,
    o365_backsync_last_pass_duration_seconds: 598.5,
    o365_backsync_last_pass_complete: 0,
    'o365_backsync_last_pass_tenants{outcome="synced"}': 1000,
    'o365_backsync_last_pass_tenants{outcome="failed"}': 2,
    'o365_backsync_last_pass_tenants{outcome="skipped"}': 1,
    'o365_backsync_last_pass_tenants{outcome="busy"}': 4,
    o365_backsync_last_pass_last_sync_failed: 3,
    o365_backsync_last_pass_invalid_items: 5,
    o365_backsync_last_pass_token_renewals: 12,
    o365_backsync_pass_in_progress: 1,
    o365_backsync_pass_in_progress_start_timestamp_seconds: Date.parse('2026-11-27T07:00:00Z') / 1000,
  });
});

test('with no history only "in progress" is said; a last pass that no complete pass preceded has no success time', () => {
  assert.deepEqual(Object.fromEntries(parse(renderMetrics({}))), { o365_backsync_pass_in_progress: 0 });
  const { lastCompleteAt: _, ...neverComplete } = last;
  assert.equal(
    parse(renderMetrics({ last: neverComplete })).has('o365_backsync_last_success_timestamp_seconds'),
    false,
  );
});

test('the file is replaced whole, readable by the collector, with no temporary file left', () => {
  const dir = scratchDir('obs-metrics-');
  const path = join(dir, 'o365-backsync.prom');
  const store = new PassStateStore(join(dir, 'state-that-does-not-exist'), () => assert.fail('no warning expected'));
  writeMetrics(path, store, undefined);
  writeMetrics(path, store, undefined);
  assert.equal(readFileSync(path, 'utf8'), renderMetrics({}));
  assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  assert.deepEqual(readdirSync(dir), ['o365-backsync.prom']);
});
