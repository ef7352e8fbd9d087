import { sortsAfter } from './tenants';

/**
 * The part of RQL the simulator understands: `implementing(type)`, `eq(aps.status,value)`,
 * `eq(aps.id,value)`, `gt(aps.id,value)`, `lt(aps.id,value)`, `sort(+aps.id)` (or `-aps.id`) and
 * `limit(offset,count)`, at the top level or inside `and(...)`. Comparisons and sorting on anything
 * but `aps.id` are refused, not ignored, so that no test passes on a filter that did nothing. Anything
 * else well-formed (`select`, ...) is accepted and ignored.
 */
export interface ListQuery {
  implementing?: string;
  status?: string;
  id?: string;
  /** gt(aps.id,value) */
  idAbove?: string;
  /** lt(aps.id,value) */
  idBelow?: string;
  sortById?: 'ascending' | 'descending';
  offset: number;
  count?: number;
}

interface Call {
  name: string;
  args: (string | Call)[];
}

export class RqlError extends Error {}

/** Parses a raw query string; it may be percent-encoded or not. */
export function parseListQuery(rawQuery: string): ListQuery {
  let text = rawQuery;
  try {
    text = decodeURIComponent(rawQuery);
  } catch {
    // not percent-encoded after all: keep it raw
  }
  const query: ListQuery = { offset: 0 };
  if (text !== '') apply(parseTerms(text), query);
  return query;
}

/** The tenants (already sorted by id when the query asks for it) that the query's id comparisons let through. */
export function withinIdBounds<T extends { id: string }>(query: ListQuery, tenants: T[]): T[] {
  const { id, idAbove, idBelow } = query;
  if (id === undefined && idAbove === undefined && idBelow === undefined) return tenants;
  return tenants.filter(
    (t) =>
      (id === undefined || t.id === id) &&
      (idAbove === undefined || sortsAfter(t.id, idAbove)) &&
      (idBelow === undefined || sortsAfter(idBelow, t.id)),
  );
}

function apply(calls: (string | Call)[], query: ListQuery): void {
  for (const call of calls) {
    if (typeof call === 'string') throw new RqlError(`RQL: '${call}' is not an operator call`);
    const args = call.args.map((a) => (typeof a === 'string' ? a : undefined));
    if (call.name === 'and') apply(call.args, query);
    else if (call.name === 'implementing' && args.length === 1 && args[0] !== undefined) query.implementing = args[0];
    else if (call.name === 'eq' && args.length === 2 && args[0] === 'aps.status' && args[1] !== undefined)
      query.status = args[1];
    else if (call.name === 'eq' && args.length === 2 && args[0] === 'aps.id' && args[1] !== undefined)
      query.id = args[1];
    else if (
      (call.name === 'gt' || call.name === 'lt') &&
      args.length === 2 &&
      args[0] === 'aps.id' &&
      args[1] !== undefined
    ) {
      query[call.name === 'gt' ? 'idAbove' : 'idBelow'] = args[1];
    } else if (call.name === 'gt' || call.name === 'lt')
      throw new RqlError(`RQL: the simulator compares only aps.id, as ${call.name}(aps.id,<value>)`);
    else if (call.name === 'sort') {
      const order = args.length === 1 ? /^([+-]?)aps\.id$/.exec(args[0] ?? '') : null;
      if (!order) throw new RqlError('RQL: the simulator sorts only by aps.id, as sort(+aps.id) or sort(-aps.id)');
      query.sortById = order[1] === '-' ? 'descending' : 'ascending';
    } else if (call.name === 'limit') {
      const [offset, count] = args.map((a) => (a !== undefined && /^\d+$/.test(a) ? Number(a) : NaN));
      if (args.length !== 2 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(count)) {
        throw new RqlError('RQL: limit() takes limit(<offset>,<count>)');
      }
      query.offset = offset;
      query.count = count;
    }
  }
}

/** `a(x,y),b(c(z))` → calls and bare words, split on commas outside parentheses. */
function parseTerms(text: string): (string | Call)[] {
  const terms: (string | Call)[] = [];
  let pos = 0;
  while (pos <= text.length) {
    const open = text.indexOf('(', pos);
    const comma = text.indexOf(',', pos);
    if (open < 0 || (comma >= 0 && comma < open)) {
      const end = comma < 0 ? text.length : comma;
      terms.push(text.slice(pos, end));
      pos = end + 1;
      continue;
    }
    const close = matchingParen(text, open);
    const name = text.slice(pos, open);
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new RqlError(`RQL: bad operator name '${name}'`);
    const inner = text.slice(open + 1, close);
    terms.push({ name, args: inner === '' ? [] : parseTerms(inner) });
    pos = close + 1;
    if (pos < text.length && text[pos] !== ',') throw new RqlError(`RQL: unexpected '${text[pos]}' at ${pos}`);
    pos++;
  }
  return terms;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  throw new RqlError('RQL: unbalanced parentheses');
}
