import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

/**
 * Which CAs a connection trusts. `APS_CA_FILE` and `OA_CA_FILE` name a PEM file, or `system`: the
 * host's own trust store, where operators have often installed the installation's CA already.
 */
export const SYSTEM_STORE = 'system';

/** The first Node.js release of the 22 line with `tls.getCACertificates('system')` (23.10 on the 23 line). */
export const SYSTEM_STORE_NODE = '22.15';

type CaReader = (type: 'system') => string[];

/**
 * Reads the host's CA certificates as Node.js does for --use-system-ca (on Linux, OpenSSL's default
 * file and folder, which SSL_CERT_FILE and SSL_CERT_DIR override). Node.js 20 has no such reader.
 */
const readSystemStore = (tls as unknown as { getCACertificates?: CaReader }).getCACertificates;

export function canReadSystemStore(): boolean {
  return typeof readSystemStore === 'function';
}

/** The CAs for a connection's `ca` option: the certificates of the PEM file, or of the host's store. */
export function trustedCas(caFile: string): Buffer | string[] {
  if (caFile !== SYSTEM_STORE) return readFileSync(caFile);
  // The settings were checked before any connection is made, so Node.js can read the store here.
  return readSystemStore!('system');
}

/** What to change when a certificate is refused, for the setting that names the CAs to trust. */
export function trustFix(variable: string, caFile: string | undefined, certificate: string): string {
  return caFile === SYSTEM_STORE
    ? `the host's trust store (${variable}=${SYSTEM_STORE}) does not hold the CA that issued the ${certificate}: add it there, or set ${variable} to the PEM of that CA`
    : `set ${variable} to the PEM of the CA that issued the ${certificate}`;
}
