/**
 * True when id `a` sorts after id `b` in the controller's order. APS ids are UUIDs, and a database
 * orders a UUID by its 128-bit value: the same order as comparing the lowercase hex strings code
 * unit by code unit (the dashes sit at the same places in every id). Not localeCompare, which would
 * weigh dashes and case its own way. The listing walks in this order (src/aps/tenant-walk.ts), the
 * saved pass keeps its cursor by it, and the simulator sorts with it (test/sim/tenants.ts).
 */
export function sortsAfter(a: string, b: string): boolean {
  return a.toLowerCase() > b.toLowerCase();
}
