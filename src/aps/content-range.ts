import { ProtocolError } from '../errors';
import { excerpt } from '../http/remote-text';

/**
 * The controller's `Content-Range` on a listing page that holds items: `items <first>-<last>/<total>`
 * (inclusive bounds). It is the only place the total and the real page bounds are stated, since the
 * controller may return fewer items than asked for. `items *\/<total>` is read too, so that a page
 * claiming to be empty while holding items is reported as such. An empty page's range is never read:
 * its form is undocumented (tenant-walk.ts).
 */
export type ContentRange = { first: number; last: number; total: number } | { total: number };

export function parseContentRange(header: string | string[] | undefined): ContentRange {
  if (header === undefined || (Array.isArray(header) && header.length === 0)) {
    throw new ProtocolError('aps', 'APS controller sent a listing without a Content-Range header');
  }
  const value = Array.isArray(header) ? header.join(', ') : header;
  const bad = (): ProtocolError =>
    new ProtocolError('aps', `APS controller sent a malformed Content-Range header: '${excerpt(value, 100)}'`);
  const empty = /^\s*items\s+\*\/(\d+)\s*$/i.exec(value);
  if (empty) return { total: wholeNumber(empty[1], bad) };
  const range = /^\s*items\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(value);
  if (!range) throw bad();
  const [first, last, total] = range.slice(1).map((d) => wholeNumber(d, bad));
  if (first > last || last >= total) throw bad();
  return { first, last, total };
}

function wholeNumber(digits: string, bad: () => ProtocolError): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw bad();
  return n;
}
