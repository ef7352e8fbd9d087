import type { SyncClock } from './sync-clock';
import type { Churned, SimInstance, SimTenant } from './tenants';
import type { Clock } from './tokens';

export type TenantFault =
  | 'fail500' // permanent: 500 JSON APS::Hosting::Exception "Office 365 rejected the request for tenant <id>" on every resync
  | 'notFound' // 404 JSON APS::Util::NotFound on resync (removed after listing)
  | 'hang' // resync request never answered (socket kept open until the client gives up or the sim closes)
  | 'transient503' // first resync answers 503 with an HTML body (proxy page), later ones behave normally
  | 'reportFailure' // `synchronize` answers 200 with a report whose AllUpdatesSucceeded is false
  | 'echoToken' // 500 JSON whose message quotes the APS-Token the request carried (a careless controller)
  | 'echoTokenAtCut' // the same, the token at character 480 of a long message, across the 500 where messages are cut
  | 'terminalEscapes' // 500 JSON whose message holds ESC and BEL sequences (retitle the terminal, clear the screen)
  | 'hugeNestedReply' // 200 on resync with 16 MiB of JSON nested 8 Mi levels deep
  | 'hugeNestedError'; // 500 on resync with the same 16 MiB body

/** What is wrong with a tenant list page (every page from `fromOffset` on, except as noted; see setListingFault). */
export type ListingFault =
  | 'notJson' // 200 with a proxy's HTML page
  | 'truncatedJson' // the JSON array cut off halfway
  | 'notArray' // a JSON object wrapping the items instead of an array
  | 'missingApsId' // the item at listing position `fromOffset` has no aps.id, in every page that holds it
  | 'noContentRange' // no Content-Range header
  | 'garbledContentRange' // Content-Range 'items 0-9 of 10'
  | 'oversized' // every item padded with 16 KiB of description
  | 'deeplyNested'; // the items wrapped 100 arrays deep, within the page's size bound

/** How an empty listing page states its range; the form a real controller uses is undocumented (src/aps/README.md). */
export type EmptyPageRange =
  | 'star' // Content-Range 'items */<total>'
  | 'minusOne' // 'items <offset>-<offset - 1>/<total>', so 'items 0--1/0' for an empty listing
  | 'none'; // no Content-Range header

/** Tenants removed and added while a pass runs. */
export interface ChurnOptions {
  /**
   * Happens as the controller receives this many resync requests in all; the tenant of that request
   * is among the removed (its resync was on the way), so it answers 404.
   */
  afterResyncs: number;
  /** Fraction (0..1) of each instance's ready tenants removed, drawn from a PRNG seeded with `seed`. */
  removeFraction: number;
  /** New ready tenants added to each instance, with ids anywhere in the sort order. */
  addPerInstance: number;
}

export type OaFault =
  | 'statusMinusOne' // status -1 "Internal error: database is unavailable" (module Common, extype 1)
  | 'javaException' // status -1 whose error_message is a raw Java exception, as OA answers a misnamed argument
  | 'malformedXml'
  | 'truncatedXml'
  | 'fault'
  | 'html500'
  | 'hang' // no OA call is answered
  | 'hangToken' // only getApplicationInstanceToken is not answered
  | 'invalidToken' // getApplicationInstanceToken issues a token holding CR/LF and a non-ASCII character
  | 'instanceListedTwice'; // getApplicationInstances lists the first instance again at the end

/**
 * How the controller words its refusal of a stale token: "Authentication failed." (APS::Hosting::Exception,
 * seen in the field) or "Unauthorized request" (APS::Util::Exception, named by a vendor KB article).
 */
export type TokenRefusalWording = 'authenticationFailed' | 'unauthorizedRequest';

/**
 * How the controller answers `GET /aps/2/types`: the library, a refusal of the token (401 or 403:
 * whether an instance token may read it is not documented), or 404 as a controller without it would.
 */
export type TypesLibraryAnswer = 'served' | 401 | 403 | 404;

