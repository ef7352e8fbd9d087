import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertEachReadyTenantOnce } from '../../test/e2e/harness';
import { startSimulator, type Simulator } from '../../test/sim';
import { missing } from '../../test/tools';
import { scratchDir } from '../../test/tmp';
import { artifact, CHECKOUT, host, inChroot, needsRoot, passwd, VERSION } from './chroot';

/** The RPM of `npm run rpm`: what it declares, and what it does installed into a scratch root. */
const RPM = artifact(`o365-backsync-${VERSION}-1.x86_64.rpm`);
const TARBALL = artifact(`o365-backsync-${VERSION}-linux-x64.tar.gz`);
const ENV_FILE = '/etc/o365-backsync/o365-backsync.env';
const STATE_DIR = '/var/lib/o365-backsync';

const sims: Simulator[] = [];
after(() => Promise.all(sims.map((s) => s.close())));

async function query(format: string, ...more: string[]): Promise<string> {
  const result = await host('rpm', ['-qp', ...more, ...(format ? ['--qf', format] : []), RPM]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

test(
  'the RPM requires nothing but a shell and useradd, provides no library, has a gzip or xz payload and an unstripped node',
  { skip: missing('rpm') },
  async () => {
    const requires = (await query('', '--requires')).split('\n').filter(Boolean);
    assert.deepEqual(requires.filter((r) => !r.startsWith('rpmlib(')).sort(), ['/bin/sh', 'shadow-utils']);
    // Only rpmlib features that RHEL/CentOS 7's rpm 4.11 has (a zstd payload would add PayloadIsZstd).
    const rpm411 = ['CompressedFileNames', 'FileDigests', 'PayloadFilesHavePrefix', 'PayloadIsXz'];
    const features = requires.filter((r) => r.startsWith('rpmlib(')).map((r) => r.replace(/^rpmlib\((\w+)\).*/, '$1'));
    assert.deepEqual(
      features.filter((f) => !rpm411.includes(f)),
      [],
    );
    const provides = (await query('', '--provides')).split('\n').filter(Boolean);
    assert.deepEqual(provides.map((p) => p.split(' ')[0]).sort(), ['o365-backsync', 'o365-backsync(x86-64)']);
    // RHEL/CentOS 7's rpm 4.11 reads no zstd.
    assert.match(await query('%{PAYLOADCOMPRESSOR}'), /^(gzip|xz)$/);
    // No %post enables anything: the user is made before the files land, and that is all.
    const scripts = await query('', '--scripts');
    assert.match(scripts, /^preinstall scriptlet/m);
    assert.match(scripts, /useradd -r /);
    assert.doesNotMatch(scripts, /systemctl|cron/);

    // Same bytes as the release's node: neither stripped nor rewritten by a brp script.
    const digests = new Map(
      (await query('[%{FILENAMES}\\t%{FILEDIGESTS}\\n]')).split('\n').map((l) => l.split('\t') as [string, string]),
    );
    const node = execFileSync('tar', ['-xzOf', TARBALL, 'o365-backsync/node/bin/node'], { maxBuffer: 1 << 30 });
    assert.equal(digests.get('/opt/o365-backsync/node/bin/node'), createHash('sha256').update(node).digest('hex'));
  },
);

test(
  'the RPM installs the release tree under /opt, the command, a config env file for the service user and its folders, and enables nothing',
  { skip: missing('rpm') },
  async () => {
    const files = new Map(
      (
        await query(
          '[%{FILEMODES:perms}\\t%{FILEUSERNAME}:%{FILEGROUPNAME}\\t%{FILEFLAGS:fflags}\\t%{FILENAMES}\\t%{FILELINKTOS}\\n]',
        )
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
        .map(([mode, owner, flags, path, link]) => [
          path!,
          `${mode} ${owner} ${flags || '-'}${link ? ` -> ${link}` : ''}`,
        ]),
    );
    const expected: Record<string, string> = {
      '/usr/bin/o365-backsync': 'lrwxrwxrwx root:root - -> /opt/o365-backsync/bin/o365-backsync',
      '/opt/o365-backsync/node/bin/node': '-rwxr-xr-x root:root -',
      '/opt/o365-backsync/bin/o365-backsync': '-rwxr-xr-x root:root -',
      '/etc/o365-backsync': 'drwxr-x--- root:o365-backsync -',
      [ENV_FILE]: '-rw-r----- root:o365-backsync cn',
      [STATE_DIR]: 'drwx------ o365-backsync:o365-backsync -',
      '/var/log/o365-backsync': 'drwxr-x--- o365-backsync:o365-backsync -',
      '/usr/lib/systemd/system/o365-backsync.service': '-rw-r--r-- root:root -',
      '/usr/lib/systemd/system/o365-backsync.timer': '-rw-r--r-- root:root -',
      '/usr/share/o365-backsync/cron.d/o365-backsync': '-rw-r--r-- root:root -',
      '/usr/share/o365-backsync/logrotate.d/o365-backsync': '-rw-r--r-- root:root -',
      '/usr/share/o365-backsync/prometheus/o365-backsync.rules.yml': '-rw-r--r-- root:root -',
    };
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((path) => [path, files.get(path)])), expected);
    // Nothing where cron, systemd or logrotate would act on it by itself.
    assert.deepEqual(
      [...files.keys()].filter((p) => /^\/etc\/(cron|systemd|logrotate|prometheus)/.test(p)),
      [],
    );
    // The whole release tree, and outside /opt only what is listed above.
    const tree = execFileSync('tar', ['-tzf', TARBALL], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((p) => `/opt/${p.replace(/\/$/, '')}`);
    assert.deepEqual([...files.keys()].filter((p) => p.startsWith('/opt/')).sort(), tree.sort());
    const outside = [...files.keys()].filter((p) => !p.startsWith('/opt/'));
    const dirs = [
      '/usr/share/o365-backsync',
      '/usr/share/o365-backsync/cron.d',
      '/usr/share/o365-backsync/logrotate.d',
      '/usr/share/o365-backsync/prometheus',
    ];
    assert.deepEqual(outside.sort(), [...Object.keys(expected).filter((p) => !p.startsWith('/opt/')), ...dirs].sort());
  },
);

/**
 * A root that rpm can install into and run the %pre scriptlet in: the host's /usr, read-only, where
 * the scriptlet's shell, getent and useradd come from, and an /etc of its own with only root in it.
 */
function scratchRoot(): string {
  const root = scratchDir('obs-rpm-');
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'host/usr'), { recursive: true });
  for (const dir of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`host/usr/${dir}`, join(root, dir));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o600 });
  writeFileSync(join(root, 'etc/gshadow'), 'root:*::\n', { mode: 0o600 });
  if (existsSync('/etc/login.defs')) copyFileSync('/etc/login.defs', join(root, 'etc/login.defs'));
  return root;
}

