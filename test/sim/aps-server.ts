import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pause, readBody, send, sendHtml } from './replies';
import { type ListQuery, parseListQuery, parseTypesQuery, RqlError, withinIdBounds } from './rql';
import type { TypeLibrary } from './type-library';
import { type SimTenant, type TenantStore, tenantJson } from './tenants';
import type { Clock, TokenRegistry } from './tokens';
import type { ChurnOptions, EmptyPageRange, SimState, TokenRefusalWording, TypesLibraryAnswer } from './types';

export interface ApsServerDeps {
  state: SimState;
  store: TenantStore;
  tokens: TokenRegistry;
  /** The tokens' clock, also for when each call arrives. */
  clock: Clock;
  library: TypeLibrary;
  typesLibrary: TypesLibraryAnswer;
  /** The controller's own base URL, for the types' hrefs. */
  baseUrl: () => string;
  pageCap: number;
  latencyMs: number;
  transient503Rate: number;
  random: () => number;
  tokenRefusal: { wording: TokenRefusalWording; status: number };
  emptyPageRange: EmptyPageRange;
  partialContent: boolean;
  churn?: ChurnOptions & { random: () => number };
}

/**
 * The refusal of a stale token: at 500 "Authentication failed." is byte for byte the one seen in the
 * field (src/aps/README.md, "Tokens"); "Unauthorized request" is the other wording a vendor KB article
 * names, in the same shape.
 */
function refusalBody({ wording, status }: ApsServerDeps['tokenRefusal']): string {
  const [kind, message] =
    wording === 'authenticationFailed'
      ? ['APS::Hosting::Exception', 'Authentication failed.']
      : ['APS::Util::Exception', 'Unauthorized request'];
  return `{"code": ${status}, "error": "${kind}", "message": "${message}"}`;
}

const PREFIX = '/aps/2/resources';
const TYPES = '/aps/2/types';
/** The tenant's operations, all declared GET by its type (src/aps/README.md). */
const OPERATIONS = new Set(['synchronize_async', 'synchronize']);
const SYNC_STATUS = 'sync_status';

type Route =
  | { kind: 'list' }
  | { kind: 'types' }
  | { kind: 'resource'; id: string }
  | { kind: 'operation'; id: string; operation: string };

/** The APS controller (src/aps/README.md): tenant listing with RQL, tenant reads and resync operations. */
export function apsHandler(deps: ApsServerDeps): RequestListener {
  let inFlight = 0;
  const lastArrival = new WeakMap<Socket, number>();
  return (req, res) => {
    // The call before this one on its connection arrived before this one left (no pipelining).
    const leftAfter = lastArrival.get(req.socket);
    lastArrival.set(req.socket, deps.clock());
    const stats = deps.state.stats;
    stats.requests++;
    stats.peakInFlight = Math.max(stats.peakInFlight, ++inFlight);
    res.on('close', () => inFlight--);
    handle(deps, req, res, leftAfter).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'APS::Hosting::Exception', String(err), 'error');
      else res.destroy(err as Error);
    });
  };
}

