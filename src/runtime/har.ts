import { STATUS_CODES } from 'node:http';
import type { Exchange, Reply } from '../http/transport';
import { withSecretsBlanked } from '../http/remote-text';

/**
 * One HTTP exchange as a HAR 1.2 entry (http://www.softwareishard.com/blog/har-12-spec/), the format
 * every browser's developer tools open. Headers that carry credentials are blanked here, by name; the
 * secrets a remote may echo elsewhere (in a body, an error text) are the trace file's SecretScrubber's.
 */
export const PLACEHOLDER = '[REDACTED]';
/** Bodies are kept up to this many bytes: enough for any error page or report, not a whole tenant list. */
export const BODY_LIMIT = 64 * 1024;
const SECRET_HEADERS = new Set(['aps-token', 'authorization', 'proxy-authorization']);

export interface HarHeader {
  name: string;
  value: string;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: [];
    headers: HarHeader[];
    queryString: HarHeader[];
    postData?: { mimeType: string; text: string };
    headersSize: -1;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: [];
    headers: HarHeader[];
    content: { size: number; mimeType: string; text?: string; comment?: string };
    redirectURL: string;
    headersSize: -1;
    bodySize: number;
    /** Why there is no (complete) response, as Chrome's HAR export says it. */
    _error?: string;
  };
  cache: Record<string, never>;
  timings: { blocked: -1; dns: -1; connect: -1; ssl: -1; send: number; wait: number; receive: number };
  comment?: string;
}

export function harEntry(exchange: Exchange): HarEntry {
  const { request, reply, error } = exchange;
  const requestHeaders = Object.entries(request.headers ?? {}).map(([name, value]) => header(name, value));
  const requestBody = request.body === undefined ? undefined : Buffer.from(request.body);
  const notes: string[] = [];
  if (requestBody && requestBody.length > BODY_LIMIT)
    notes.push(`request body cut at ${BODY_LIMIT} of ${requestBody.length} bytes`);
  if (reply && reply.body.length > BODY_LIMIT)
    notes.push(`response body cut at ${BODY_LIMIT} of ${reply.body.length} bytes`);
  if (error) notes.push(reply ? `${error.message} (after ${reply.body.length} bytes of the body)` : error.message);
  const wait = round(exchange.waitMs);
  const receive = round(exchange.receiveMs);
  return {
    startedDateTime: new Date(exchange.startedAt).toISOString(),
    time: wait + receive,
    request: {
      method: request.method,
      url: request.url,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: requestHeaders,
      queryString: [...new URL(request.url).searchParams].map(([name, value]) => ({ name, value })),
      ...(requestBody
        ? { postData: { mimeType: headerValue(requestHeaders, 'content-type') ?? '', text: cut(requestBody) } }
        : {}),
      headersSize: -1,
      bodySize: requestBody?.length ?? 0,
    },
    response: { ...(reply ? response(reply) : noResponse()), ...(error ? { _error: error.message } : {}) },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait, receive },
    ...(notes.length ? { comment: notes.join('; ') } : {}),
  };
}

function response(reply: Reply): HarEntry['response'] {
  const headers = Object.entries(reply.headers).flatMap(([name, value]) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => header(name, v)),
  );
  return {
    status: reply.status,
    statusText: STATUS_CODES[reply.status] ?? '',
    httpVersion: 'HTTP/1.1',
    cookies: [],
    headers,
    content: {
      size: reply.body.length,
      mimeType: headerValue(headers, 'content-type') ?? 'x-unknown',
      text: cut(reply.body),
      ...(reply.body.length > BODY_LIMIT ? { comment: `cut at ${BODY_LIMIT} of ${reply.body.length} bytes` } : {}),
    },
    redirectURL: '',
    headersSize: -1,
    bodySize: reply.body.length,
  };
}

/** HAR's way of saying no response arrived: status 0, nothing else. */
function noResponse(): HarEntry['response'] {
  return {
    status: 0,
    statusText: '',
    httpVersion: '',
    cookies: [],
    headers: [],
    content: { size: 0, mimeType: 'x-unknown' },
    redirectURL: '',
    headersSize: -1,
    bodySize: 0,
  };
}

function header(name: string, value: string): HarHeader {
  return { name, value: SECRET_HEADERS.has(name.toLowerCase()) ? PLACEHOLDER : value };
}

function headerValue(headers: HarHeader[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name)?.value;
}

/** The body up to BODY_LIMIT bytes, its secrets blanked first so that the cut cannot split one. */
function cut(body: Buffer): string {
  if (body.length <= BODY_LIMIT) return body.toString('utf8');
  return Buffer.from(withSecretsBlanked(body.toString('utf8')))
    .subarray(0, BODY_LIMIT)
    .toString('utf8');
}

/** HAR times are milliseconds; a microsecond is more than a trace needs. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
