import { STATUS_CODES } from 'node:http';
import { ApsError } from '../errors';
import type { Reply } from '../http/transport';
import { parseRetryAfter } from '../http/retry';
import { parseBoundedJson } from '../http/bounded-json';
import { excerpt, htmlHeadline } from '../http/remote-text';

/**
 * Turns a controller's non-2xx reply into an ApsError carrying the remote's own words. The controller
 * answers JSON (`{code, error|type, message}`), and its message is what decides a token refusal
 * ("Authentication failed."), so it is kept whole apart from folding and cut only well beyond any real
 * message. A proxy in front answers an HTML page whose title or heading is the only readable part.
 * Anything else says no more than the status does.
 */
const JSON_MESSAGE_MAX = 500;
const HTML_MESSAGE_MAX = 200;

export function apsErrorFromReply(reply: Reply): ApsError {
  const retryAfterMs = parseRetryAfter(reply.headers['retry-after']);
  const text = reply.body.toString('utf8').trim();
  const fromJson = jsonError(text);
  if (fromJson)
    return new ApsError(reply.status, fromJson.message ?? statusText(reply.status), fromJson.type, retryAfterMs);
  const fromHtml = htmlHeadline(text, HTML_MESSAGE_MAX);
  return new ApsError(reply.status, fromHtml ?? statusText(reply.status), undefined, retryAfterMs);
}

function jsonError(text: string): { message?: string; type?: string } | undefined {
  if (!text.startsWith('{')) return undefined;
  let body: unknown;
  try {
    body = parseBoundedJson(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { message, type, error } = body as Record<string, unknown>;
  const remoteType = [type, error].find((t): t is string => typeof t === 'string' && t.trim() !== '');
  const words = typeof message === 'string' ? excerpt(message, JSON_MESSAGE_MAX) : '';
  if (!words && !remoteType) return undefined;
  return { message: words || undefined, type: remoteType };
}

function statusText(status: number): string {
  return STATUS_CODES[status] ?? `HTTP ${status}`;
}
