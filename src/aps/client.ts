import { ProtocolError } from '../errors';
import { type RetryOptions, withRetries } from '../http/retry';
import type { Reply, SendOptions, Transport } from '../http/transport';
import type {
  Authorized,
  ListingHooks,
  ResumePoint,
  ResyncResult,
  SyncStatus,
  Tenant,
  TenantController,
  TenantFinder,
} from '../sync/ports';
import { parseContentRange } from './content-range';
import { apsErrorFromReply } from './error-reply';
import { tenantListQuery, tenantLookupQuery } from './rql';
import { parseSyncReport } from './sync-report';
import { absentOnNoSuchOperation, parseSyncStatus } from './sync-status';
import { type ListingPage, walkTenants } from './tenant-walk';
import { excerpt } from '../http/remote-text';
import { depthNote, parseBoundedJson } from '../http/bounded-json';

/**
 * One application instance's APS controller: lists its ready tenants page by page and forces their
 * synchronization. The token travels only in the `APS-Token` header, never in a URL or a message.
 */
export interface ApsClientOptions {
  /** The controller's root, e.g. `https://oa.example:6308/`, with or without the trailing slash. */
  baseUrl: string;
  tenantType: string;
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

export class ApsClient implements TenantController, TenantFinder {
  private readonly resources: string;
  private readonly retry: RetryOptions;
  /** Present only when a status operation is configured, so the pass can tell that none is read. */
  readonly syncStatus?: (tenantId: string, authorized: Authorized) => Promise<SyncStatus | undefined>;

  constructor(
    private readonly transport: Transport,
    private readonly options: ApsClientOptions,
  ) {
    this.resources = `${controllerRoot(options.baseUrl)}/aps/2/resources`;
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

  /** Walks the listing sorted by id, so that it stays exact while tenants come and go (see tenant-walk.ts). */
  listTenants(
    authorized: Authorized,
    signal?: AbortSignal,
    hooks: ListingHooks = {},
    after?: ResumePoint,
  ): AsyncGenerator<Tenant> {
    const { pageSize } = this.options;
    // Retried around the token policy, so a retry after a long wait still goes out with a fresh enough token.
    const fetchPage = (offset: number, count: number) =>
      withRetries(() => authorized((token) => this.getPage(token, offset, count)), this.retry);
    return walkTenants(fetchPage, { pageSize, signal, ...hooks, after });
  }

  /** The total a one-item page states; an empty page has no range to read (see tenant-walk.ts) and counts 0. */
  async countTenants(token: string): Promise<number> {
    const page = await withRetries(() => this.getPage(token, 0, 1), this.retry);
    return page.items.length === 0 ? 0 : parseContentRange(page.contentRange).total;
  }

  /** The tenant with this id among those the token can see, whatever its status; undefined when it sees none. */
  async findTenant(tenantId: string, token: string): Promise<Tenant | undefined> {
    const reply = await withRetries(
      () =>
        this.send({
          method: 'GET',
          url: `${this.resources}?${tenantLookupQuery(this.options.tenantType, tenantId)}`,
          headers: this.headers(token),
          what: 'tenant lookup reply',
          limit: OPERATION_REPLY,
        }),
      this.retry,
    );
    return jsonArray(reply.body, 0)
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

  private async getPage(token: string, offset: number, count: number): Promise<ListingPage> {
    const limit = {
      bytes: count * BYTES_PER_LISTED_TENANT,
      setting: `${BYTES_PER_LISTED_TENANT} bytes a tenant of APS_PAGE_SIZE`,
    };
    const reply = await this.send({
      method: 'GET',
      url: this.listUrl(offset, count),
      headers: this.headers(token),
      what: 'tenant list page',
      limit,
    });
    return { items: jsonArray(reply.body, offset).map(tenantOf), contentRange: reply.headers['content-range'] };
  }

  private async send(req: SendOptions): Promise<Reply> {
    const reply = await this.transport.send(req);
    if (reply.status < 200 || reply.status > 299) throw apsErrorFromReply(reply);
    return reply;
  }

  private listUrl(offset: number, count: number): string {
    return `${this.resources}?${tenantListQuery(this.options.tenantType, offset, count)}`;
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

function jsonArray(body: Buffer, offset: number): unknown[] {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(text);
  } catch (e) {
    throw new ProtocolError(
      'aps',
      `APS controller sent a tenant page (offset ${offset}) that is not JSON${depthNote(e)}: '${excerpt(text, 80)}'`,
      { cause: e },
    );
  }
  if (!Array.isArray(parsed)) {
    throw new ProtocolError(
      'aps',
      `APS controller sent a tenant page (offset ${offset}) that is not a JSON array: '${excerpt(text, 80)}'`,
    );
  }
  return parsed;
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