export interface SimOptions {
  /** Default 41 (the Office 365 application ID). */
  appId?: number;
  /** Default 2; instance ids 1001, 1002, ... */
  instances?: number;
  /** Default 10; an array gives a count per instance (its length then sets the number of instances). */
  tenantsPerInstance?: number | number[];
  /** Every Nth tenant (index % N === N-1) is aps:provisioning; 0 = none (default 0). */
  provisioningEvery?: number;
  /** The controller never returns more than this many items per page, whatever limit() asks (default 1000). */
  pageCap?: number;
  /** Default 30 minutes; an APS call with a token older than this is refused. */
  tokenLifetimeMs?: number;
  /**
   * The clock token ages and the tenants' synchronizations are measured on, in ms (default
   * performance.now); a test can drive it by hand.
   */
  clock?: Clock;
  /** Added delay before every APS reply (default 0). */
  latencyMs?: number;
  /** Added delay before every OA reply (default 0). */
  oaLatencyMs?: number;
  /** The content type OA's XML-RPC replies are sent with (default 'text/xml'); null sends none. */
  oaContentType?: string | null;
  /** APS controller over https with the bundled test certificate (default false). */
  https?: boolean;
  /** OA Public API over https with the bundled test certificate (default false). */
  oaHttps?: boolean;
  /**
   * Require HTTP basic auth on OA: missing credentials get a 401 HTML page, wrong ones `wrongStatus`
   * (default 401, as a plain web server answers; OA's own answer is 403).
   */
  oaAuth?: { user: string; password: string; wrongStatus?: 401 | 403 };
  /** How a stale token is refused: default "Authentication failed." at 500, as seen in the field. */
  tokenRefusal?: { wording: TokenRefusalWording; status: number };
  /** Fraction (0..1) of APS requests answered 503 with an HTML body, drawn from a PRNG seeded with `seed`. */
  transient503Rate?: number;
  /** Default 1. */
  seed?: number;
  /** By tenant uuid. */
  faults?: Record<string, TenantFault>;
  /** What getApplicationInstanceToken returns as controller_uri (default: the sim's own APS base URL). */
  controllerUri?: string;
  /** `user:password` written into the default controller_uri, as a careless installation may have it. */
  controllerUriCredentials?: string;
  /**
   * The tenants' APS type (default http://www.parallels.com/Office365/Tenant/2.0); an array gives each
   * instance its own, as instances of application releases of different tenant type versions.
   */
  tenantType?: string | string[];
  /**
   * What a type of the types library implements besides the core resource type, e.g.
   * `{ '.../Tenant/2.8': ['.../Tenant/2.0'] }`; `implementing()` follows it. Default: nothing.
   */
  typeImplements?: Record<string, string[]>;
  /**
   * Every `every`-th tenant of each instance (index % every === every - 1) is of `type` instead of its
   * instance's tenant type: an installation part-way through an application upgrade. Default: none.
   */
  mixedTenantType?: { type: string; every: number };
  /** How `GET /aps/2/types` answers (default 'served'). */
  typesLibrary?: TypesLibraryAnswer;
  /** How an empty listing page states its range (default 'star'). */
  emptyPageRange?: EmptyPageRange;
  /** Listing pages answer 206 Partial Content instead of 200 (default false). */
  partialContent?: boolean;
  /** Removes and adds tenants mid-pass; what it did is in stats.churned. */
  churn?: ChurnOptions;
  /**
   * The tenant operation `sync_status` of application 20.7.2 and later (default true); false answers
   * it 404 "Operation sync_status is not found", as an older application does.
   */
  syncStatus?: boolean;
  /** How long a tenant's synchronization stays in progress after an accepted resync, on `clock` (default 0). */
  syncDurationMs?: number;
}

