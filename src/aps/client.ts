import { ProtocolError, traitsOf } from '../errors';
import { type RetryOptions, withRetries } from '../http/retry';
import type { Reply, SendOptions, Transport } from '../http/transport';
import type {
  Authorized,
  ListingOptions,
  ResyncResult,
  SyncStatus,
  Tenant,
  TenantController,
  TenantFinder,
  TenantTypes,
} from '../sync/ports';
import { parseContentRange } from './content-range';
import { jsonArray } from './controller-json';
import { apsErrorFromReply } from './error-reply';
import { tenantListQuery, tenantLookupQuery, typesLibraryQuery } from './rql';
import { FALLBACK_TENANT_TYPE, type LibraryType, libraryTypesOf, tenantTypesOf } from './tenant-types';
import { parseSyncReport } from './sync-report';
import { absentOnNoSuchOperation, parseSyncStatus } from './sync-status';
import { type ListingPage, walkTenants } from './tenant-walk';
import { excerpt } from '../http/remote-text';

/**
 * One application instance's APS controller: lists its ready tenants page by page and forces their
 * synchronization. The token travels only in the `APS-Token` header, never in a URL or a message.
 */
export interface ApsClientOptions {
  /** The controller's root, e.g. `https://oa.example:6308/`, with or without the trailing slash. */
  baseUrl: string;
  /** APS_TENANT_TYPE; unset: every tenant type version found in the controller's types library. */
  tenantType?: string;
  pageSize: number;
  /** Path below the tenant, with its query if any: `synchronize_async?fullSync=true`. */
  resyncOperation: string;
  resyncMethod: string;
  /** Path below the tenant of the read-only sync status operation (`sync_status`); unset: not read. */
  syncStatusOperation?: string;
  retries: number;
  retryMaxDelayMs: number;
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** Raised when the run winds down: requests in flight finish, but are not retried. */
  stop?: AbortSignal;
}

/**
 * Resource ids are UUIDs. Letters, digits, `-` and `_` are let through so that an installation with
 * other ids still works; `.` is not, because a `..` segment would survive percent-encoding and make
 * the resync climb out of the tenant to the resource collection.
 */
const RESOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * Bounds of the controller's replies below MAX_REPLY_BYTES, so that a hostile or broken controller
 * cannot make one reply cost more memory and parsing than its kind needs: a listed tenant is well
 * under a kilobyte, and an operation's reply (a sync report, a status, one tenant looked up) a few.
 */
const BYTES_PER_LISTED_TENANT = 16 * 1024;
const OPERATION_REPLY = { bytes: 1024 * 1024, setting: 'the bound of an operation reply' };
/** Types asked for per page of the types library, and a bound on each: a listed type is a few hundred bytes. */
const LIBRARY_PAGE = 100;
const LIBRARY_REPLY = { bytes: LIBRARY_PAGE * 32 * 1024, setting: `${32 * 1024} bytes a type of the types library` };
/** A library that claims more types than this is not a real controller's; the bound ends the read against one that keeps claiming more. */
const MAX_LIBRARY_TYPES = 100_000;

export class ApsClient implements TenantController, TenantFinder {
  private readonly resources: string;
  private readonly typesLibrary: string;
  /** The tenant types this instance's listings ask for, chosen once: one client serves one instance. */
  private chosenTypes: Promise<TenantTypes> | undefined;
  private readonly retry: RetryOptions;
  /** Present only when a status operation is configured, so the pass can tell that none is read. */
  readonly syncStatus?: (tenantId: string, authorized: Authorized) => Promise<SyncStatus | undefined>;

  constructor(
    private readonly transport: Transport,
    private readonly options: ApsClientOptions,
  ) {
    this.resources = `${controllerRoot(options.baseUrl)}/aps/2/resources`;
    this.typesLibrary = `${controllerRoot(options.baseUrl)}/aps/2/types`;
    this.retry = {
      retries: options.retries,
      maxDelayMs: options.retryMaxDelayMs,
      onRetry: options.onRetry,
      stop: options.stop,
    };
    const statusOperation = options.syncStatusOperation;
    if (statusOperation)
      this.syncStatus = (tenantId, authorized) => this.readSyncStatus(tenantId, statusOperation, authorized);
  }

