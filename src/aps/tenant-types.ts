/**
 * The Office 365 tenant types of the controller's types library (README.md here, "The tenant type"):
 * which versions of `http://www.parallels.com/Office365/Tenant/<major>.<minor>` exist, and which of
 * them a listing must name so that `implementing()` returns every tenant of every version once.
 */

const TENANT_TYPE = /^http:\/\/www\.parallels\.com\/Office365\/Tenant\/(\d{1,9})\.(\d{1,9})$/;

/** What the tool walks where the types library cannot be read: the type it has always walked by default. */
export const FALLBACK_TENANT_TYPE = 'http://www.parallels.com/Office365/Tenant/2.0';

/** A type as the library lists it: its type ID and the type IDs it implements. */
export interface LibraryType {
  id: string;
  implements: string[];
}

/** The major and minor version of a tenant type ID; undefined for any other type. */
export function tenantTypeVersion(id: string): [number, number] | undefined {
  const match = TENANT_TYPE.exec(id);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** Orders tenant type IDs by version, numerically: 2.10 comes after 2.2. */
export function byVersion(a: string, b: string): number {
  const [x, y] = [tenantTypeVersion(a) ?? [0, 0], tenantTypeVersion(b) ?? [0, 0]];
  return x[0] - y[0] || x[1] - y[1];
}

/** `2.8` for `http://www.parallels.com/Office365/Tenant/2.8`: how logs and `check` name a version. */
export function versionOf(id: string): string {
  const version = tenantTypeVersion(id);
  return version ? version.join('.') : id;
}

/**
 * The tenant types in the library, oldest first (`found`), and the ones a listing names (`named`):
 * `implementing(T)` returns resources of T and of every type implementing it, so a version that
 * implements another found version (directly or through other types) is already returned by that
 * one's `implementing()` and is left out. Each tenant is then listed once, whatever implements what,
 * and the query needs `or()` only for versions that are not related.
 */
export function tenantTypesOf(library: LibraryType[]): { found: string[]; named: string[] } {
  const parents = new Map(library.map((type) => [type.id, type.implements]));
  const found = [...new Set(library.map((type) => type.id).filter((id) => tenantTypeVersion(id)))].sort(byVersion);
  const implementsType = (type: string, base: string, seen = new Set<string>()): boolean => {
    if (seen.has(type)) return false;
    seen.add(type);
    return (parents.get(type) ?? []).some((parent) => parent === base || implementsType(parent, base, seen));
  };
  const named = found.filter((type) => !found.some((other) => other !== type && implementsType(type, other)));
  return { found, named };
}

/**
 * The types of one page of the types library; an item without a type ID is passed over (the page's
 * range still counts it).
 */
export function libraryTypesOf(items: unknown[]): LibraryType[] {
  return items.flatMap((item: unknown) => {
    const { id, implements: parents } = (typeof item === 'object' && item !== null ? item : {}) as Record<
      string,
      unknown
    >;
    if (typeof id !== 'string') return [];
    const list = Array.isArray(parents) ? parents.filter((p): p is string => typeof p === 'string') : [];
    return [{ id, implements: list }];
  });
}
