import { apsHandler } from './aps-server';
import { testCerts } from './certs';
import { listen } from './listen';
import { oaHandler } from './oa-server';
import { seededRandom } from './prng';
import { TenantStore } from './tenants';
import { performance } from 'node:perf_hooks';
import { SyncClock } from './sync-clock';
import { TokenRegistry } from './tokens';
import { TypeLibrary } from './type-library';
import type { SimOptions, SimState, Simulator, SimStats } from './types';

export type { SimInstance, SimTenant } from './tenants';
export type {
  ChurnOptions,
  EmptyPageRange,
  ListingFault,
  OaFault,
  SimOptions,
  SimStats,
  Simulator,
  TenantFault,
  TokenRefusalWording,
  TypesLibraryAnswer,
} from './types';

export const DEFAULT_TENANT_TYPE = 'http://www.parallels.com/Office365/Tenant/2.0';

/** A CA that did not issue the simulator's certificate, for "untrusted certificate" tests. */
export function otherCaFile(): string {
  return testCerts().otherCaFile;
}

/**
 * Starts an OA Public API (XML-RPC) server and an APS controller (REST) on 127.0.0.1 at random ports,
 * speaking the wire described in src/oa/README.md and src/aps/README.md, with tenants, tokens and faults
 * under the caller's control.
 */
export async function startSimulator(options: SimOptions = {}): Promise<Simulator> {
  const appId = options.appId ?? 41;
  const instanceCount = options.instances ?? 2;
  const perInstance = options.tenantsPerInstance ?? 10;
  const counts = Array.isArray(perInstance) ? perInstance : Array.from({ length: instanceCount }, () => perInstance);
  const tenantTypes = counts.map((_, i) => {
    const type = options.tenantType ?? DEFAULT_TENANT_TYPE;
    return Array.isArray(type) ? (type[i] ?? DEFAULT_TENANT_TYPE) : type;
  });
  const store = new TenantStore(counts, options.provisioningEvery ?? 0, tenantTypes, options.mixedTenantType);
  const library = new TypeLibrary(
    options.mixedTenantType ? [...tenantTypes, options.mixedTenantType.type] : tenantTypes,
    options.typeImplements ?? {},
  );
  const clock = options.clock ?? (() => performance.now());
  const tokens = new TokenRegistry(options.tokenLifetimeMs ?? 30 * 60 * 1000, clock);
  const stats: SimStats = {
    oaCalls: [],
    tokensIssued: 0,
    tokensIssuedByInstance: new Map(),
    resyncCalls: new Map(),
    syncStatusReads: new Map(),
    resyncSucceeded: new Map(),
    resyncOperations: [],
    listRequests: 0,
    typesRequests: 0,
    staleTokenRefusals: 0,
    expiredTokenRefusalsByInstance: new Map(),
    maxTokenAgeUsedMs: 0,
    maxTokenAgeSentMs: 0,
    peakInFlight: 0,
    requests: 0,
    oaRequests: 0,
  };
  const state: SimState = {
    stats,
    faults: new Map(Object.entries(options.faults ?? {})),
    oaFault: undefined,
    controllerDown: false,
    typeChanges: 0,
    syncClock: options.syncStatus === false ? undefined : new SyncClock(options.syncDurationMs ?? 0, clock),
  };
  const certs = testCerts();
  // Known once the controller listens; the types' hrefs are made only later, when asked for.
  let apsUrl = '';

  const aps = await listen(
    options.https ?? false,
    apsHandler({
      state,
      store,
      tokens,
      clock,
      library,
      typesLibrary: options.typesLibrary ?? 'served',
      baseUrl: () => apsUrl,
      pageCap: options.pageCap ?? 1000,
      latencyMs: options.latencyMs ?? 0,
      transient503Rate: options.transient503Rate ?? 0,
      random: seededRandom(options.seed ?? 1),
      tokenRefusal: options.tokenRefusal ?? { wording: 'authenticationFailed', status: 500 },
      emptyPageRange: options.emptyPageRange ?? 'star',
      partialContent: options.partialContent ?? false,
      // Its own PRNG, so which tenants go does not depend on how many 503s were drawn before.
      churn: options.churn && { ...options.churn, random: seededRandom(options.seed ?? 1) },
    }),
  );
  apsUrl = `${options.https ? 'https' : 'http'}://127.0.0.1:${aps.port}/`;
  const oa = await listen(
    options.oaHttps ?? false,
    oaHandler({
      appId,
      state,
      store,
      tokens,
      auth: options.oaAuth,
      latencyMs: options.oaLatencyMs ?? 0,
      contentType: options.oaContentType === undefined ? 'text/xml' : options.oaContentType,
      controllerUri: () =>
        options.controllerUri ??
        (options.controllerUriCredentials ? apsUrl.replace('://', `://${options.controllerUriCredentials}@`) : apsUrl),
    }),
  ).catch(async (err: unknown) => {
    await aps.close();
    throw err;
  });

  let closing: Promise<void> | undefined;
  return {
    appId,
    oaHost: '127.0.0.1',
    oaPort: oa.port,
    oaUrl: `${options.oaHttps ? 'https' : 'http'}://127.0.0.1:${oa.port}/RPC2`,
    apsUrl,
    caFile: certs.caFile,
    instances: store.instances,
    readyTenants: () => store.readyTenants(),
    stats,
    setFault: (tenantId, fault) => {
      if (fault === undefined) state.faults.delete(tenantId);
      else state.faults.set(tenantId, fault);
    },
    setSyncResult: (tenantId, lastSync) => {
      if (lastSync === 0) state.syncClock?.failing.delete(tenantId);
      else state.syncClock?.failing.set(tenantId, lastSync);
    },
    revokeTokens: () => tokens.revokeAll(),
    addTenant: (instanceId, status) => store.add(instanceId, status),
    removeTenant: (tenantId) => store.remove(tenantId),
    upgradeTenant: (tenantId, type) => {
      library.add(type);
      const tenant = store.get(tenantId);
      if (tenant === undefined) throw new Error(`no tenant ${tenantId} in the simulator`);
      tenant.type = type;
      state.typeChanges++;
    },
    setOaFault: (fault) => {
      state.oaFault = fault;
    },
    setControllerDown: (down) => {
      state.controllerDown = down;
    },
    holdResyncs: (afterSucceeded = 0) => {
      let release!: () => void;
      const gate = { afterSucceeded, open: new Promise<void>((resolve) => (release = resolve)) };
      state.resyncGate = gate;
      return () => {
        // A later gate set meanwhile stays: releasing this one lets through only what it held.
        if (state.resyncGate === gate) state.resyncGate = undefined;
        release();
      };
    },
    setListingFault: (fault, { fromOffset = 0 } = {}) => {
      state.listingFault = fault === undefined ? undefined : { fault, fromOffset };
    },
    issuedTokens: () => tokens.issued(),
    env: () => ({
      OFFICE_APP_ID: String(appId),
      OA_HOST: '127.0.0.1',
      OA_PORT: String(oa.port),
      ...(options.oaHttps ? { OA_TLS: 'true', OA_CA_FILE: certs.caFile } : {}),
      ...(options.oaAuth ? { OA_USER: options.oaAuth.user, OA_PASSWORD: options.oaAuth.password } : {}),
      ...(options.https ? { APS_CA_FILE: certs.caFile } : {}),
    }),
    close: () => (closing ??= Promise.all([oa.close(), aps.close()]).then(() => undefined)),
  };
}
