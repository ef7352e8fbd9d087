import { existsSync, readFileSync } from 'node:fs';
import * as tls from 'node:tls';

/**
 * Which CAs a connection trusts. `APS_CA_FILE` and `OA_CA_FILE` name a PEM file, or `system`: the
 * host's own trust store, where operators have often installed the installation's CA already.
 */
export const SYSTEM_STORE = 'system';

/** The first Node.js release of the 22 line with `tls.getCACertificates('system')` (23.10 on the 23 line). */
export const SYSTEM_STORE_NODE = '22.15';

export type CaReader = (type: 'system') => string[];

/**
 * Reads the host's CA certificates as Node.js does for --use-system-ca (on Linux, OpenSSL's default
 * file and folder, which SSL_CERT_FILE and SSL_CERT_DIR override). Node.js 20 has no such reader.
 */
const readSystemStore = (tls as unknown as { getCACertificates?: CaReader }).getCACertificates;

export function canReadSystemStore(): boolean {
  return typeof readSystemStore === 'function';
}

/**
 * The CA bundles Linux distributions keep, Debian's and RHEL's first. Node.js's reader looks only where
 * its own OpenSSL was built to (/etc/ssl/cert.pem and /etc/ssl/certs), which a host or an image that
 * keeps its store under /etc/pki alone does not have.
 */
export const SYSTEM_BUNDLES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // RHEL, CentOS, Fedora
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // RHEL 7 on, what the line above links to
  '/etc/ssl/ca-bundle.pem', // SUSE
];

/** The CAs for a connection's `ca` option: the certificates of the PEM file, or of the host's store. */
export function trustedCas(caFile: string): Buffer | string[] {
  if (caFile !== SYSTEM_STORE) return readFileSync(caFile);
  // The settings were checked before any connection is made, so Node.js can read the store here.
  return systemStore(readSystemStore!);
}

/**
 * The host's store: what Node.js reads there, else the first bundle of `bundles` that exists. None
 * at all leaves nothing trusted, and the certificate's refusal names the setting to change.
 */
export function systemStore(read: CaReader, bundles: readonly string[] = SYSTEM_BUNDLES): Buffer | string[] {
  const certificates = read('system');
  if (certificates.length) return certificates;
  const bundle = bundles.find((path) => existsSync(path));
  return bundle ? readFileSync(bundle) : [];
}

/** What to change when a certificate is refused, for the setting that names the CAs to trust. */
export function trustFix(variable: string, caFile: string | undefined, certificate: string): string {
  return caFile === SYSTEM_STORE
    ? `the host's trust store (${variable}=${SYSTEM_STORE}) does not hold the CA that issued the ${certificate}: add it there, or set ${variable} to the PEM of that CA`
    : `set ${variable} to the PEM of the CA that issued the ${certificate}`;
}