/** `rpm --root` with the host's /usr mounted for the scriptlets, in a mount namespace of its own. */
function rpmInto(root: string, ...args: string[]) {
  return host('unshare', [
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-euc',
    'root=$1; shift; mount --bind -o ro /usr "$root/host/usr"; exec rpm --root "$root" --dbpath /var/lib/rpm "$@"',
    'sh',
    root,
    ...args,
  ]);
}

/** What every file below `dir` holds, by path. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const path = join(e.parentPath, e.name);
        return [path, readFileSync(path, 'utf8')];
      }),
  );
}

test(
  'installed into a scratch root, the packaged cron line runs a pass as the service user, and an upgrade keeps the env file and the state',
  { skip: needsRoot('rpm') },
  async () => {
    const root = scratchRoot();
    const install = await rpmInto(root, '-i', '--nodeps', RPM);
    assert.equal(install.code, 0, install.stderr);
    const user = passwd(root).get('o365-backsync');
    assert.ok(user && user.uid > 0 && user.uid < 1000, 'a system user o365-backsync');

    // The env file the package wrote names the folders it made; the operator adds where OA is.
    const envFile = join(root, ENV_FILE);
    assert.match(readFileSync(envFile, 'utf8'), new RegExp(`^STATE_DIR=${STATE_DIR}$`, 'm'));
    assert.match(readFileSync(envFile, 'utf8'), /^LOG_DIR=\/var\/log\/o365-backsync$/m);
    const sim = await startSimulator({ instances: 2, tenantsPerInstance: [30, 45], pageCap: 20 });
    sims.push(sim);
    const settings = { ...sim.env(), SYNC_MIN_INTERVAL: '3600' };
    appendFileSync(
      envFile,
      Object.entries(settings)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );

    // The command of the packaged cron line, run as its user, as cron would.
    const cronLine = readFileSync(join(root, 'usr/share/o365-backsync/cron.d/o365-backsync'), 'utf8')
      .split('\n')
      .find((l) => l && !l.startsWith('#'))!;
    const [, , , , , runAs, ...command] = cronLine.split(' ');
    assert.equal(runAs, 'o365-backsync');
    assert.deepEqual(command.slice(-2), ['--env-file', ENV_FILE]);
    const service = readFileSync(join(root, 'usr/lib/systemd/system/o365-backsync.service'), 'utf8');
    assert.ok(service.split('\n').includes(`ExecStart=${command.join(' ')}`), service);
    assert.match(service, /^User=o365-backsync$/m);

    const pass = await inChroot(root, user, command, {});
    assert.deepEqual(
      { code: pass.code, stdout: pass.stdout, stderr: pass.stderr },
      { code: 0, stdout: '', stderr: '' },
    );
    assertEachReadyTenantOnce(sim);
    const log = readFileSync(join(root, 'var/log/o365-backsync/o365-backsync.log'), 'utf8');
    assert.match(log, /"msg":"pass finished"/);
    // 0640 root:o365-backsync is how the service user reads the env file, not a leak to warn about.
    assert.doesNotMatch(log, /can be read by group or others/);

    // The next release of the same version, as an upgrade.
    const out = scratchDir('obs-rpm-next-');
    const build = await host(join(CHECKOUT, 'packaging/rpm.sh'), [], { RPM_RELEASE: '2', RPM_OUT: out, HOME: out });
    assert.equal(build.code, 0, build.stderr);
    const envBefore = readFileSync(envFile, 'utf8');
    const stateBefore = contents(join(root, STATE_DIR));
    assert.notDeepEqual(stateBefore, {});
    const upgrade = await rpmInto(root, '-U', '--nodeps', join(out, `o365-backsync-${VERSION}-2.x86_64.rpm`));
    assert.equal(upgrade.code, 0, upgrade.stderr);
    const installed = await rpmInto(root, '-q', 'o365-backsync');
    assert.equal(installed.stdout.trim(), `o365-backsync-${VERSION}-2.x86_64`);
    assert.equal(readFileSync(envFile, 'utf8'), envBefore);
    assert.ok(!existsSync(`${envFile}.rpmnew`) && !existsSync(`${envFile}.rpmsave`));
    assert.deepEqual(contents(join(root, STATE_DIR)), stateBefore);
    // The state says the last pass is recent, so the upgraded tool's next run resyncs nobody.
    const next = await inChroot(root, user, command, {});
    assert.equal(next.code, 0, next.stderr);
    assertEachReadyTenantOnce(sim);
  },
);
