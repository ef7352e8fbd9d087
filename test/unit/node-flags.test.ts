import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags';

const CLI = join(__dirname, '../../../bin/o365-backsync');

test("bin/o365-backsync's #! line starts Node with NODE_FLAGS, then ends Node's options", () => {
  const shebang = readFileSync(CLI, 'utf8').split('\n')[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')} --`);
});

test('each of NODE_FLAGS is a flag of this V8, and Node starts with them all', () => {
  const known = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  for (const flag of NODE_FLAGS)
    assert.match(known, new RegExp(`^\\s+${flag.replace(/=.*/, '')} \\(`, 'm'), `${flag} is not a flag of this V8`);
  const started = spawnSync(process.execPath, [...NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
  assert.deepEqual({ status: started.status, stderr: started.stderr }, { status: 0, stderr: '' });
});
