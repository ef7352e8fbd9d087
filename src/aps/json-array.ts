import { ProtocolError } from '../errors';
import { depthNote, parseBoundedJson } from '../http/bounded-json';
import { excerpt } from '../http/remote-text';

/**
 * A page of a collection the controller sent: a JSON array, or a ProtocolError that quotes the start
 * of what came instead. `what` names the page in that message, e.g. "a tenant page (offset 500)".
 */
export function jsonArray(body: Buffer, what: string): unknown[] {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(text);
  } catch (e) {
    throw new ProtocolError(
      'aps',
      `APS controller sent ${what} that is not JSON${depthNote(e)}: '${excerpt(text, 80)}'`,
      { cause: e },
    );
  }
  if (!Array.isArray(parsed))
    throw new ProtocolError('aps', `APS controller sent ${what} that is not a JSON array: '${excerpt(text, 80)}'`);
  return parsed;
}
