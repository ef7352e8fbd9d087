import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

/**
 * The pass's V8 settings are made after start-up, where V8 does not fail on a flag it does not know:
 * it writes "Error: unrecognized flag" to stderr and goes on without it. So this checks that V8 takes
 * each flag, in the Node that runs the tests. What the flags do to memory is V8's own heuristics,
 * measured by the benchmark (test/bench/), not asserted here.
 */
const MODULE = join(__dirname, '../../src/runtime/heap-settings.js');

function stderrOf(script: string): string {
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

test('V8 recognises every flag settleHeapForPass sets, after start-up', () => {
  // The check sees a refusal: V8's words for a flag it does not know.
  assert.match(
    stderrOf(`require('node:v8').setFlagsFromString('--no-such-heap-flag')`),
    /unrecognized flag --no-such-heap-flag/,
  );
  assert.equal(stderrOf(`require(${JSON.stringify(MODULE)}).settleHeapForPass()`), '');
});

test('settleHeapForPass sets the three flags its comment explains, each one a flag of this V8', () => {
  const v8 = require('node:v8') as typeof import('node:v8');
  const real = v8.setFlagsFromString;
  const set: string[] = [];
  v8.setFlagsFromString = (flags: string) => void set.push(flags);
  try {
    (require(MODULE) as typeof import('../../src/runtime/heap-settings')).settleHeapForPass();
  } finally {
    v8.setFlagsFromString = real;
  }
  assert.deepEqual(set, ['--liftoff-only', '--semi-space-growth-factor=1', '--heap-growing-percent=50']);
  const known = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  for (const flag of set)
    assert.match(known, new RegExp(`^\\s+${flag.replace(/=.*/, '')} \\(`, 'm'), `${flag} is not a flag of this V8`);
});