  /**
   * Walks the listing sorted by id, so that it stays exact while tenants come and go (see tenant-walk.ts),
   * of the tenant types chosen first (`tenantTypes`). Where APS_TENANT_TYPE lists no tenant at all, the
   * types found in the library are told too: they tell a wrong setting from an instance without tenants.
   */
  async *listTenants({ authorized, ...hooks }: ListingOptions): AsyncGenerator<Tenant> {
    const { pageSize } = this.options;
    const types = await this.tenantTypes(authorized);
    hooks.onTenantTypes?.(types);
    // Retried around the token policy, so a retry after a long wait still goes out with a fresh enough token.
    const fetchPage = (offset: number, count: number) =>
      withRetries(() => authorized((token) => this.getPage(token, types.listed, offset, count)), this.retry);
    let total: number | undefined;
    const onTotal = (n: number): void => {
      total = n;
      hooks.onTotal?.(n);
    };
    yield* walkTenants(fetchPage, { pageSize, ...hooks, onTotal });
    if (types.source === 'setting' && total === 0)
      hooks.onTenantTypes?.({ ...types, ...(await this.libraryTenantTypes(authorized)) });
  }

  /**
   * The tenant types to list: APS_TENANT_TYPE when set; else every version the types library holds
   * (only those no other found version implements need naming, see tenant-types.ts); else, where the
   * library refuses the token or is absent, the fallback type. Chosen once per client.
   */
  tenantTypes(authorized: Authorized): Promise<TenantTypes> {
    this.chosenTypes ??= this.chooseTenantTypes(authorized).catch((e: unknown) => {
      this.chosenTypes = undefined;
      throw e;
    });
    return this.chosenTypes;
  }

  /** The tenant type versions the types library holds, oldest first, or why it could not be read (any failure). */
  async libraryTenantTypes(authorized: Authorized): Promise<{ found: string[] } | { unreadable: string }> {
    const library = await this.readTypesLibrary(authorized, true);
    return 'types' in library ? { found: tenantTypesOf(library.types).found } : { unreadable: library.unreadable };
  }

  /** The total a one-item page states; an empty page has no range to read (see tenant-walk.ts) and counts 0. */
  async countTenants(token: string, types?: string[]): Promise<number> {
    const listed = types ?? (await this.tenantTypes((call) => call(token))).listed;
    const page = await withRetries(() => this.getPage(token, listed, 0, 1), this.retry);
    return page.items.length === 0 ? 0 : parseContentRange(page.contentRange).total;
  }

  /** The tenant with this id among those the token can see, whatever its status; undefined when it sees none. */
  async findTenant(tenantId: string, token: string): Promise<Tenant | undefined> {
    const { listed } = await this.tenantTypes((call) => call(token));
    const reply = await withRetries(
      () =>
        this.send({
          method: 'GET',
          url: `${this.resources}?${tenantLookupQuery(listed, tenantId)}`,
          headers: this.headers(token),
          what: 'tenant lookup reply',
          limit: OPERATION_REPLY,
        }),
      this.retry,
    );
    return jsonArray(reply.body, 'a tenant lookup reply')
      .map(tenantOf)
      .find((t): t is Tenant => typeof t !== 'string' && t.id === tenantId);
  }

  async resync(tenantId: string, authorized: Authorized): Promise<ResyncResult> {
    const url = this.operationUrl(tenantId, this.options.resyncOperation);
    const method = this.options.resyncMethod.toUpperCase();
    const withBody = method === 'POST' || method === 'PUT';
    // Retried around the token policy, like the listing: a retry can wait long enough for the token to age.
    const reply = await withRetries(
      () =>
        authorized((token) =>
          this.send({
            method,
            url,
            headers: withBody ? { ...this.headers(token), 'content-type': 'application/json' } : this.headers(token),
            body: withBody ? '{}' : undefined,
            what: 'resync reply',
            limit: OPERATION_REPLY,
          }),
        ),
      this.retry,
    );
    return parseSyncReport(reply.body);
  }

  /** Retried around the token policy like the resync; a controller without the operation answers `undefined`. */
  private async readSyncStatus(
    tenantId: string,
    operation: string,
    authorized: Authorized,
  ): Promise<SyncStatus | undefined> {
    const url = this.operationUrl(tenantId, operation);
    const reply = await withRetries(
      () =>
        authorized((token) =>
          this.send({
            method: 'GET',
            url,
            headers: this.headers(token),
            what: 'sync status reply',
            limit: OPERATION_REPLY,
          }),
        ),
      this.retry,
    ).catch(absentOnNoSuchOperation);
    return reply && parseSyncStatus(reply.body);
  }

  private operationUrl(tenantId: string, operation: string): string {
    if (!RESOURCE_ID.test(tenantId)) throw new RangeError(`not an APS resource id: '${excerpt(tenantId, 80)}'`);
    return `${this.resources}/${encodeURIComponent(tenantId)}/${operation}`;
  }

