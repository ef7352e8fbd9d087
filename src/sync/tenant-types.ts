import type { TenantTypes } from './ports';

/** APS_TENANT_TYPE found no tenant in any instance, while the types library holds other tenant types. */
export interface UnmatchedTenantType {
  setting: string;
  /** The tenant types the instances' types libraries hold. */
  found: string[];
}

/**
 * Whether APS_TENANT_TYPE names a type that finds nothing here: every instance listed 0 tenants of
 * it, and a types library holds other tenant types. A run that would otherwise end with 0 tenants and
 * success reports it instead. `instances`: each instance's tenant types and the total its listing
 * stated (undefined: never stated).
 */
export function unmatchedTenantType(
  instances: { types?: TenantTypes; listed?: number }[],
): UnmatchedTenantType | undefined {
  const set = instances.map(({ types }) => types).filter((types) => types?.source === 'setting');
  if (instances.length === 0 || set.length < instances.length || instances.some((i) => i.listed !== 0))
    return undefined;
  const setting = set[0]!.listed[0]!;
  const found = [...new Set(set.flatMap((types) => types!.found ?? []))];
  return found.some((type) => type !== setting) ? { setting, found } : undefined;
}

/** The line a run says about it: the setting, what the controller holds, and what to do. */
export function describeUnmatched({ setting, found }: UnmatchedTenantType): string {
  return `APS_TENANT_TYPE (${setting}) finds no tenant in any instance, while the controller's types library holds ${found.join(', ')}: unset APS_TENANT_TYPE to walk every tenant type found, or set it to one of those`;
}
