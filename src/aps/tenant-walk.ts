import { ProtocolError } from '../errors';
import { excerpt } from '../http/remote-text';
import type { ResumePoint, Tenant } from '../sync/ports';
import { sortsAfter } from '../sync/tenant-order';
import { parseContentRange } from './content-range';

/**
 * Walks an instance's tenant listing, sorted by `aps.id`, so that it stays exact while tenants are
 * added and removed: plain offset paging skips a tenant for every one removed behind the cursor.
 *
 * The walker remembers the last id it handed out and asks each next page from a little before where
 * that id was. A page is trusted only when it proves, in the same reply, that it starts at or before
 * that id: then every tenant after it follows in the same page, with nothing missing in between.
 * A page that starts after it (tenants before it were removed) makes the walker step back, by a page
 * and then by twice as far each time; a page that holds only tenants up to it (tenants were added
 * before it) makes it move on. Tenants come out in strictly increasing id order, each once: so
 * "every tenant up to the last one handed out has been handed out" holds at every moment, which is
 * what a cursor needs. A tenant added behind that point waits for the next pass.
 */

/** One listing page as the controller sent it. An item that cannot be a tenant is the reason why. */
export interface ListingPage {
  items: (Tenant | string)[];
  contentRange: string | string[] | undefined;
}

/** Asks the controller for `count` tenants from `offset`. */
export type FetchPage = (offset: number, count: number) => Promise<ListingPage>;

export interface WalkOptions {
  /** What each request asks for (at least 2); the first step back is this far. */
  pageSize: number;
  /** Hears the controller's total with each page that holds items, and 0 for an empty listing. */
  onTotal?: (total: number) => void;
  onInvalidItem?: (reason: string) => void;
  /**
   * Resume: hand out only tenants after this id (every tenant up to it is done), asking first from
   * about where it was seen. The place is a hint: the walk re-finds the id as it does between pages.
   */
  after?: ResumePoint;
  /**
   * Ask for the next page once this many of the current page's tenants are left to hand out, so that
   * the consumer does not wait a round trip at every page; absent: only once the page is used up.
   */
  readAhead?: number;
}

/**
 * Steps back in a row without handing out a tenant before the walk gives up on the controller. The
 * distance doubles with each step, so 20 steps reach a million pages back: an honest controller needs
 * one or two after tenants were removed, and only one that keeps lying about its pages gets this far.
 */
export const MAX_STEPS_BACK = 20;

