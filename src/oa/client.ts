import { NetworkError, OaHttpError, ProtocolError } from '../errors';
import { parseRetryAfter, withRetries, type RetryOptions } from '../http/retry';
import { type ExchangeObserver, type Reply, Transport } from '../http/transport';
import { trustFix } from '../http/trust';
import { basicCredentials } from '../http/basic-auth';
import type { Instance, InstanceDirectory, InstanceToken } from '../sync/ports';
import { decodeReply, encodeCall } from './codec';
import { integer, nonEmptyString, struct, unexpected } from './shapes';
import { excerpt, htmlHeadline } from '../http/remote-text';

/** Where OA is and how to talk to it; the run's settings (OA_HOST, OA_PORT, ...) have these names. */
export interface OaClientOptions {
  oaHost: string;
  oaPort: number;
  oaTls: boolean;
  oaUser?: string;
  oaPassword?: string;
  /** A PEM file of the CAs to trust, or `system`. */
  oaCaFile?: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
  retries: number;
  retryMaxDelayMs: number;
}

/** The OA Public API (XML-RPC over HTTP), as far as the pass needs it. */
export class OaClient implements InstanceDirectory {
  private readonly transport: Transport;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  /**
   * `stop` is the run's stop signal: it ends retries and their waits, and abandons a request in flight.
   * `onRetry` hears each failure that is tried again, before the wait.
   */
  constructor(
    private readonly config: OaClientOptions,
    observer?: ExchangeObserver,
    private readonly stop?: AbortSignal,
    private readonly onRetry?: RetryOptions['onRetry'],
  ) {
    // The pass asks OA for one thing at a time, so one connection is enough.
    this.transport = new Transport({
      remote: 'oa',
      connections: 1,
      connectTimeoutMs: config.connectTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      maxBodyBytes: config.maxBodyBytes,
      caFile: config.oaCaFile,
      tlsFix: trustFix('OA_CA_FILE', config.oaCaFile, 'OA certificate'),
      observer,
    });
    const host = config.oaHost.includes(':') && !config.oaHost.startsWith('[') ? `[${config.oaHost}]` : config.oaHost;
    this.url = `${config.oaTls ? 'https' : 'http'}://${host}:${config.oaPort}/RPC2`;
    this.headers = { 'content-type': 'text/xml' };
    if (config.oaUser !== undefined && config.oaPassword !== undefined) {
      this.headers.authorization = `Basic ${basicCredentials(config.oaUser, config.oaPassword)}`;
    }
  }

  /** Calls are reads, so a transient failure is simply tried again. */
  async call(method: string, args: Record<string, unknown>): Promise<unknown> {
    const body = encodeCall(method, args);
    const reply = await withRetries(() => this.post(method, body), {
      retries: this.config.retries,
      maxDelayMs: this.config.retryMaxDelayMs,
      stop: this.stop,
      onRetry: this.onRetry,
    });
    try {
      return await decodeReply(method, reply.body);
    } catch (e) {
      throw e instanceof ProtocolError && looksLikeHtml(reply.body) ? htmlPage(method, reply) : e;
    }
  }

  async listInstances(appId: number): Promise<Instance[]> {
    const method = 'pem.APS.getApplicationInstances';
    const result = await this.call(method, { app_id: safeId('app_id', appId) });
    if (!Array.isArray(result)) throw unexpected(method, 'result', 'an array of instances', result);
    return result.map((item, i) => {
      const instance = struct(method, `result[${i}]`, item);
      return {
        id: integer(method, `result[${i}].application_instance_id`, instance.application_instance_id),
        resourceId: nonEmptyString(method, `result[${i}].application_resource_id`, instance.application_resource_id),
      };
    });
  }

  async issueToken(instanceId: number): Promise<InstanceToken> {
    const method = 'pem.APS.getApplicationInstanceToken';
    const result = struct(
      method,
      'result',
      await this.call(method, { application_instance_id: safeId('application_instance_id', instanceId) }),
    );
    const token = nonEmptyString(method, 'result.aps_token', result.aps_token);
    // The token travels in the APS-Token header: a character a header cannot carry (CR, LF, anything
    // outside printable ASCII) would fail every request as if the controller were unreachable.
    if (!HEADER_TOKEN.test(token))
      throw new ProtocolError(
        'oa',
        `OA issued an invalid token for instance ${instanceId}: it holds characters an HTTP header cannot carry (only printable ASCII can)`,
      );
    const uri = result.controller_uri;
    if (uri === undefined || uri === '') return { token };
    if (typeof uri !== 'string' || !URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol)) {
      throw unexpected(method, 'result.controller_uri', 'an http(s) URL', uri);
    }
    return { token, controllerUri: uri };
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  // The status is checked before any XML parsing, and so is a page declared as HTML: fed to the XML-RPC
  // parser it only yields "Unknown XML-RPC tag 'TITLE'". Any other content type, or none, is parsed:
  // OA's is undocumented and public clients ignore it (src/oa/README.md).
  private async post(method: string, body: string): Promise<Reply> {
    const reply = await this.transport
      .send({ method: 'POST', url: this.url, headers: this.headers, body, what: `OA ${method} reply`, stop: this.stop })
      .catch((e: unknown) => {
        throw e instanceof NetworkError && this.stop?.aborted
          ? new NetworkError('oa', e.url, 'request abandoned: the run is stopping', { cause: e })
          : e;
      });
    if (reply.status !== 200) {
      throw new OaHttpError(
        reply.status,
        errorPageWords(reply),
        parseRetryAfter(reply.headers['retry-after']),
        this.headers.authorization !== undefined,
      );
    }
    if (/^(text\/html|application\/xhtml)/i.test(headerValue(reply, 'content-type'))) throw htmlPage(method, reply);
    return reply;
  }
}

const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** Ids travel as XML-RPC integers; anything else would go out as a <double> or a rounded <int>. */
function safeId(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
  return value;
}

function headerValue(reply: Reply, name: string): string {
  const value = reply.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** A page sent where an XML-RPC reply was expected (a proxy's or a web server's), named by its headline. */
function htmlPage(method: string, reply: Reply): ProtocolError {
  const type = excerpt(headerValue(reply, 'content-type'), 100) || 'none';
  const headline = htmlHeadline(reply.body.toString('utf8'), 200);
  return new ProtocolError(
    'oa',
    `OA ${method}: expected an XML-RPC reply, got an HTML page (content type '${type}')${headline ? `: ${headline}` : ''}`,
  );
}

/** An HTML document, whatever its content type says: it opens with a doctype or an <html> tag. */
function looksLikeHtml(body: Buffer): boolean {
  return /^\s*<(!doctype\s+html|html[\s>])/i.test(body.subarray(0, 256).toString('utf8'));
}

/** The gist of an error page: its title if it has one, else the start of its text. */
function errorPageWords(reply: Reply): string {
  if (!/^(text\/|application\/(xml|json|xhtml))/i.test(headerValue(reply, 'content-type'))) return '';
  const page = reply.body.toString('utf8');
  return htmlHeadline(page, 200) ?? excerpt(page.replace(/<[^>]*>/g, ' '), 200);
}
