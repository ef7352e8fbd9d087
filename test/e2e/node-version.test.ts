import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { CLI } from './harness';

/**
 * The CLI on a Node.js older than package.json's `engines`: one line and exit 2, before any module
 * of the tool loads. A real old Node.js runs in packaging/test/old-node.test.ts (npm run
 * test:old-node); here this Node.js reports another version, which is what the check reads.
 */
const { engines, version } = require('../../../package.json') as { engines: { node: string }; version: string };
const needed = engines.node.replace(/^>=/, '');

function asIfNode(nodeVersion: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const script = `
    Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(nodeVersion)} });
    process.on('exit', () => {
      const loaded = Object.keys(require.cache).filter((path) => path.includes('/dist/src/'));
      if (loaded.length) process.stderr.write('loaded before the check: ' + loaded[0] + '\\n');
    });
    process.argv = [process.argv[0], ${JSON.stringify(CLI)}, ...${JSON.stringify(args)}];
    require(${JSON.stringify(CLI)});`;
  const { status, stdout, stderr } = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  return { status, stdout, stderr };
}

test('engines names one lowest version, the form the check in bin/ reads', () => {
  assert.match(engines.node, /^>=\d+\.\d+\.\d+$/);
});

test('a Node.js just below engines gets one line naming the version needed and the release, and exit 2', () => {
  const [major, minor, patch] = needed.split('.').map(Number) as [number, number, number];
  const below = patch > 0 ? `${major}.${minor}.${patch - 1}` : `${major}.${minor - 1}.99`;
  for (const args of [['--version'], ['sync'], ['status', '--json']]) {
    const result = asIfNode(below, args);
    assert.deepEqual(result, {
      status: 2,
      stdout: '',
      stderr:
        `o365-backsync: needs Node.js ${needed} or later, this is v${below}: install the self-contained release ` +
        `o365-backsync-${version}-linux-x64.tar.gz, which carries its own Node.js (README: "Where to run it"), or a newer Node.js\n`,
    });
  }
});

test('the version engines names, and later ones, run the tool', () => {
  const [major, minor] = needed.split('.').map(Number) as [number, number];
  for (const ok of [needed, `${major}.${minor + 1}.0`, `${major + 4}.0.0`]) {
    const result = asIfNode(ok, ['--version']);
    assert.deepEqual({ status: result.status, stdout: result.stdout }, { status: 0, stdout: `${version}\n` }, ok);
  }
});
