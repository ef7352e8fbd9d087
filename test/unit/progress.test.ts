import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration } from '../../src/cli/human';
import { PassProgress } from '../../src/cli/progress';

/** A terminal that keeps what is written to it. */
function terminal() {
  let text = '';
  const stream = {
    isTTY: true,
    columns: 100,
    write: (s: string) => ((text += s), true),
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

test('a line per instance with tenants done of the total, the rate and what is left', () => {
  const t = terminal();
  let now = 0;
  const progress = new PassProgress(t.stream, () => now);
  const instance = { id: 1001, resourceId: 'r' };
  progress.log('before the bars\n');
  progress.events.tenantsCounted!(instance, 10);
  now = 1000;
  for (let i = 0; i < 4; i++) progress.events.tenantDone!(instance, { id: `t${i}` });
  progress.events.tenantAlreadyDone!(instance, { id: 'old' });
  progress.log('a warning above the bars\n');
  progress.stop();
  const text = t.text();
  assert.match(text, /^before the bars\n/);
  assert.match(text, /a warning above the bars\n/);
  // 4 resynced in 1 s, the one an earlier run did does not count for the rate; 5 left at 4/s.
  assert.match(text, /instance 1001: 5\/10 tenants, 4\/s, ETA 1s/);
  progress.stop();
});

test('durations read at a glance, each unit cut and never rounded up', () => {
  assert.deepEqual([59.6, 3599.6, 86_399.9].map(duration), ['59s', '59m59s', '23h59m']);
  assert.deepEqual([0, 7.4, 192, 7500, 3 * 86_400 + 4 * 3600].map(duration), ['0s', '7s', '3m12s', '2h05m', '3d04h']);
});
