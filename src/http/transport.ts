import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import { BodyTooLargeError, NetworkError, type Remote, TlsError } from '../errors';

/**
 * The one way this tool sends an HTTP request: bounded in time and size, and with undici's and TLS's
 * failures turned into our typed errors. Both the OA and the APS adapters go through it.
 */
export interface TransportOptions {
  remote: Remote;
  /** Connections kept per origin; match it to the number of concurrent requests. */
  connections: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  caFile?: string;
  insecure?: boolean;
  /** Hex SHA-256 of the peer certificate (DER), without colons. */
  pinSha256?: string;
  /** The setting an operator changes when the certificate is refused. */
  tlsFix: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SendOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Says what the reply is, for the size-limit message ("tenant list page"). */
  what: string;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_OBS_CERT_PIN',
]);

export class Transport {
  private readonly agent: Agent;

  constructor(private readonly options: TransportOptions) {
    const { pinSha256 } = options;
    this.agent = new Agent({
      connections: options.connections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: 10_000,
      connect: {
        ca: options.caFile ? readFileSync(options.caFile) : undefined,
        rejectUnauthorized: !options.insecure,
        checkServerIdentity: pinSha256 ? (_host: string, cert: PeerCertificate) => checkPin(cert, pinSha256) : undefined,
      },
    });
  }

  async send(req: SendOptions): Promise<Reply> {
    const { remote, requestTimeoutMs, maxBodyBytes } = this.options;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        dispatcher: this.agent,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (e) {
      throw this.failure(req.url, e);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      discard(res.body);
      throw new BodyTooLargeError(remote, maxBodyBytes, req.what);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBodyBytes) {
          discard(res.body);
          throw new BodyTooLargeError(remote, maxBodyBytes, req.what);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw e;
      throw this.failure(req.url, e);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private failure(url: string, e: unknown): Error {
    const { remote, requestTimeoutMs, tlsFix } = this.options;
    const where = new URL(url).origin;
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = err.code ?? err.cause?.code ?? '';
    if (TLS_CODES.has(code)) return new TlsError(remote, where, err.message, tlsFix, { cause: e });
    if (err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code)) {
      return new NetworkError(remote, where, `no answer within ${code === 'UND_ERR_CONNECT_TIMEOUT' ? this.options.connectTimeoutMs : requestTimeoutMs} ms`, { cause: e });
    }
    return new NetworkError(remote, where, code ? `${code} ${err.message}`.trim() : err.message, { cause: e });
  }
}

/** Drops a reply body we will not read; undici reports the abort as an error nobody needs. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function checkPin(cert: PeerCertificate, pinSha256: string): Error | undefined {
  const actual = createHash('sha256').update(cert.raw).digest('hex');
  if (actual === pinSha256) return undefined;
  const err = new Error(`fingerprint ${actual} does not match the pinned ${pinSha256}`) as NodeJS.ErrnoException;
  err.code = 'ERR_OBS_CERT_PIN';
  return err;
}
