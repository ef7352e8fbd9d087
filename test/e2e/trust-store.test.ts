import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { canReadSystemStore, SYSTEM_STORE_NODE } from '../../src/http/trust';
import { otherCaFile } from '../sim';
import { runCliThrough, simulatorSetup, summaryOf, type SimSetup } from './harness';
import { missing } from '../tools';

/**
 * `APS_CA_FILE=system` and `OA_CA_FILE=system`: the host's trust store. Here a private store stands in
 * for it: OpenSSL's SSL_CERT_FILE names its one file and SSL_CERT_DIR an empty folder, which Node.js
 * reads for its system store as it does /etc/ssl on a real host.
 */
const setup = simulatorSetup();
const noSystemStore =
  !canReadSystemStore() && `Node.js ${process.version} cannot read the system trust store (needs ${SYSTEM_STORE_NODE})`;

function trustStore(s: SimSetup, caFile: string): Record<string, string> {
  const folder = join(s.w.cwd, 'trust-store');
  mkdirSync(folder);
  return { SSL_CERT_FILE: caFile, SSL_CERT_DIR: folder };
}

test(
  'APS_CA_FILE=system trusts the CA in the host store, check says so, and a CA missing from it fails in the tool words only',
  { skip: noSystemStore },
  async () => {
    const trusted = await setup({ https: true, instances: 1, tenantsPerInstance: 3 }, { APS_CA_FILE: 'system' });
    const store = trustStore(trusted, trusted.sim.caFile);
    const pass = await trusted.run(['sync', '--json'], store);
    assert.equal(pass.code, 0, pass.stderr);
    assert.equal(summaryOf(pass).synced, 3);
    const check = await trusted.run(['check'], store);
    assert.equal(check.code, 0, check.stdout);
    assert.match(
      check.stdout,
      /^ok {3}controller https:\/\/127\.0\.0\.1:\d+\/: reachable, certificate trusted by the host's trust store \(APS_CA_FILE=system\)$/m,
    );

    const untrusted = await setup({ https: true, instances: 1, tenantsPerInstance: 3 }, { APS_CA_FILE: 'system' });
    const refused = await untrusted.run(['sync'], trustStore(untrusted, otherCaFile()));
    assert.equal(refused.code, 3, refused.stderr);
    const origin = untrusted.sim.apsUrl.replace(/\/$/, '');
    assert.equal(
      refused.stderr,
      `o365-backsync: instance 1001: certificate of ${origin} not trusted: unable to verify the first certificate; ` +
        "the host's trust store (APS_CA_FILE=system) does not hold the CA that issued the controller certificate: add it there, " +
        'or set APS_CA_FILE to the PEM of that CA (or pin it with APS_CERT_SHA256)\n',
    );
    assert.equal(untrusted.sim.stats.requests, 0, 'no request went out over the refused connection');
  },
);

test('OA_CA_FILE=system trusts the CA in the host store for OA over https', { skip: noSystemStore }, async () => {
  const s = await setup({ oaHttps: true, instances: 1, tenantsPerInstance: 2 }, { OA_CA_FILE: 'system' });
  const store = trustStore(s, s.sim.caFile);
  const check = await s.run(['check'], store);
  assert.equal(check.code, 0, check.stdout);
  assert.match(
    check.stdout,
    /^ok {3}OA Public API: answered at 127\.0\.0\.1:\d+ over https, certificate trusted by the host's trust store \(OA_CA_FILE=system\)$/m,
  );
  const pass = await s.run(['sync', '--json'], store);
  assert.equal(pass.code, 0, pass.stderr);
  assert.equal(summaryOf(pass).synced, 2);
});

test(
  'where Node.js cannot read the system store, =system is a setting error naming the version it needs',
  { skip: !noSystemStore && `Node.js ${process.version} reads the system trust store` },
  async () => {
    const { sim, run } = await setup({ https: true, instances: 1 }, { APS_CA_FILE: 'system' });
    const result = await run(['sync']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `o365-backsync: APS_CA_FILE: 'system' (the host's trust store) needs Node.js ${SYSTEM_STORE_NODE} or later, this is ${process.version}: upgrade Node.js, or set it to the CA's PEM file\n`,
    );
    assert.equal(sim.stats.oaCalls.length, 0);
  },
);

/**
 * A host that keeps its store as RHEL does, under /etc/pki alone: the CLI runs in a mount namespace
 * whose /etc is empty but for the loader's cache and /etc/pki/tls/certs/ca-bundle.crt, which holds
 * the simulator's CA. Node.js's own reader (OpenSSL's /etc/ssl) finds nothing there.
 */
const noRhelRoot =
  noSystemStore ||
  (process.getuid?.() !== 0 && 'needs root, to mount /etc in a namespace of its own') ||
  missing('unshare');

test(
  "APS_CA_FILE=system finds RHEL's store, /etc/pki/tls/certs/ca-bundle.crt, on a host without /etc/ssl",
  { skip: noRhelRoot },
  async () => {
    const s = await setup({ https: true, instances: 1, tenantsPerInstance: 3 }, { APS_CA_FILE: 'system' });
    const realEtc = join(s.w.cwd, 'real-etc');
    mkdirSync(realEtc);
    const rhelEtc = [
      'mount --bind /etc "$0"',
      'mount -t tmpfs rhel-etc /etc',
      'cp "$0/ld.so.cache" /etc/',
      'mkdir -p /etc/pki/tls/certs',
      `cp ${s.sim.caFile} /etc/pki/tls/certs/ca-bundle.crt`,
      'exec "$@"',
    ].join(' && ');
    const pass = await runCliThrough(
      ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', rhelEtc, realEtc],
      ['sync', '--json'],
      s.env,
      s.w.cwd,
    );
    assert.equal(pass.code, 0, pass.stderr);
    assert.equal(summaryOf(pass).synced, 3);
  },
);