export async function* walkTenants(fetchPage: FetchPage, options: WalkOptions): AsyncGenerator<Tenant> {
  /** The last id handed out: every listed tenant up to it has been handed out. */
  let last = options.after?.id;
  // A page of one tenant could not show both the last tenant handed out and the next one.
  const count = Math.max(options.pageSize, 2);
  let offset = options.after ? Math.max(0, options.after.near - Math.floor(count / 20)) : 0;
  /**
   * The previous page showed that nothing before `offset` comes after `last`: used only when the
   * controller returns pages of a single tenant, which cannot overlap. A removal between two such
   * requests can then skip a tenant; pages of two or more never depend on it.
   */
  let anchored = false;
  /** Listing positions up to here have been looked at for items that are not tenants, so each is reported once. */
  let reportedThrough = -1;
  let back = count;
  let stepsBack = 0;

  const stepBack = (found: string): void => {
    if (++stepsBack > MAX_STEPS_BACK) {
      throw new ProtocolError(
        'aps',
        `APS controller's tenant listing lost its place: after ${MAX_STEPS_BACK} steps back the page from offset ${offset} ${found}, not tenant ${last} or one before it`,
      );
    }
    offset = Math.max(0, offset - back);
    back *= 2;
    anchored = false;
  };

  /** The next page, asked for while the current one's last tenants were handed out. */
  let ahead: Promise<ListingPage> | undefined;
  const readAhead = options.readAhead ?? 0;

  for (;;) {
    const { items, contentRange } = await (ahead ?? fetchPage(offset, count));
    ahead = undefined;
    if (items.length === 0) {
      // How a controller writes an empty page's range is undocumented (items */0, items 0--1/0, none),
      // so it is not read: an empty page means nothing lies at or after this offset.
      if (offset === 0) options.onTotal?.(0);
      if (offset === 0 || anchored) return;
      stepBack('was empty');
      continue;
    }
    const range = checkedRange(contentRange, offset, items.length);
    options.onTotal?.(range.total);
    const tenants = checkedOrder(items, offset);
    const behind = last === undefined ? 0 : countUpTo(tenants, last);
    if (offset > 0 && !anchored && last !== undefined && behind === 0) {
      stepBack(tenants.length === 0 ? 'held no tenant' : `started at tenant ${tenants[0].tenant.id}`);
      continue;
    }
    for (const [i, item] of items.entries()) {
      if (typeof item === 'string' && offset + i > reportedThrough)
        options.onInvalidItem?.(`tenant list item ${offset + i} skipped: ${item}`);
    }
    reportedThrough = Math.max(reportedThrough, range.last);
    const final = range.last + 1 >= range.total;
    // Ask the next page from a little before the last tenant seen (5% of a page, at least the tenant
    // itself), so that its reply alone shows whether tenants before it were removed meanwhile. That
    // depends on this page only, so the next page can be asked for before this one is used up.
    const anchor = tenants.length === 0 ? offset : offset + tenants[tenants.length - 1].at;
    const next =
      anchor > offset
        ? { offset: Math.max(anchor - Math.floor(items.length / 20), offset + 1), anchored: false }
        : { offset: range.last + 1, anchored: true };
    const handed = tenants.slice(behind);
    for (const [i, { tenant }] of handed.entries()) {
      if (!final && !ahead && handed.length - i <= readAhead) {
        ahead = fetchPage(next.offset, count);
        // Heard when the walk reaches it; a walk that ends before then has no use for its failure.
        ahead.catch(() => undefined);
      }
      yield tenant;
      last = tenant.id;
      stepsBack = 0;
      back = count;
    }
    if (final) return;
    ({ offset, anchored } = next);
  }
}

interface Placed {
  tenant: Tenant;
  /** Index in the page. */
  at: number;
}

/** The page's range, which must start where it was asked to and account for every item it holds. */
function checkedRange(
  header: ListingPage['contentRange'],
  offset: number,
  size: number,
): { first: number; last: number; total: number } {
  const range = parseContentRange(header);
  if (!('first' in range) || range.first !== offset || range.last - range.first + 1 !== size) {
    const stated = 'first' in range ? `${range.first}-${range.last}/${range.total}` : `*/${range.total}`;
    throw new ProtocolError(
      'aps',
      `APS controller answered the tenant page from offset ${offset} with ${size} items but Content-Range 'items ${stated}'`,
    );
  }
  return range;
}

/** The page's tenants with their places; a page out of id order would make the walk skip tenants. */
function checkedOrder(items: ListingPage['items'], offset: number): Placed[] {
  const tenants: Placed[] = [];
  items.forEach((tenant, at) => {
    if (typeof tenant === 'string') return;
    const previous = tenants[tenants.length - 1]?.tenant.id;
    if (previous !== undefined && !sortsAfter(tenant.id, previous)) {
      throw new ProtocolError(
        'aps',
        `APS controller sent the tenant page from offset ${offset} out of aps.id order ('${excerpt(tenant.id, 40)}' after '${excerpt(previous, 40)}'): it must honour sort(+aps.id)`,
      );
    }
    tenants.push({ tenant, at });
  });
  return tenants;
}

/** How many of the page's (sorted) tenants sort at or before `id`. */
function countUpTo(tenants: Placed[], id: string): number {
  let n = 0;
  while (n < tenants.length && !sortsAfter(tenants[n].tenant.id, id)) n++;
  return n;
}
