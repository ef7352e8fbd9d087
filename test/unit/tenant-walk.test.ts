import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ListingPage, MAX_STEPS_BACK, walkTenants } from '../../src/aps/tenant-walk';
import { sortsAfter } from '../../src/sync/tenant-order';
import { ProtocolError } from '../../src/errors';
import type { ResumePoint, Tenant } from '../../src/sync/ports';
import { seededRandom } from '../sim/prng';
import { stableUuid } from '../sim/tenants';

let made = 0;
const freshId = (): string => stableUuid(`walk:${made++}`);

/**
 * An honest controller in memory: its tenants sorted by id, pages of at most `cap`, and a hook that
 * may change the tenants before each request (which sees the walk so far).
 */
class FakeListing {
  ids: string[];
  readonly offsets: number[] = [];
  readonly handed: string[] = [];
  /** Every id that was ever listed, to catch a walk that invents one. */
  readonly ever = new Set<string>();

  constructor(
    count: number,
    private readonly cap: number,
    private readonly beforeRequest: (listing: FakeListing, request: number) => void = () => {},
  ) {
    this.ids = [];
    this.add(count);
  }

  add(count: number, where: (id: string) => boolean = () => true): void {
    for (let n = 0; n < count;) {
      const id = freshId();
      if (!where(id)) continue;
      this.ids.push(id);
      this.ever.add(id);
      n++;
    }
    this.ids.sort((a, b) => (sortsAfter(a, b) ? 1 : -1));
  }

  remove(which: (id: string, index: number) => boolean): void {
    this.ids = this.ids.filter((id, i) => !which(id, i));
  }

  get cursor(): string | undefined {
    return this.handed[this.handed.length - 1];
  }

  async page(offset: number, count: number): Promise<ListingPage> {
    this.beforeRequest(this, this.offsets.length);
    this.offsets.push(offset);
    const slice = this.ids.slice(offset, offset + Math.min(count, this.cap));
    const items = slice.map((id) => ({ id }));
    return {
      items,
      contentRange: slice.length
        ? `items ${offset}-${offset + slice.length - 1}/${this.ids.length}`
        : `items */${this.ids.length}`,
    };
  }

  async walk(pageSize: number, after?: ResumePoint, readAhead?: number): Promise<string[]> {
    for await (const t of walkTenants((offset, count) => this.page(offset, count), { pageSize, after, readAhead }))
      this.handed.push(t.id);
    return this.handed;
  }
}

/** Ids handed out strictly in order (so each once), every tenant present throughout among them, none invented. */
function assertExact(listing: FakeListing, before: string[], what: string): void {
  const { handed } = listing;
  for (let i = 1; i < handed.length; i++)
    assert.ok(sortsAfter(handed[i], handed[i - 1]), `${what}: out of order or repeated at ${i}`);
  const got = new Set(handed);
  const now = new Set(listing.ids);
  const missed = before.filter((id) => now.has(id) && !got.has(id));
  assert.deepEqual(missed, [], `${what}: tenants present throughout but never handed out`);
  for (const id of handed) assert.ok(listing.ever.has(id), `${what}: ${id} was never listed`);
}

test('a still listing is walked once, in order, with one tenant of overlap per page', async () => {
  const listing = new FakeListing(25, 10);
  const before = [...listing.ids];
  assert.deepEqual(await listing.walk(10), before);
  assert.deepEqual(listing.offsets, [0, 9, 18]);
});

test('tenants removed and added before any request, at any place, never make the walk skip or repeat one', async () => {
  const random = seededRandom(11);
  for (const [pageSize, cap] of [
    [10, 10],
    [10, 4],
    [7, 100],
    [1, 100],
    [2, 2],
    [40, 40],
  ]) {
    // How many requests a still walk makes, so that every one of them gets its turn to see a change.
    const still = new FakeListing(60, cap);
    await still.walk(pageSize);
    for (let at = 0; at <= still.offsets.length; at++) {
      for (const change of CHANGES) {
        const listing = new FakeListing(60, cap, (l, request) => {
          if (request === at) change(l, random);
        });
        const before = [...listing.ids];
        await listing.walk(pageSize);
        assertExact(listing, before, `${change.name} before request ${at}, page ${pageSize}, cap ${cap}`);
      }
    }
  }
});

test('a listing that changes before every request is still walked exactly, reading ahead or not', async () => {
  for (const readAhead of [undefined, 1, 7, 25]) {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const random = seededRandom(seed);
      const listing = new FakeListing(300, 25, (l) => CHANGES[Math.floor(random() * CHANGES.length)](l, random));
      const before = [...listing.ids];
      await listing.walk(25, undefined, readAhead);
      assertExact(listing, before, `seed ${seed}, read ahead ${readAhead}`);
    }
  }
});

