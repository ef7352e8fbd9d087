/**
 * JSON from a remote, parsed only when its nesting is within reason. No reply of the protocol is more
 * than a few levels deep (a tenant's id is three levels down a page), while JSON.parse over a 16 MB
 * `[[[[…` holds the event loop for seconds and takes most of a gigabyte. One linear pass over the text
 * refuses such a reply first, at a cost far below the parse's.
 */
export const MAX_JSON_DEPTH = 64;

/** A reply nested deeper than MAX_JSON_DEPTH: a SyntaxError, so that "not JSON" handling covers it. */
export class JsonTooDeepError extends SyntaxError {
  constructor() {
    super(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]);
const CLOSERS = new Set([0x5d, 0x7d]);

export function parseBoundedJson(text: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (OPENERS.has(c)) {
      if (++depth > MAX_JSON_DEPTH) throw new JsonTooDeepError();
    } else if (CLOSERS.has(c)) depth--;
  }
  return JSON.parse(text);
}

/** What to add to "that is not JSON" when the reason is the depth, not the syntax. */
export function depthNote(e: unknown): string {
  return e instanceof JsonTooDeepError ? ` (${e.message})` : '';
}