  private async chooseTenantTypes(authorized: Authorized): Promise<TenantTypes> {
    const setting = this.options.tenantType;
    if (setting !== undefined) return { source: 'setting', listed: [setting] };
    const library = await this.readTypesLibrary(authorized, false);
    if (!('types' in library))
      return { source: 'fallback', listed: [FALLBACK_TENANT_TYPE], unreadable: library.unreadable };
    const { found, named } = tenantTypesOf(library.types);
    if (named.length) return { source: 'library', listed: named, found };
    return {
      source: 'fallback',
      listed: [FALLBACK_TENANT_TYPE],
      found,
      unreadable: 'it holds no http://www.parallels.com/Office365/Tenant/ type',
    };
  }

  /**
   * Every type of the controller's types library, or why it could not be read: the token refused
   * (whether an instance token may read it is not documented) or the library absent. Either is an
   * answer about the library, not about the token, so it is caught inside the call and the token
   * policy neither renews the token nor learns a lifetime from it. `anyFailure`: every failure is an
   * answer (the library only informs), not only those.
   */
  private async readTypesLibrary(
    authorized: Authorized,
    anyFailure: boolean,
  ): Promise<{ types: LibraryType[] } | { unreadable: string }> {
    const answered = (e: unknown): { unreadable: string } => {
      const { tokenRefused, noSuchOperation } = traitsOf(e);
      if (anyFailure || tokenRefused || noSuchOperation) return { unreadable: (e as Error).message };
      throw e;
    };
    try {
      return await withRetries(
        () => authorized((token) => this.typesLibraryPages(token).then((types) => ({ types }), answered)),
        this.retry,
      );
    } catch (e) {
      return answered(e);
    }
  }

  /** The library page by page, as the controller reports its pages (it may send fewer than asked). */
  private async typesLibraryPages(token: string): Promise<LibraryType[]> {
    const types: LibraryType[] = [];
    for (let offset = 0; ;) {
      const reply = await this.send({
        method: 'GET',
        url: `${this.typesLibrary}?${typesLibraryQuery(offset, LIBRARY_PAGE)}`,
        headers: this.headers(token),
        what: 'types library page',
        limit: LIBRARY_REPLY,
      });
      const items = jsonArray(reply.body, 'a types library page');
      if (items.length === 0) return types;
      const range = parseContentRange(reply.headers['content-range']);
      if (!('first' in range) || range.first !== offset || range.last - range.first + 1 !== items.length) {
        throw new ProtocolError(
          'aps',
          `APS controller answered the types library page from offset ${offset} with ${items.length} items but Content-Range '${String(reply.headers['content-range'])}'`,
        );
      }
      types.push(...libraryTypesOf(items));
      if (range.last + 1 >= range.total) return types;
      offset = range.last + 1;
      if (offset >= MAX_LIBRARY_TYPES)
        throw new ProtocolError(
          'aps',
          `APS controller's types library claims ${range.total} types, more than any controller holds`,
        );
    }
  }

  private async getPage(token: string, types: string[], offset: number, count: number): Promise<ListingPage> {
    const limit = {
      bytes: count * BYTES_PER_LISTED_TENANT,
      setting: `${BYTES_PER_LISTED_TENANT} bytes a tenant of APS_PAGE_SIZE`,
    };
    const reply = await this.send({
      method: 'GET',
      url: this.listUrl(types, offset, count),
      headers: this.headers(token),
      what: 'tenant list page',
      limit,
    });
    return {
      items: jsonArray(reply.body, `a tenant page (offset ${offset})`).map(tenantOf),
      contentRange: reply.headers['content-range'],
    };
  }

  private async send(req: SendOptions): Promise<Reply> {
    const reply = await this.transport.send(req);
    if (reply.status < 200 || reply.status > 299) throw apsErrorFromReply(reply);
    return reply;
  }

  private listUrl(types: string[], offset: number, count: number): string {
    return `${this.resources}?${tenantListQuery(types, offset, count)}`;
  }

  private headers(token: string): Record<string, string> {
    return { 'APS-Token': token, accept: 'application/json' };
  }
}

/** The root without its trailing slashes, so paths can be appended to either spelling. */
function controllerRoot(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`APS controller URL '${baseUrl}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError(`APS controller URL '${baseUrl}' is not an http(s) URL`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The tenant, or why the item is not one. */
function tenantOf(item: unknown): Tenant | string {
  const aps = field(item, 'aps');
  const id = field(aps, 'id');
  const status = field(aps, 'status');
  if (typeof id !== 'string' || id === '') return 'it has no aps.id';
  if (!RESOURCE_ID.test(id)) return `its aps.id '${excerpt(id, 80)}' is not a resource id`;
  return typeof status === 'string' ? { id, status } : { id };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
