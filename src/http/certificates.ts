import { createHash } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';

/** How the transport (transport.ts) tells a refused certificate, and how it holds a controller to a pin. */

/**
 * Node's codes for a refused certificate (OpenSSL's verify results, and its own host name check), each
 * with OpenSSL's words for it. The message is built from the code rather than taken from Node, which
 * from Node.js 24 on adds advice about its own --use-system-ca flag: a flag no cron job passes, where
 * this tool's fix is a setting (APS_CA_FILE=system reads the same store).
 */
const TLS_REFUSALS = new Map([
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
  ['UNABLE_TO_GET_ISSUER_CERT', 'unable to get issuer certificate'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'],
  ['UNABLE_TO_DECRYPT_CERT_SIGNATURE', "unable to decrypt certificate's signature"],
  ['UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'unable to decode issuer public key'],
  ['CERT_SIGNATURE_FAILURE', 'certificate signature failure'],
  ['CERT_HAS_EXPIRED', 'certificate has expired'],
  ['CERT_NOT_YET_VALID', 'certificate is not yet valid'],
  ['ERROR_IN_CERT_NOT_BEFORE_FIELD', "format error in certificate's notBefore field"],
  ['ERROR_IN_CERT_NOT_AFTER_FIELD', "format error in certificate's notAfter field"],
  ['CERT_CHAIN_TOO_LONG', 'certificate chain too long'],
  ['CERT_REVOKED', 'certificate revoked'],
  ['INVALID_CA', 'invalid CA certificate'],
  ['PATH_LENGTH_EXCEEDED', 'path length constraint exceeded'],
  ['INVALID_PURPOSE', 'unsupported certificate purpose'],
  ['CERT_UNTRUSTED', 'certificate not trusted'],
  ['CERT_REJECTED', 'certificate rejected'],
  ['HOSTNAME_MISMATCH', 'hostname mismatch'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', "the host name is not among the certificate's names"],
]);

/** Our own refusal of a certificate that is not the pinned one; its message is ours too. */
export const PIN_REFUSED = 'ERR_OBS_CERT_PIN';

/** OpenSSL's words for a certificate refusal code; undefined when the code is not a refusal. */
export function certificateRefusal(code: string): string | undefined {
  return TLS_REFUSALS.get(code);
}

/**
 * Checks the pin on every new connection, after the handshake. Node's `checkServerIdentity` would not
 * do: it is skipped when the chain does not verify (the pin-only case) and on resumed TLS sessions.
 */
export function pinned(connect: buildConnector.connector, pinSha256: string): buildConnector.connector {
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (err) return callback(err, null);
      const cert = options.protocol === 'https:' ? (socket as TLSSocket).getPeerCertificate() : undefined;
      const problem = checkPin(cert, pinSha256);
      if (!problem) return callback(null, socket);
      socket.destroy();
      callback(problem, null);
    });
}

function checkPin(cert: PeerCertificate | undefined, pinSha256: string): Error | undefined {
  const actual = cert?.raw ? createHash('sha256').update(cert.raw).digest('hex') : undefined;
  if (actual === pinSha256) return undefined;
  const err = new Error(
    actual
      ? `its SHA-256 fingerprint ${actual} is not the pinned ${pinSha256}`
      : 'there is no certificate to compare with the pinned fingerprint (not https?)',
  ) as NodeJS.ErrnoException;
  err.code = PIN_REFUSED;
  return err;
}