async function handle(
  deps: ApsServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  leftAfter: number | undefined,
): Promise<void> {
  const { state } = deps;
  const { stats } = state;
  await readBody(req);
  await pause(deps.latencyMs);
  if (res.destroyed) return;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const method = req.method ?? 'GET';
  const route = parseRoute(path);
  if (route?.kind === 'list') stats.listRequests++;
  if (route?.kind === 'types') stats.typesRequests++;
  if (route?.kind === 'operation' && route.operation === SYNC_STATUS) {
    stats.syncStatusReads.set(route.id, (stats.syncStatusReads.get(route.id) ?? 0) + 1);
  } else if (route?.kind === 'operation') {
    stats.resyncCalls.set(route.id, (stats.resyncCalls.get(route.id) ?? 0) + 1);
    stats.resyncOperations.push({ tenant: route.id, method, path: route.operation, query });
    const { churn } = deps;
    if (churn !== undefined && stats.resyncOperations.length === churn.afterResyncs) {
      stats.churned = deps.store.churn(churn.removeFraction, churn.addPerInstance, churn.random, route.id);
    }
    const gate = state.resyncGate;
    if (gate !== undefined && stats.resyncSucceeded.size >= gate.afterSucceeded) await gate.open;
    if (res.destroyed) return;
  }
  if (state.controllerDown || (deps.transient503Rate > 0 && deps.random() < deps.transient503Rate)) {
    return sendHtml(res, 503, 'Service Temporarily Unavailable');
  }
  if (route === undefined) return sendError(res, 404, 'APS::Util::NotFound', `Path ${path} not found`);
  const token = req.headers['aps-token'];
  const auth = deps.tokens.check(typeof token === 'string' ? token : undefined);
  if (auth === undefined) {
    stats.staleTokenRefusals++;
    const owner = deps.tokens.instanceOf(typeof token === 'string' ? token : undefined);
    if (owner !== undefined)
      stats.expiredTokenRefusalsByInstance.set(owner, (stats.expiredTokenRefusalsByInstance.get(owner) ?? 0) + 1);
    return send(res, deps.tokenRefusal.status, 'application/json', refusalBody(deps.tokenRefusal));
  }
  stats.maxTokenAgeUsedMs = Math.max(stats.maxTokenAgeUsedMs, auth.ageMs);
  if (leftAfter !== undefined) stats.maxTokenAgeSentMs = Math.max(stats.maxTokenAgeSentMs, leftAfter - auth.issuedAt);
  if (route.kind === 'list') {
    if (method !== 'GET') return methodNotAllowed(res, method);
    return list(deps, res, auth.instanceId, query);
  }
  if (route.kind === 'types') {
    if (method !== 'GET') return methodNotAllowed(res, method);
    return types(deps, res, query);
  }
  const tenant = deps.store.get(route.id);
  if (tenant === undefined || tenant.instanceId !== auth.instanceId) return notFound(res, route.id);
  if (route.kind === 'resource') {
    if (method !== 'GET') return methodNotAllowed(res, method);
    return sendJson(res, 200, tenantJson(tenant));
  }
  const known = OPERATIONS.has(route.operation) || (route.operation === SYNC_STATUS && state.syncClock);
  if (!known) {
    return sendError(
      res,
      404,
      'APS::Util::NotFound',
      `Operation ${route.operation} is not found in type ${tenant.type}`,
    );
  }
  // Each of the tenant's operations is declared GET: another method is refused, as a controller does.
  if (method !== 'GET') return methodNotAllowed(res, method);
  if (route.operation === SYNC_STATUS) return sendJson(res, 200, state.syncClock!.status(tenant.id));
  return resync(deps, res, tenant, route.operation, String(token));
}

function parseRoute(path: string): Route | undefined {
  if (path === TYPES || path === `${TYPES}/`) return { kind: 'types' };
  if (!path.startsWith(PREFIX)) return undefined;
  const rest = path.slice(PREFIX.length);
  if (rest === '' || rest === '/') return { kind: 'list' };
  if (rest[0] !== '/') return undefined;
  const slash = rest.indexOf('/', 1);
  if (slash < 0) return { kind: 'resource', id: rest.slice(1) };
  return { kind: 'operation', id: rest.slice(1, slash), operation: rest.slice(slash + 1) };
}

