import { performance } from 'node:perf_hooks';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import { BodyTooLargeError, NetworkError, type Remote, TlsError } from '../errors';
import { SharedDeadlines } from './deadlines';
import { certificateRefusal, PIN_REFUSED, pinned } from './certificates';
import { trustedCas } from './trust';

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
  /** A PEM file of the CAs to trust, or `system` for the host's trust store. */
  caFile?: string;
  insecure?: boolean;
  /** Hex SHA-256 of the peer certificate (DER), without colons. */
  pinSha256?: string;
  /** The setting an operator changes when the certificate is refused. */
  tlsFix: string;
  /** The same when the certificate is not the pinned one. */
  pinFix?: string;
  /** Told about every exchange, answered or not (--trace). Absent, sending costs nothing extra. */
  observer?: ExchangeObserver;
}

/** One request and what came of it, as `--trace` records it. */
export interface Exchange {
  request: SendOptions;
  /** Wall-clock time the request was sent (ms since the epoch). */
  startedAt: number;
  /** From sending until the reply's headers, and from then until its body was read (ms). */
  waitMs: number;
  receiveMs: number;
  /** The reply; on a failure, whatever arrived of it (status and headers, a body cut short). */
  reply?: Reply;
  error?: Error;
}

export interface ExchangeObserver {
  exchanged(exchange: Exchange): void;
}

/** Where an exchange got to, filled in as it goes, for the observer. */
interface Progress {
  headersAt?: number;
  reply?: Reply;
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
  /** Abandons the exchange when raised (the run's stop signal): no wait outlives a SIGTERM. */
  stop?: AbortSignal;
  /** A bound of this reply's own, below MAX_REPLY_BYTES, and the setting that sets it, for the message. */
  limit?: { bytes: number; setting: string };
}

/**
 * An error reply is read for its message and status only: this much is plenty, and the rest is dropped
 * rather than refused, so that the status still decides what the failure is.
 */
export const ERROR_REPLY_BYTES = 64 * 1024;

export class Transport {
  private readonly agent: Agent;
  private readonly deadlines: SharedDeadlines;

  constructor(private readonly options: TransportOptions) {
    const { caFile, pinSha256 } = options;
    // Only options that are set are passed: an explicit `checkServerIdentity: undefined` replaces Node's
    // default check and every https request then dies in an internal assertion. A pinned certificate
    // is trusted by its fingerprint, so the CA chain is checked only when a CA file is given as well.
    const tls = {
      ...(caFile ? { ca: trustedCas(caFile) } : {}),
      rejectUnauthorized: !options.insecure && (!pinSha256 || caFile !== undefined),
    };
    this.deadlines = new SharedDeadlines(options.requestTimeoutMs);
    this.agent = new Agent({
      connections: options.connections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: 10_000,
      // No TLS session is resumed under a pin: a resumed session shows no certificate to compare.
      connect: pinSha256 ? pinned(buildConnector({ ...tls, timeout: options.connectTimeoutMs, maxCachedSessions: 0 }), pinSha256) : tls,
    });
  }

  /**
   * REQUEST_TIMEOUT_MS bounds the whole exchange, reply body included, through a signal shared with the
   * requests that started within the same moment (deadlines.ts). AbortSignal.timeout() per request
   * left each request's timer in Node's timer list until it fired (a minute by default): at hundreds of
   * requests a second, those timers and the signals they reach were most of the heap's growth over a
   * long pass; shared, one is started per 100 ms at most.
   */
  send(req: SendOptions): Promise<Reply> {
    const deadline = this.deadlines.signal();
    const { observer } = this.options, signal = req.stop ? AbortSignal.any([deadline, req.stop]) : deadline;
    return observer ? this.observed(req, signal, observer) : this.exchange(req, signal);
  }

  private async observed(req: SendOptions, signal: AbortSignal, observer: ExchangeObserver): Promise<Reply> {
    const startedAt = Date.now();
    const sentAt = performance.now();
    const progress: Progress = {};
    const report = (reply: Reply | undefined, error?: Error): void => {
      const endedAt = performance.now();
      const headersAt = progress.headersAt ?? endedAt;
      observer.exchanged({ request: req, startedAt, waitMs: headersAt - sentAt, receiveMs: endedAt - headersAt, reply, error });
    };
    try {
      const reply = await this.exchange(req, signal, progress);
      report(reply);
      return reply;
    } catch (e) {
      report(progress.reply, e as Error);
      throw e;
    }
  }

  private async exchange(req: SendOptions, signal: AbortSignal, progress?: Progress): Promise<Reply> {
    const { remote, maxBodyBytes } = this.options;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        dispatcher: this.agent,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body,
        signal,
      });
    } catch (e) {
      throw this.failure(req.url, e);
    }
    if (progress) {
      progress.headersAt = performance.now();
      progress.reply = { status: res.statusCode, headers: res.headers, body: Buffer.alloc(0) };
    }
    const failed = res.statusCode < 200 || res.statusCode > 299;
    const limit = req.limit && req.limit.bytes < maxBodyBytes ? req.limit : { bytes: maxBodyBytes, setting: 'MAX_REPLY_BYTES' };
    const maxBytes = failed ? Math.min(ERROR_REPLY_BYTES, limit.bytes) : limit.bytes;
    const tooLarge = (): BodyTooLargeError => new BodyTooLargeError(remote, limit.bytes, req.what, limit.setting);
    const declared = Number(res.headers['content-length']);
    if (!failed && Number.isFinite(declared) && declared > maxBytes) {
      discard(res.body);
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        // Kept even when it breaks the limit, so a trace shows how the oversized reply began.
        chunks.push(chunk as Buffer);
        if (size > maxBytes) {
          discard(res.body);
          if (failed) return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).subarray(0, maxBytes) };
          throw tooLarge();
        }
      }
    } catch (e) {
      if (progress) progress.reply!.body = Buffer.concat(chunks);
      if (e instanceof BodyTooLargeError) throw e;
      throw this.failure(req.url, e);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private failure(url: string, e: unknown): Error {
    const { remote, requestTimeoutMs, tlsFix, pinFix } = this.options;
    const where = new URL(url).origin;
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = err.code ?? err.cause?.code ?? '';
    // undici hands TLS's error over as is, or (from its connector) as the cause of its own.
    const tlsError = (err.code ? err : err.cause) as (NodeJS.ErrnoException & { reason?: unknown }) | undefined;
    if (code === PIN_REFUSED) return new TlsError(remote, where, tlsError!.message, pinFix ?? tlsFix, { cause: e });
    const refusal = certificateRefusal(code);
    if (refusal) {
      // The host name check says which name was asked for and which names the certificate holds.
      const names = code === 'ERR_TLS_CERT_ALTNAME_INVALID' && typeof tlsError?.reason === 'string' ? ` (${tlsError.reason})` : '';
      return new TlsError(remote, where, `${refusal}${names}`, tlsFix, { cause: e });
    }
    if (err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code)) {
      return new NetworkError(remote, where, `no answer within ${code === 'UND_ERR_CONNECT_TIMEOUT' ? this.options.connectTimeoutMs : requestTimeoutMs} ms`, { cause: e });
    }
    // OpenSSL's own words for this are a line of internals; the usual cause is an https URL for a plain-http port.
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return new NetworkError(remote, where, 'answered, but not with TLS (is it plain http?)', { cause: e });
    return new NetworkError(remote, where, code ? `${code} ${err.message}`.trim() : err.message, { cause: e });
  }
}

/** Drops a reply body we will not read; undici reports the abort as an error nobody needs. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}
