import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { assertEachReadyTenantOnce } from '../../test/e2e/harness';
import { startSimulator, type Simulator } from '../../test/sim';
import { scratchDir } from '../../test/tmp';
import { artifact, host, inChroot, needsRoot, passwd, VERSION } from './chroot';

/** The OCI image archive of `npm run image`, unpacked with umoci and run as a runtime would. */
const ARCHIVE = artifact(`o365-backsync-${VERSION}-oci.tar`);
const NAME = `localhost/o365-backsync:${VERSION}`;
const STATE_DIR = '/var/lib/o365-backsync';

const sims: Simulator[] = [];
after(() => Promise.all(sims.map((s) => s.close())));

interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User: string;
    Entrypoint: string[];
    Cmd: string[];
    Env: string[];
    Volumes: Record<string, object>;
    WorkingDir: string;
  };
}

/** The layout's one image, found from index.json through its manifest, as a loader finds it. */
function imageConfig(layout: string): { config: ImageConfig; annotations: Record<string, string> } {
  const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  assert.equal(index.manifests.length, 1);
  const manifest = blob(index.manifests[0]!.digest) as { config: { digest: string } };
  return { config: blob(manifest.config.digest) as ImageConfig, annotations: index.manifests[0]!.annotations };
}

async function unpacked(): Promise<string> {
  const layout = scratchDir('obs-image-');
  const untar = await host('tar', ['-xf', ARCHIVE, '-C', layout]);
  assert.equal(untar.code, 0, untar.stderr);
  return layout;
}

test(
  'the image names itself for podman and docker, runs the tool as a numeric non-root user, sync by default, logs to stdout and keeps its state in a volume',
  { skip: needsRoot('tar') },
  async () => {
    const { config, annotations } = imageConfig(await unpacked());
    assert.equal(annotations['org.opencontainers.image.ref.name'], NAME);
    assert.equal(annotations['io.containerd.image.name'], NAME);
    assert.deepEqual([config.architecture, config.os], ['amd64', 'linux']);
    assert.match(config.config.User, /^[1-9]\d*:[1-9]\d*$/);
    // The tool as `setup` starts it: node with the V8 settings, then the CLI.
    assert.deepEqual(config.config.Entrypoint, [
      '/opt/o365-backsync/node/bin/node',
      ...NODE_FLAGS,
      '--',
      '/opt/o365-backsync/bin/o365-backsync',
    ]);
    assert.deepEqual(config.config.Cmd, ['sync']);
    assert.deepEqual(config.config.Env.sort(), ['LOG_DIR=-', `STATE_DIR=${STATE_DIR}`]);
    assert.deepEqual(Object.keys(config.config.Volumes), [STATE_DIR]);
  },
);

test(
  'skopeo, the image library podman loads with, reads the archive under its name',
  { skip: needsRoot('skopeo') },
  async () => {
    const inspect = await host('skopeo', ['inspect', '--config', `oci-archive:${ARCHIVE}:${NAME}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.deepEqual((JSON.parse(inspect.stdout) as ImageConfig).config.Cmd, ['sync']);
  },
);

test(
  "its layers unpacked into a root, the entrypoint runs a pass in a chroot as the image's user against the simulator",
  { skip: needsRoot('umoci', 'tar') },
  async () => {
    const layout = await unpacked();
    const bundle = join(scratchDir('obs-bundle-'), 'bundle');
    const unpack = await host('umoci', ['unpack', '--image', `${layout}:${NAME}`, bundle]);
    assert.equal(unpack.code, 0, unpack.stderr);
    const rootfs = join(bundle, 'rootfs');
    const { config } = imageConfig(layout);
    const [uid, gid] = config.config.User.split(':').map(Number) as [number, number];
    // The user has a passwd entry, and the state folder (the volume) is its own.
    assert.deepEqual(
      [...passwd(rootfs).entries()].find(([, ids]) => ids.uid === uid),
      ['o365-backsync', { uid, gid }],
    );
    const state = statSync(join(rootfs, STATE_DIR));
    assert.deepEqual([state.uid, state.mode & 0o777], [uid, 0o700]);
    assert.ok(statSync(join(rootfs, 'etc/ssl/certs/ca-certificates.crt')).size > 100_000, 'CA certificates');

    const sim = await startSimulator({ instances: 2, tenantsPerInstance: [35, 20], pageCap: 15 });
    sims.push(sim);
    // As `docker run -e ... IMAGE`: the image's Env, the settings on top, Entrypoint + Cmd.
    const env = Object.fromEntries(config.config.Env.map((e) => e.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const run = await inChroot(rootfs, { uid, gid }, [...config.config.Entrypoint, ...config.config.Cmd], {
      ...env,
      ...sim.env(),
    });
    assert.equal(run.code, 0, run.stderr);
    assertEachReadyTenantOnce(sim);
    // LOG_DIR=-: the JSON log on stdout, one object a line.
    const lines = run.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    assert.ok(lines.map((l) => JSON.parse(l) as { msg: string }).some((l) => l.msg === 'pass finished'));
  },
);