function list(deps: ApsServerDeps, res: ServerResponse, instanceId: number, rawQuery: string): void {
  const query = parsedOr400(res, () => parseListQuery(rawQuery));
  if (query === undefined) return;
  const all = selected(deps, instanceId, query);
  const { page, range } = paged(deps, all, query);
  const items = page.map(tenantJson);
  const status = deps.partialContent ? 206 : 200;
  const headers: Record<string, string> = range === undefined ? {} : { 'content-range': range };
  const spoiled = deps.state.listingFault;
  if (spoiled?.fault === 'missingApsId') {
    // A broken resource: the one at that place in the listing lacks its id in every page that holds it.
    const at = spoiled.fromOffset - query.offset;
    const broken = items.map((item, i) =>
      i === at ? { ...item, aps: { ...(item as { aps: object }).aps, id: undefined } } : item,
    );
    return send(res, status, 'application/json', JSON.stringify(broken), headers);
  }
  if (spoiled === undefined || query.offset < spoiled.fromOffset)
    return send(res, status, 'application/json', JSON.stringify(items), headers);
  const body = JSON.stringify(items);
  switch (spoiled.fault) {
    case 'notJson':
      return sendHtml(res, 200, 'Welcome', headers);
    case 'truncatedJson':
      return send(res, 200, 'application/json', body.slice(0, Math.floor(body.length / 2)), headers);
    case 'notArray':
      return sendJson(res, 200, { items, total: all.length });
    case 'noContentRange':
      return send(res, 200, 'application/json', body);
    case 'garbledContentRange':
      return send(res, 200, 'application/json', body, { 'content-range': (range ?? '').replace('/', ' of ') });
    case 'oversized': {
      const padded = items.map((item) => ({ ...item, description: 'x'.repeat(16 * 1024) }));
      return send(res, 200, 'application/json', JSON.stringify(padded), headers);
    }
    case 'deeplyNested':
      return send(res, 200, 'application/json', `${'['.repeat(100)}${body}${']'.repeat(100)}`, headers);
  }
}

/** The page of `all` that `limit()` asks for, at most pageCap items, and its Content-Range. */
function paged<T>(
  deps: ApsServerDeps,
  all: T[],
  query: { offset: number; count?: number },
): { page: T[]; range: string | undefined } {
  const count = Math.min(query.count ?? deps.pageCap, deps.pageCap);
  const page = all.slice(query.offset, query.offset + count);
  const range =
    page.length > 0
      ? `items ${query.offset}-${query.offset + page.length - 1}/${all.length}`
      : emptyRange(deps.emptyPageRange, query.offset, all.length);
  return { page, range };
}

/** The types library, paged like any collection; `id=` finds one type. Refused or absent when the test says so. */
function types(deps: ApsServerDeps, res: ServerResponse, rawQuery: string): void {
  const answer = deps.typesLibrary;
  if (answer === 404) return sendError(res, 404, 'APS::Util::NotFound', `Path ${TYPES} not found`);
  if (answer !== 'served')
    return sendError(res, answer, 'APS::Security::AccessDenied', `Access to ${TYPES} is denied for this token`);
  const query = parsedOr400(res, () => parseTypesQuery(rawQuery));
  if (query === undefined) return;
  const wanted = query.id;
  const all = deps.library.types.filter((type) => wanted === undefined || type.id === wanted);
  const { page, range } = paged(deps, all, query);
  const headers: Record<string, string> = range === undefined ? {} : { 'content-range': range };
  send(res, 200, 'application/json', JSON.stringify(page.map((t) => deps.library.json(t, deps.baseUrl()))), headers);
}

/** The instance's tenants the query asks for, in the order it asks for (by id, or as they were added). */
/**
 * The ready tenants of a listing's types in id order, kept with the sorted list they were filtered
 * from (the store makes that list anew whenever its tenants change): a walk asks for every page with
 * the same types, and filtering a million tenants again for each page would make the simulator, not
 * the tool, the limit.
 */
const ofTypeKept = new WeakMap<SimTenant[], { key: string; tenants: SimTenant[] }>();

function ofType(deps: ApsServerDeps, listed: SimTenant[], wanted: readonly string[], keep: boolean): SimTenant[] {
  const key = `${deps.state.typeChanges} ${wanted.join(' ')}`;
  const kept = keep ? ofTypeKept.get(listed) : undefined;
  if (kept?.key === key) return kept.tenants;
  const tenants = listed.filter((t) => wanted.some((base) => deps.library.implements(t.type, base)));
  if (keep) ofTypeKept.set(listed, { key, tenants });
  return tenants;
}

function selected(deps: ApsServerDeps, instanceId: number, query: ListQuery): SimTenant[] {
  const wanted = query.implementing;
  const sorted = query.sortById !== undefined;
  const listed = deps.store.list(instanceId, query.status, sorted);
  const keep = sorted && query.status === 'aps:ready';
  const tenants = withinIdBounds(query, wanted === undefined ? listed : ofType(deps, listed, wanted, keep));
  return query.sortById === 'descending' ? [...tenants].reverse() : tenants;
}

