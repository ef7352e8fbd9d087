import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertEachReadyTenantOnce, summaryOf } from '../../test/e2e/harness';
import { startSimulator, type Simulator } from '../../test/sim';
import { testCerts } from '../../test/sim/certs';
import { scratchDir } from '../../test/tmp';
import { artifact, host, inChroot, needsRoot, VERSION } from './chroot';

/** The release tarball of `npm run release`, unpacked where it belongs in a root holding nothing else. */
const TARBALL = artifact(`o365-backsync-${VERSION}-linux-x64.tar.gz`);
const PREFIX = '/opt/o365-backsync';
// No passwd entry anywhere in the root: an arbitrary uid, as a container runtime may pick.
const USER = { uid: 10123, gid: 10123 };

const sims: Simulator[] = [];
after(() => Promise.all(sims.map((s) => s.close())));

async function releaseRoot(): Promise<string> {
  const root = scratchDir('obs-release-');
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'opt'));
  const untar = await host('tar', ['-xzf', TARBALL, '-C', join(root, 'opt')]);
  assert.equal(untar.code, 0, untar.stderr);
  for (const [dir, mode] of [
    ['tmp', 0o1777],
    ['etc', 0o755],
    ['var/lib/o365-backsync', 0o700],
    ['var/log/o365-backsync', 0o750],
  ] as const) {
    mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, dir), mode);
  }
  for (const dir of ['var/lib/o365-backsync', 'var/log/o365-backsync']) chownSync(join(root, dir), USER.uid, USER.gid);
  return root;
}

test(
  'the release runs in a chroot that holds only itself, /dev/null, /dev/urandom, /proc, /tmp, the env file and its folders',
  { skip: needsRoot('tar') },
  async () => {
    const root = await releaseRoot();
    // Nothing of the host: no shell, no libraries, no /etc/passwd, no CA store.
    assert.deepEqual(readdirSync(root).sort(), ['etc', 'opt', 'tmp', 'var']);

    const sim = await startSimulator({ instances: 3, tenantsPerInstance: [40, 25, 31], https: true, pageCap: 20 });
    sims.push(sim);
    copyFileSync(testCerts().caFile, join(root, 'etc/aps-ca.pem'));
    const settings = {
      ...sim.env(),
      APS_CA_FILE: '/etc/aps-ca.pem',
      STATE_DIR: '/var/lib/o365-backsync',
      LOG_DIR: '/var/log/o365-backsync',
    };
    // Where the tool looks for its env file by default.
    const envFile = join(root, 'etc/o365-backsync.env');
    writeFileSync(
      envFile,
      Object.entries(settings)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
      { mode: 0o600 },
    );
    chownSync(envFile, USER.uid, USER.gid);
    const cli = `${PREFIX}/bin/o365-backsync`;

    const version = await inChroot(root, USER, [cli, '--version'], {});
    assert.deepEqual(
      { code: version.code, stdout: version.stdout.trim(), stderr: version.stderr },
      { code: 0, stdout: VERSION, stderr: '' },
    );

    const check = await inChroot(root, USER, [cli, 'check'], {});
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.doesNotMatch(check.stdout, /FAIL/);

    const sync = await inChroot(root, USER, [cli, 'sync', '--json'], {});
    assert.equal(sync.code, 0, sync.stderr);
    const summary = summaryOf(sync);
    assert.deepEqual({ synced: summary.synced, failed: summary.failed }, { synced: 96, failed: 0 });
    assertEachReadyTenantOnce(sim);
    const log = readFileSync(join(root, 'var/log/o365-backsync/o365-backsync.log'), 'utf8');
    assert.match(log, /"msg":"pass finished"/);
  },
);

test(
  "the release's node and flock load only what the folder carries, and the bundle lists the licence of each thing in it",
  { skip: needsRoot('tar', 'patchelf') },
  async () => {
    const root = await releaseRoot();
    const tree = join(root, 'opt/o365-backsync');
    const libs = readdirSync(join(tree, 'lib'));
    // node, and flock(1), which the run lock starts from beside node.
    for (const program of ['node/bin/node', 'node/bin/flock'].map((p) => join(tree, p))) {
      const interpreter = await host('patchelf', ['--print-interpreter', program]);
      assert.equal(interpreter.stdout.trim(), `${PREFIX}/lib/ld-linux-x86-64.so.2`, program);
      const rpath = await host('patchelf', ['--print-rpath', program]);
      assert.equal(rpath.stdout.trim(), `${PREFIX}/lib`, program);
      const needed = (await host('patchelf', ['--print-needed', program])).stdout.split('\n').filter(Boolean);
      for (const lib of needed) assert.ok(libs.includes(lib), `${lib} of ${program} is not in lib/`);
    }

    const licences = readFileSync(join(tree, 'licenses/README'), 'utf8');
    for (const lib of libs)
      assert.match(licences, new RegExp(`lib/${lib.replace(/[.+]/g, '\\$&')}: Debian package \\S+ \\S+`));
    const packages = readdirSync(join(tree, 'node_modules'))
      .flatMap((name) =>
        name.startsWith('@') ? readdirSync(join(tree, 'node_modules', name)).map((n) => `${name}/${n}`) : [name],
      )
      .filter((name) => !name.startsWith('.'));
    for (const name of packages) assert.ok(licences.includes(`  ${name} `), `${name} has no licence line`);
    // Production dependencies only.
    for (const dev of ['typescript', 'eslint', 'prettier', '@types'])
      assert.ok(!packages.some((p) => p === dev || p.startsWith(`${dev}/`)), dev);
    assert.match(licences, /Node\.js \d+\.\d+\.\d+/);
    assert.match(licences, /node\/bin\/flock: Debian package util-linux /);
    assert.ok(readFileSync(join(tree, 'licenses/node.LICENSE'), 'utf8').length > 0);
  },
);
