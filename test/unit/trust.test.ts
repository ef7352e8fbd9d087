import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SYSTEM_BUNDLES, systemStore } from '../../src/http/trust';
import { scratchDir } from '../tmp';

/** APS_CA_FILE=system: Node.js's reader first, else the distribution's own bundle, RHEL's included. */
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** A root laid out as a RHEL host keeps its store: under /etc/pki only, no /etc/ssl. */
function rhelRoot(): string[] {
  const root = scratchDir('obs-trust-');
  const bundle = join(root, 'etc/pki/tls/certs/ca-bundle.crt');
  mkdirSync(join(root, 'etc/pki/tls/certs'), { recursive: true });
  writeFileSync(bundle, PEM);
  return SYSTEM_BUNDLES.map((path) => join(root, path));
}

test("the bundles looked for hold Debian's and RHEL's store", () => {
  assert.ok(SYSTEM_BUNDLES.includes('/etc/ssl/certs/ca-certificates.crt'));
  assert.ok(SYSTEM_BUNDLES.includes('/etc/pki/tls/certs/ca-bundle.crt'));
});

test("where Node.js's reader finds nothing, the first bundle that exists is read: RHEL's on a RHEL host", () => {
  const store = systemStore(() => [], rhelRoot());
  assert.equal(store.toString(), PEM);
});

test("what Node.js's reader finds is used as it is", () => {
  assert.deepEqual(
    systemStore(() => [PEM], rhelRoot()),
    [PEM],
  );
});

test('no store anywhere trusts nothing', () => {
  const root = scratchDir('obs-trust-');
  assert.deepEqual(
    systemStore(
      () => [],
      SYSTEM_BUNDLES.map((path) => join(root, path)),
    ),
    [],
  );
});
