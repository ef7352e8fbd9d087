import { sortsAfter } from './tenants';

/**
 * The part of RQL the simulator understands: `implementing(type)` (or several in one `or(...)`),
 * `eq(aps.status,value)`, `eq(aps.id,value)`, `gt(aps.id,value)`, `lt(aps.id,value)`, `sort(+aps.id)`
 * (or `-aps.id`), `limit(offset,count)` and `limit(offset)` (the count then defaults to 1000, as APS
 * documents), at the top level or inside `and(...)`. `select(...)` only shapes the reply and is
 * accepted. Anything else (another operator, a filter on another property) is refused with a 400,
 * not ignored, so that no test passes on a filter that did nothing.
 */
export interface ListQuery {
  /** The resource implements one of these types. */
  implementing?: string[];
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

/** The count of `limit(offset)` without one (APS RQL reference). */
export const DEFAULT_LIMIT_COUNT = 1000;

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
    else if (call.name === 'implementing' || call.name === 'or') setImplementing(call, query);
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
    else if (call.name === 'eq')
      throw new RqlError(`RQL: the simulator filters with eq() only on aps.id and aps.status, not '${args[0]}'`);
    else if (call.name === 'sort') {
      const order = args.length === 1 ? /^([+-]?)aps\.id$/.exec(args[0] ?? '') : null;
      if (!order) throw new RqlError('RQL: the simulator sorts only by aps.id, as sort(+aps.id) or sort(-aps.id)');
      query.sortById = order[1] === '-' ? 'descending' : 'ascending';
    } else if (call.name === 'limit') Object.assign(query, parseLimit(args));
    else if (call.name !== 'select') throw new RqlError(`RQL: unknown operator ${call.name}()`);
  }
}

/** `implementing(T)`, or `or(implementing(A),implementing(B),...)`: resources of any of those types. */
function setImplementing(call: Call, query: ListQuery): void {
  const terms = call.name === 'or' ? call.args : [call];
  const types = terms.map((term) => {
    const [type] = typeof term === 'string' ? [] : term.args;
    if (typeof term === 'string' || term.name !== 'implementing' || term.args.length !== 1 || typeof type !== 'string')
      throw new RqlError('RQL: the simulator takes implementing(<type>), alone or several in one or()');
    return type;
  });
  if (query.implementing !== undefined) throw new RqlError('RQL: the simulator takes one implementing() or one or()');
  query.implementing = types;
}

/** `limit(offset,count)`, or `limit(offset)` with the documented default count. */
export function parseLimit(args: (string | undefined)[]): { offset: number; count: number } {
  const [offset, count] = args.map((a) => (a !== undefined && /^\d+$/.test(a) ? Number(a) : NaN));
  if (args.length === 1 && Number.isSafeInteger(offset)) return { offset, count: DEFAULT_LIMIT_COUNT };
  if (args.length !== 2 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(count))
    throw new RqlError('RQL: limit() takes limit(<offset>,<count>) or limit(<offset>)');
  return { offset, count };
}

/**
 * The query of the types library (`GET /aps/2/types`): `id=<type id>` finds one type, `limit()` pages;
 * anything else is refused.
 */
export function parseTypesQuery(rawQuery: string): { id?: string; offset: number; count?: number } {
  const query: { id?: string; offset: number; count?: number } = { offset: 0 };
  if (rawQuery === '') return query;
  for (const term of parseTerms(rawQuery)) {
    if (typeof term === 'string') {
      const eq = term.indexOf('=');
      if (eq < 0 || term.slice(0, eq) !== 'id')
        throw new RqlError(`RQL: the types library takes id=<type id>, not '${term}'`);
      query.id = decodeURIComponent(term.slice(eq + 1));
    } else if (term.name === 'limit')
      Object.assign(query, parseLimit(term.args.map((a) => (typeof a === 'string' ? a : undefined))));
    else throw new RqlError(`RQL: the simulator's types library takes only id= and limit(), not ${term.name}()`);
  }
  return query;
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
