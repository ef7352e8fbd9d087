/**
 * The RQL query that lists an instance's ready tenants, one page at a time, sorted by id so that the
 * walk can find its place again when tenants come and go (tenant-walk.ts). `sort(+aps.id)` is written
 * as the vendor's own scripts write it, the `+` unencoded.
 *
 * APS controllers read RQL raw from the query string (`/aps/2/resources?implementing(http://...),limit(0,100)`),
 * so the query is not encoded as a whole: `( ) ,` are RQL's own syntax, and `:` and `/` are legal in a
 * query string and appear in every type ID. Values are encoded instead, everything but letters, digits,
 * `-._~` and `: /`: that covers what would end or corrupt the URL (space, `#`, `&`, `%`, and `+`, which
 * some servers read as a space) and what RQL would read as syntax (`( ) ,`, `=` for eq, `*` for
 * wildcards). RQL decodes each value after splitting on its syntax, so `%28` inside a value stays a
 * literal parenthesis. `:` and `/` stay as they are so the usual type ID goes out exactly as the
 * vendor's examples write it.
 */
export function tenantListQuery(tenantTypes: string[], offset: number, count: number): string {
  return `${implementing(tenantTypes)},eq(aps.status,aps:ready),select(aps.id,aps.status),sort(+aps.id),limit(${offset},${count})`;
}

/**
 * The RQL query that finds one tenant by its id among the resources the token can see, whatever its
 * status: a targeted run looks for the tenant in each instance, and a token sees only its own.
 */
export function tenantLookupQuery(tenantTypes: string[], tenantId: string): string {
  return `${implementing(tenantTypes)},eq(aps.id,${rqlValue(tenantId)}),select(aps.id,aps.status)`;
}

/** One page of the controller's types library (`GET /aps/2/types`). */
export function typesLibraryQuery(offset: number, count: number): string {
  return `limit(${offset},${count})`;
}

/**
 * Resources of any of these types: `implementing(T)` for one, `or(implementing(A),implementing(B))` for
 * several. `or()` is a union, so a resource that implements two of them is still listed once.
 */
function implementing(types: string[]): string {
  const terms = types.map((type) => `implementing(${rqlValue(type)})`);
  return terms.length === 1 ? terms[0]! : `or(${terms.join(',')})`;
}

/** Percent-encodes one RQL value, keeping `:` and `/` readable. */
export function rqlValue(value: string): string {
  return encodeURIComponent(value)
    .replace(/%3A/g, ':')
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