test('reading ahead asks for the next page while the last tenants of the current one are handed out', async () => {
  const handedAtRequest: number[] = [];
  const listing = new FakeListing(25, 10, (l) => handedAtRequest.push(l.handed.length));
  const before = [...listing.ids];
  assert.deepEqual(await listing.walk(10, undefined, 3), before);
  assert.deepEqual(listing.offsets, [0, 9, 18], 'the same pages as without reading ahead');
  // The second page is asked for when 3 of the first page's 10 are left, the third when 3 of the second's 9 new ones are.
  assert.deepEqual(handedAtRequest, [0, 7, 16]);
});

test('a walk that ends while a page read ahead is on the way hears nothing of its failure', async () => {
  let requests = 0;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const pages = async (offset: number): Promise<ListingPage> => {
      if (requests++ > 0) throw new Error('the controller fell over');
      return {
        items: Array.from({ length: 4 }, (_, i) => ({ id: stableUuid(`ahead:${offset + i}`) })).sort((a, b) =>
          sortsAfter(a.id, b.id) ? 1 : -1,
        ),
        contentRange: 'items 0-3/8',
      };
    };
    const walk = walkTenants(pages, { pageSize: 4, readAhead: 2 });
    for await (const _ of walk) if (requests === 2) break;
    await new Promise((r) => setImmediate(r));
    assert.equal(requests, 2);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

type Change = (listing: FakeListing, random: () => number) => void;
const behind = (l: FakeListing) => (id: string) => l.cursor !== undefined && !sortsAfter(id, l.cursor);
const ahead = (l: FakeListing) => (id: string) => !behind(l)(id);
const CHANGES: Change[] = [
  function removeTheLastHandedOut(l) {
    l.remove((id) => id === l.cursor);
  },
  function removeAFewBehind(l, random) {
    l.remove((id) => behind(l)(id) && random() < 0.2);
  },
  function removeAllBehind(l) {
    l.remove(behind(l));
  },
  function removeAFewAhead(l, random) {
    l.remove((id) => ahead(l)(id) && random() < 0.2);
  },
  function removeAllAhead(l) {
    l.remove(ahead(l));
  },
  function removeEverything(l) {
    l.remove(() => true);
  },
  function addMoreThanAPageBehind(l) {
    if (l.cursor !== undefined) l.add(45, behind(l));
  },
  function addAhead(l) {
    l.add(5, ahead(l));
  },
  function removeTenPercentAddFive(l, random) {
    l.remove(() => random() < 0.1);
    l.add(5);
  },
];

test('pages asked of one tenant ask for two; a controller that returns one at a time is walked too', async () => {
  const one = new FakeListing(5, 100);
  await one.walk(1);
  assert.deepEqual(one.offsets, [0, 1, 2, 3]);
  const capped = new FakeListing(12, 1);
  const before = [...capped.ids];
  assert.deepEqual(await capped.walk(10), before);
  assert.deepEqual(
    capped.offsets,
    Array.from({ length: 12 }, (_, i) => i),
  );
});

test('an empty page ends the listing whatever its Content-Range says', async () => {
  for (const contentRange of ['items */0', 'items 0--1/0', undefined, 'no range at all', 'items 0-9/10']) {
    const totals: number[] = [];
    const got: Tenant[] = [];
    for await (const t of walkTenants(async () => ({ items: [], contentRange }), {
      pageSize: 10,
      onTotal: (n) => totals.push(n),
    }))
      got.push(t);
    assert.deepEqual(got, [], String(contentRange));
    assert.deepEqual(totals, [0], String(contentRange));
  }
});

test('a total that changes between pages is normal', async () => {
  const listing = new FakeListing(30, 10, (l, request) => request === 1 && l.add(40, ahead(l)));
  const before = [...listing.ids];
  await listing.walk(10);
  assertExact(listing, before, 'growing');
  assert.equal(listing.handed.length, 70);
});

async function walkOf(
  pages: (offset: number) => ListingPage,
  pageSize = 10,
): Promise<{ ids: string[]; requests: number }> {
  let requests = 0;
  const ids: string[] = [];
  for await (const t of walkTenants(async (offset) => (requests++, pages(offset)), { pageSize })) ids.push(t.id);
  return { ids, requests };
}

const sorted = Array.from({ length: 30 }, freshId).sort((a, b) => (sortsAfter(a, b) ? 1 : -1));
const pageOf = (offset: number, ids = sorted, total = ids.length, cap = 10): ListingPage => {
  const slice = ids.slice(offset, offset + cap);
  return {
    items: slice.map((id) => ({ id })),
    contentRange: slice.length ? `items ${offset}-${offset + slice.length - 1}/${total}` : undefined,
  };
};

test('a controller that states too high a total ends at its first empty page after the last tenant', async () => {
  const { ids, requests } = await walkOf((offset) => pageOf(offset, sorted, 1000));
  assert.deepEqual(ids, sorted);
  assert.ok(requests <= 6, `${requests} requests`);
});

test('a controller whose pages never lead back to the last tenant is given up on after a bounded number of steps back', async () => {
  let lie = 0;
  const liar = (offset: number): ListingPage => {
    if (offset === 0) return pageOf(0, sorted, 1000);
    // Past the first page, every page starts with tenants after every one handed out so far.
    const ids = Array.from({ length: 10 }, () => `ffffffff-ffff-4fff-bfff-${String(lie++).padStart(12, '0')}`);
    return { items: ids.map((id) => ({ id })), contentRange: `items ${offset}-${offset + 9}/1000` };
  };
  await assert.rejects(
    walkOf(liar),
    (e: unknown) => e instanceof ProtocolError && /lost its place: after 20 steps back/.test(e.message),
  );
  let requests = 0;
  await walkOf((offset) => (requests++, liar(offset))).catch(() => {});
  assert.ok(requests <= 3 * (MAX_STEPS_BACK + 2), `${requests} requests`);
});

test('a page out of id order, or that starts elsewhere than asked, is a protocol error', async () => {
  const reversed = [...sorted].reverse();
  await assert.rejects(
    walkOf((offset) => pageOf(offset, reversed)),
    (e: unknown) => e instanceof ProtocolError && /out of aps\.id order.*sort\(\+aps\.id\)/.test(e.message),
  );
  await assert.rejects(
    walkOf(() => pageOf(0)),
    (e: unknown) =>
      e instanceof ProtocolError && /from offset 9 with 10 items but Content-Range 'items 0-9\/30'/.test(e.message),
  );
  await assert.rejects(
    walkOf(() => ({ items: [{ id: sorted[0] }], contentRange: 'items */30' })),
    /with 1 items but Content-Range 'items \*\/30'/,
  );
  await assert.rejects(
    walkOf(() => ({ items: [{ id: sorted[0] }], contentRange: undefined })),
    /without a Content-Range header/,
  );
});

test('items that are not tenants are reported once each, however often pages overlap them', async () => {
  const reasons: string[] = [];
  const items: ListingPage['items'] = sorted.map((id, i) => (i % 9 === 8 ? 'it has no aps.id' : { id }));
  const got: string[] = [];
  const pages = async (offset: number): Promise<ListingPage> => {
    const slice = items.slice(offset, offset + 3);
    return {
      items: slice,
      contentRange: slice.length ? `items ${offset}-${offset + slice.length - 1}/${items.length}` : undefined,
    };
  };
  for await (const t of walkTenants(pages, { pageSize: 3, onInvalidItem: (r) => reasons.push(r) })) got.push(t.id);
  assert.deepEqual(
    reasons,
    [8, 17, 26].map((n) => `tenant list item ${n} skipped: it has no aps.id`),
  );
  assert.deepEqual(
    got,
    sorted.filter((_, i) => i % 9 !== 8),
  );
});

test('a walk its consumer stops pulling asks for no next page', async () => {
  let requests = 0;
  const got: string[] = [];
  for await (const t of walkTenants(async (offset) => (requests++, pageOf(offset)), { pageSize: 10 })) {
    got.push(t.id);
    break;
  }
  assert.deepEqual([got.length, requests], [1, 1]);
});

test('a resumed walk hands out exactly the tenants after its cursor, wherever it first asks and whatever changed meanwhile', async () => {
  for (const cursorAt of [0, 37, 120, 199]) {
    for (const near of [0, cursorAt, cursorAt + 30, Math.max(0, cursorAt - 30), 5000]) {
      for (const change of ['none', 'removed before', 'added before', 'cursor removed'] as const) {
        const listing = new FakeListing(200, 20);
        const cursor = listing.ids[cursorAt]!;
        if (change === 'removed before') listing.remove((_, i) => i < cursorAt && i % 3 === 0);
        if (change === 'added before') listing.add(25, (id) => !sortsAfter(id, cursor));
        if (change === 'cursor removed') listing.remove((id) => id === cursor);
        const after = listing.ids.filter((id) => sortsAfter(id, cursor));
        const what = `cursor at ${cursorAt}, first asked near ${near}, ${change}`;
        assert.deepEqual(await listing.walk(20, { id: cursor, near }), after, what);
        // Re-finding the place costs a few requests when the journal's place is close, a bounded few more from far off.
        const place = listing.ids.length - after.length;
        // From far off: doubling steps back (log2 of the distance), then pages forward from where they overshot.
        const slack = Math.abs(near - place) <= 30 ? 6 : 10 + Math.ceil(place / 19);
        assert.ok(
          listing.offsets.length <= Math.ceil(after.length / 19) + slack,
          `${what}: ${listing.offsets.length} requests`,
        );
      }
    }
  }
});