function emptyRange(form: EmptyPageRange, offset: number, total: number): string | undefined {
  if (form === 'none') return undefined;
  return form === 'star' ? `items */${total}` : `items ${offset}-${offset - 1}/${total}`;
}

function resync(deps: ApsServerDeps, res: ServerResponse, tenant: SimTenant, operation: string, token: string): void {
  const { faults, stats } = deps.state;
  const fault = faults.get(tenant.id);
  switch (fault) {
    case 'hang':
      return;
    case 'fail500':
      return sendError(
        res,
        500,
        'APS::Hosting::Exception',
        `Office 365 rejected the request for tenant ${tenant.id}`,
        'error',
      );
    case 'notFound':
      return notFound(res, tenant.id);
    case 'echoToken':
      return sendError(
        res,
        500,
        'APS::Hosting::Exception',
        `Token ${token} may not synchronize tenant ${tenant.id}`,
        'error',
      );
    case 'echoTokenAtCut':
      return sendError(
        res,
        500,
        'APS::Hosting::Exception',
        `${'x'.repeat(480)}${token} may not synchronize tenant ${tenant.id}`,
        'error',
      );
    case 'terminalEscapes':
      return sendError(
        res,
        500,
        'APS::Hosting::Exception',
        `\u001b]0;pwned\u0007\u001b[2J\u001b[31mtenant ${tenant.id} is on fire\u001b[0m`,
        'error',
      );
    case 'hugeNestedReply':
      return send(res, 200, 'application/json', hugeNestedJson());
    case 'hugeNestedError':
      return send(res, 500, 'application/json', hugeNestedJson());
    case 'transient503':
      faults.delete(tenant.id); // only the first resync fails
      return sendHtml(res, 503, 'Service Temporarily Unavailable');
    case 'reportFailure':
    case undefined:
      break;
  }
  const failed = fault === 'reportFailure' && operation === 'synchronize';
  if (!failed) stats.resyncSucceeded.set(tenant.id, (stats.resyncSucceeded.get(tenant.id) ?? 0) + 1);
  deps.state.syncClock?.started(tenant.id);
  if (operation === 'synchronize_async') {
    res.writeHead(202, { 'content-length': 0 });
    return void res.end();
  }
  const user = failed
    ? {
        objectName: `user@${tenant.subdomain}.onmicrosoft.com`,
        operationCode: 1,
        success: false,
        comment: 'License assignment failed: no licenses available',
      }
    : { objectName: `admin@${tenant.subdomain}.onmicrosoft.com`, operationCode: 1, success: true, comment: null };
  sendJson(res, 200, { domains: [], users: [user], AllUpdatesSucceeded: !failed });
}

/** 16 MiB of `[[[…]]]`: within the default MAX_REPLY_BYTES, and seconds of JSON.parse; made once. */
let hugeNested: string | undefined;
function hugeNestedJson(): string {
  const half = 8 * 1024 * 1024;
  hugeNested ??= '['.repeat(half) + ']'.repeat(half);
  return hugeNested;
}

/** The parsed query, or undefined once a query the simulator refuses has been answered 400, as a controller does. */
function parsedOr400<T>(res: ServerResponse, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof RqlError)) throw err;
    sendError(res, 400, 'APS::Util::InvalidRQL', err.message);
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}

function sendError(
  res: ServerResponse,
  code: number,
  kind: string,
  message: string,
  kindKey: 'type' | 'error' = 'type',
): void {
  sendJson(res, code, { code, [kindKey]: kind, message });
}

function notFound(res: ServerResponse, id: string): void {
  sendError(res, 404, 'APS::Util::NotFound', `Resource ${id} not found`);
}

function methodNotAllowed(res: ServerResponse, method: string): void {
  sendError(res, 405, 'APS::Util::MethodNotAllowed', `Method ${method} is not allowed here`);
}
