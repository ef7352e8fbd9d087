import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

/** The pass's V8 settings are made after start-up; this checks V8 still honours them then (and does not refuse them). */
const MODULE = join(__dirname, '../../src/runtime/heap-settings.js');

function youngGenerationAfterChurn(settle: boolean): number {
  const script = `
    const v8 = require('node:v8');
    if (${settle}) require(${JSON.stringify(MODULE)}).settleHeapForPass();
    const before = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
    const after = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    process.stdout.write(JSON.stringify({ before, after }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
  return after / before;
}

test('after settleHeapForPass the young generation hardly grows under allocation; without it, it grows many times over', () => {
  const settled = youngGenerationAfterChurn(true);
  const unsettled = youngGenerationAfterChurn(false);
  assert.ok(settled <= 2, `grew ${settled}x`);
  assert.ok(unsettled >= 8, `the churn grew the young generation only ${unsettled}x without the setting`);
});
