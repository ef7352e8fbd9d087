import { ProtocolError } from '../errors';
import { depthNote, parseBoundedJson } from '../http/bounded-json';
import { excerpt } from '../http/remote-text';

/**
 * A reply body the controller sent as JSON, parsed within the depth bound, with its text for the
 * messages that quote it; or a ProtocolError that quotes the start of what came instead. `what` names
 * the reply in that message, e.g. "a tenant page (offset 500)" or "a sync status".
 */
export function controllerJson(body: Buffer, what: string): { text: string; value: unknown } {
  const text = body.toString('utf8').trim();
  try {
    return { text, value: parseBoundedJson(text) };
  } catch (e) {
    throw new ProtocolError(
      'aps',
      `APS controller sent ${what} that is not JSON${depthNote(e)}: '${excerpt(text, 80)}'`,
      { cause: e },
    );
  }
}

/** A page of a collection the controller sent: a JSON array, or a ProtocolError that quotes what came. */
export function jsonArray(body: Buffer, what: string): unknown[] {
  const { text, value } = controllerJson(body, what);
  if (!Array.isArray(value))
    throw new ProtocolError('aps', `APS controller sent ${what} that is not a JSON array: '${excerpt(text, 80)}'`);
  return value;
}
