/**
 * The controller's types library (`GET /aps/2/types`, src/aps/README.md): every type it knows, each
 * with its type ID and the types it implements. `implementing(T)` in a listing returns resources whose
 * type is T or implements T, directly or through another type.
 */
export interface SimType {
  /** The APS id of the type in the library: a number, as a string. */
  apsId: string;
  id: string;
  implements: string[];
}

const CORE_RESOURCE = 'http://aps-standard.org/types/core/resource/1.0';
/** Other types of the Office 365 application, so that the tool has to pick the tenant types out. */
const OTHER_TYPES = ['http://www.parallels.com/Office365/Domain/2.0', 'http://www.parallels.com/Office365/User/2.0'];

export class TypeLibrary {
  readonly types: SimType[];
  private readonly byId = new Map<string, SimType>();

  /** `tenantTypes`: the types of the tenants; `implementsAlso`: what a type implements besides the core resource. */
  constructor(tenantTypes: string[], implementsAlso: Record<string, string[]>) {
    const named = [
      ...OTHER_TYPES,
      ...tenantTypes,
      ...Object.keys(implementsAlso),
      ...Object.values(implementsAlso).flat(),
    ];
    const ids = [CORE_RESOURCE, ...new Set(named.filter((id) => id !== CORE_RESOURCE))];
    this.types = ids.map((id, i) => ({
      apsId: String(100 + i),
      id,
      implements: id === CORE_RESOURCE ? [] : [CORE_RESOURCE, ...(implementsAlso[id] ?? [])],
    }));
    for (const type of this.types) this.byId.set(type.id, type);
  }

  /** A type the library did not hold, as an application upgrade imports it; one it holds stays as it is. */
  add(id: string): void {
    if (this.byId.has(id)) return;
    const type = { apsId: String(100 + this.types.length), id, implements: [CORE_RESOURCE] };
    this.types.push(type);
    this.byId.set(id, type);
  }

  /** True when a resource of `type` is returned by `implementing(base)`: the type itself, or one implementing it. */
  implements(type: string, base: string): boolean {
    if (type === base) return true;
    return (this.byId.get(type)?.implements ?? []).some((parent) => this.implements(parent, base));
  }

  /** The type as the library lists it. */
  json(type: SimType, baseUrl: string): object {
    return {
      aps: { id: type.apsId, href: `${baseUrl}aps/2/types/${type.apsId}` },
      apsVersion: '2.0',
      name: type.id.split('/').slice(-2, -1)[0],
      id: type.id,
      implements: type.implements,
    };
  }
}
