import { performance } from 'node:perf_hooks';
import type { Agent, Dispatcher } from 'undici';
import { BodyTooLargeError, NetworkError, openFilesLimit, type Remote, TlsError } from '../errors';
import { SharedDeadlines } from './deadlines';
import { ReplyReader, type Reply } from './reply-reader';
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

export type { Reply };

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
    // Loaded here, through undici's public entry, so that runs which send nothing (not due, lock busy,
    // status) never load it.
    const { Agent, buildConnector } = require('undici') as typeof import('undici');
    this.agent = new Agent({
      connections: options.connections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: 10_000,
      // No TLS session is resumed under a pin: a resumed session shows no certificate to compare.
      connect: pinSha256
        ? pinned(buildConnector({ ...tls, timeout: options.connectTimeoutMs, maxCachedSessions: 0 }), pinSha256)
        : tls,
    });
  }

  /**
   * REQUEST_TIMEOUT_MS bounds the whole exchange, reply body included, through a deadline shared with
   * the requests that started within the same moment (deadlines.ts). AbortSignal.timeout() per request
   * leaves each request's timer in Node's timer list until it fires (a minute by default): at hundreds
   * of requests a second, those timers and the signals they reach would be most of the heap's growth
   * over a long pass; shared, one is started per 100 ms at most.
   */
  send(req: SendOptions): Promise<Reply> {
    const { observer } = this.options;
    return observer ? this.observed(req, observer) : this.exchange(req);
  }

  private async observed(req: SendOptions, observer: ExchangeObserver): Promise<Reply> {
    const startedAt = Date.now();
    const sentAt = performance.now();
    const progress: Progress = {};
    const report = (reply: Reply | undefined, error?: Error): void => {
      const endedAt = performance.now();
      const headersAt = progress.headersAt ?? endedAt;
      observer.exchanged({
        request: req,
        startedAt,
        waitMs: headersAt - sentAt,
        receiveMs: endedAt - headersAt,
        reply,
        error,
      });
    };
    try {
      const reply = await this.exchange(req, progress);
      report(reply);
      return reply;
    } catch (e) {
      report(progress.reply, e as Error);
      throw e;
    }
  }

  /**
   * Straight to undici's dispatcher, without `request()`'s stream and abort-signal listener per reply
   * (reply-reader.ts): the deadline and the run's stop end the exchange through its reader.
   */
  private exchange(req: SendOptions, progress?: Progress): Promise<Reply> {
    const { remote, maxBodyBytes } = this.options;
    const limit =
      req.limit && req.limit.bytes < maxBodyBytes ? req.limit : { bytes: maxBodyBytes, setting: 'MAX_REPLY_BYTES' };
    const { stop } = req;
    // Not even queued for a connection, which could take up to CONNECT_TIMEOUT_MS to be refused.
    if (stop?.aborted) return Promise.reject(this.failure(req.url, stopReason(stop)));
    return new Promise((resolve, reject) => {
      const reader = new ReplyReader(
        limit.bytes,
        (how) => {
          deadline.delete(reader);
          stop?.removeEventListener('abort', stopped);
          if ('reply' in how) return resolve(how.reply);
          if (progress) progress.reply = 'tooLarge' in how ? how.tooLarge : how.partial;
          reject(
            'tooLarge' in how
              ? new BodyTooLargeError(remote, limit.bytes, req.what, limit.setting)
              : this.failure(req.url, how.error),
          );
        },
        progress &&
          ((reply) => {
            progress.headersAt = performance.now();
            progress.reply = reply;
          }),
      );
      const stopped = (): void => reader.abort(stopReason(stop!));
      const deadline = this.deadlines.join(reader);
      stop?.addEventListener('abort', stopped);
      const { origin, path } = splitUrl(req.url);
      this.agent.dispatch(
        { origin, path, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body },
        reader,
      );
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private failure(url: string, e: unknown): Error {
    const { remote, requestTimeoutMs, tlsFix, pinFix } = this.options;
    const where = new URL(url).origin;
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const hostLimit = openFilesLimit(e);
    if (hostLimit) return hostLimit;
    const code = err.code ?? err.cause?.code ?? '';
    // undici hands TLS's error over as is, or (from its connector) as the cause of its own.
    const tlsError = (err.code ? err : err.cause) as (NodeJS.ErrnoException & { reason?: unknown }) | undefined;
    if (code === PIN_REFUSED) return new TlsError(remote, where, tlsError!.message, pinFix ?? tlsFix, { cause: e });
    const refusal = certificateRefusal(code);
    if (refusal) {
      // The host name check says which name was asked for and which names the certificate holds.
      const names =
        code === 'ERR_TLS_CERT_ALTNAME_INVALID' && typeof tlsError?.reason === 'string' ? ` (${tlsError.reason})` : '';
      return new TlsError(remote, where, `${refusal}${names}`, tlsFix, { cause: e });
    }
    if (err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code)) {
      return new NetworkError(
        remote,
        where,
        `no answer within ${code === 'UND_ERR_CONNECT_TIMEOUT' ? this.options.connectTimeoutMs : requestTimeoutMs} ms`,
        { cause: e },
      );
    }
    // OpenSSL's own words for this are a line of internals; the usual cause is an https URL for a plain-http port.
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER')
      return new NetworkError(remote, where, 'answered, but not with TLS (is it plain http?)', { cause: e });
    return new NetworkError(remote, where, code ? `${code} ${err.message}`.trim() : err.message, { cause: e });
  }
}

/** What the run's stop gave as its reason, as undici wants it: an Error. */
function stopReason(stop: AbortSignal): Error {
  return stop.reason instanceof Error ? stop.reason : new DOMException('The operation was aborted', 'AbortError');
}

/**
 * The dispatcher takes the origin and the path apart. Our URLs are built on bases parsed as URLs
 * (the settings, OA's controller URI), so the path starts at the first slash after the host.
 */
function splitUrl(url: string): { origin: string; path: string } {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash < 0 ? { origin: url, path: '/' } : { origin: url.slice(0, slash), path: url.slice(slash) };
}