export interface SimStats {
  oaCalls: { method: string; args: unknown }[];
  /** Total across instances. */
  tokensIssued: number;
  tokensIssuedByInstance: Map<number, number>;
  /** Tenant uuid -> resync requests received (any outcome). */
  resyncCalls: Map<string, number>;
  /** Tenant uuid -> sync_status requests received (any answer); not counted as resyncs. */
  syncStatusReads: Map<string, number>;
  /** Tenant uuid -> resyncs answered 2xx success. */
  resyncSucceeded: Map<string, number>;
  /** Every operation request on a tenant; `path` is the operation path (e.g. 'synchronize_async'), `query` without '?'. */
  resyncOperations: { tenant: string; method: string; path: string; query: string }[];
  listRequests: number;
  /** Requests of the types library, refused ones included. */
  typesRequests: number;
  /** Calls refused because the token was expired, revoked or unknown. */
  staleTokenRefusals: number;
  /** Of those, the refusals of expired tokens, by the instance the token was issued for. */
  expiredTokenRefusalsByInstance: Map<number, number>;
  /** The oldest token age (ms) seen on an accepted call, when the simulator got to it (after latencyMs). */
  maxTokenAgeUsedMs: number;
  /**
   * The oldest age (ms) a token surely had when the tool sent a call with it: from its issue to when the
   * call before it on the same connection arrived (without pipelining, a call leaves only after the
   * reply to the one before). The trip and a loaded machine can only make this smaller than the
   * truth, never larger, so a test can hold it to the tool's limit with no margin.
   */
  maxTokenAgeSentMs: number;
  /** Max concurrent APS requests being handled. */
  peakInFlight: number;
  /** Total APS requests. */
  requests: number;
  /** Total OA requests, refused ones (basic auth, wrong path) included. */
  oaRequests: number;
  /** The tenants the churn option removed and added, once it has happened. */
  churned?: Churned;
}

export interface Simulator {
  appId: number;
  oaHost: string;
  oaPort: number;
  /** e.g. http://127.0.0.1:PORT/RPC2 */
  oaUrl: string;
  /** e.g. http://127.0.0.1:PORT/ (https when https: true) */
  apsUrl: string;
  /** Absolute path of the CA PEM that issued the test server certificate. */
  caFile: string;
  instances: SimInstance[];
  /** All aps:ready tenants across instances. */
  readyTenants(): SimTenant[];
  stats: SimStats;
  setFault(tenantId: string, fault: TenantFault | undefined): void;
  /** The tenant's synchronizations end with this lastSync (0: succeed, the default). */
  setSyncResult(tenantId: string, lastSync: number): void;
  /** Every token issued so far becomes stale (next use -> "Authentication failed."). */
  revokeTokens(): void;
  /** Appears in later listings. */
  addTenant(instanceId: number, status?: SimTenant['status']): SimTenant;
  /** Gone from listings; a resync of it answers 404. */
  removeTenant(tenantId: string): void;
  /** The tenant's type becomes `type`, its id kept, as an application upgrade does; the library learns a new type. */
  upgradeTenant(tenantId: string, type: string): void;
  setOaFault(fault: OaFault | undefined): void;
  /** Every APS request answers 503 HTML (proxy) while down. */
  setControllerDown(down: boolean): void;
  /**
   * Once `afterSucceeded` tenants have been resynced (`stats.resyncSucceeded.size`), holds every later
   * resync request (counted on arrival) unanswered until the returned function is called: a test can
   * stop a pass at a known point and keep it running for as long as it needs, whatever the machine's
   * speed. Those already on their way when the count is reached are answered, as many as are in flight.
   * A new call sets a new gate; releasing the older one lets through only what that one held.
   */
  holdResyncs(afterSucceeded?: number): () => void;
  /** Spoils tenant list pages that start at `fromOffset` (default 0) or later; undefined heals them. */
  setListingFault(fault: ListingFault | undefined, options?: { fromOffset?: number }): void;
  /** Every APS token OA has issued so far, revoked or not, so tests can look for them in outputs. */
  issuedTokens(): string[];
  /** Env vars pointing the CLI at this sim. */
  env(): Record<string, string>;
  /** Closes the servers and destroys open sockets (hung requests included). */
  close(): Promise<void>;
}

/** What the OA and APS servers share. */
export interface SimState {
  stats: SimStats;
  faults: Map<string, TenantFault>;
  oaFault: OaFault | undefined;
  controllerDown: boolean;
  /** Counts tenants given another type, so that listings filtered by type are filtered again. */
  typeChanges: number;
  /** While set, a resync request that arrives once `afterSucceeded` tenants are synced waits for `open`. */
  resyncGate?: { afterSucceeded: number; open: Promise<void> };
  listingFault?: { fault: ListingFault; fromOffset: number };
  /** Undefined: the application predates sync_status. */
  syncClock: SyncClock | undefined;
}
