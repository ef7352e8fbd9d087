import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../src/cli/report';
import { emptyCounts } from '../../src/sync/counts';
import { manualClock } from '../clock';

test('the summary stamps the wall clock but measures its duration on the monotonic one: a clock stepped back an hour gives no negative duration', () => {
  const clock = manualClock('2026-11-27T06:00:00Z');
  clock.workUntil('2026-11-27T06:00:02Z');
  clock.step(-3_600_000);
  clock.workUntil('2026-11-27T05:00:03Z');
  const s = summarize(
    { ...emptyCounts(), instances: 1, tokenRefreshes: 0, instanceFailures: [], invalid: 0 },
    clock,
    false,
    0,
    { oaPort: 8440 },
  );
  assert.deepEqual(
    [s.startedAt, s.finishedAt, s.durationMs],
    ['2026-11-27T06:00:00.000Z', '2026-11-27T05:00:03.000Z', 3_000],
  );
});
