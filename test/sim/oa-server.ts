import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { pause, readBody, send, sendHtml } from './replies';
import type { TenantStore } from './tenants';
import type { TokenRegistry } from './tokens';
import type { SimState } from './types';

interface XmlRpcDeserializer {
  deserializeMethodCall(
    stream: NodeJS.ReadableStream,
    cb: (err: Error | null | undefined, method?: string, params?: unknown[]) => void,
  ): void;
}
// The xmlrpc package's parts, used on their own (it ships no types for lib/).
const Deserializer = require('xmlrpc/lib/deserializer') as new () => XmlRpcDeserializer;
const serializer = require('xmlrpc/lib/serializer') as {
  serializeMethodResponse(value: unknown): string;
  serializeFault(fault: { faultCode: number; faultString: string }): string;
};

export interface OaServerDeps {
  appId: number;
  state: SimState;
  store: TenantStore;
  tokens: TokenRegistry;
  auth?: { user: string; password: string; wrongStatus?: 401 | 403 };
  latencyMs: number;
  /** What replies say their content type is; null: none. */
  contentType: string | null;
  controllerUri: () => string;
}

type Outcome = { value: unknown } | { fault: { faultCode: number; faultString: string } };

const MALFORMED =
  '<?xml version="1.0"?>\n<html><body><h1>Service Unavailable</h1><p>backend restarting</body></html>\n';

/** The OA Public API (src/oa/README.md): XML-RPC over POST /RPC2, one struct argument per call. */
export function oaHandler(deps: OaServerDeps): RequestListener {
  return (req, res) => {
    deps.state.stats.oaRequests++;
    handle(deps, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendHtml(res, 500, 'Internal Server Error');
      else res.destroy(err as Error);
    });
  };
}

async function handle(deps: OaServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  await pause(deps.latencyMs);
  if (res.destroyed) return;
  if ((req.url ?? '').split('?')[0] !== '/RPC2') return sendHtml(res, 404, 'Not Found');
  if (req.method !== 'POST') return sendHtml(res, 405, 'Not Allowed', { allow: 'POST' });
  if (deps.auth !== undefined && !authorized(req, deps.auth)) {
    if (req.headers.authorization !== undefined && deps.auth.wrongStatus === 403)
      return sendHtml(res, 403, 'Forbidden');
    return sendHtml(res, 401, 'Authorization Required', { 'www-authenticate': 'Basic realm="OA"' });
  }
  let call: { method: string; params: unknown[] };
  try {
    call = await parseCall(body);
  } catch (err) {
    return sendXml(
      deps,
      res,
      serializer.serializeFault({
        faultCode: -32700,
        faultString: `Invalid XML-RPC request: ${(err as Error).message}`,
      }),
    );
  }
  deps.state.stats.oaCalls.push({ method: call.method, args: call.params[0] });
  if (deps.state.oaFault === 'hangToken' && call.method === 'pem.APS.getApplicationInstanceToken') return;
  switch (deps.state.oaFault) {
    case 'hang':
      return;
    case 'html500':
      return sendHtml(res, 500, 'Internal Server Error');
    case 'malformedXml':
      return sendXml(deps, res, MALFORMED);
    case 'fault':
      return sendXml(
        deps,
        res,
        serializer.serializeFault({ faultCode: -32500, faultString: 'Internal server error: simulated fault' }),
      );
    case 'statusMinusOne':
      return sendXml(
        deps,
        res,
        serializer.serializeMethodResponse(oaError('Internal error: database is unavailable', 'Common', 1)),
      );
    case 'javaException':
      return sendXml(
        deps,
        res,
        serializer.serializeMethodResponse({ status: -1, error_message: 'java.lang.NullPointerException: null' }),
      );
    case 'truncatedXml': {
      const xml = serialize(dispatch(deps, call.method, call.params));
      return sendXml(deps, res, xml.slice(0, Math.floor(xml.length / 2)));
    }
    case 'hangToken':
    case 'invalidToken':
    case 'instanceListedTwice':
    case undefined:
      return sendXml(deps, res, serialize(dispatch(deps, call.method, call.params)));
  }
}

function authorized(req: IncomingMessage, auth: { user: string; password: string }): boolean {
  const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  return req.headers.authorization === expected;
}

function parseCall(body: Buffer): Promise<{ method: string; params: unknown[] }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const stream = new PassThrough();
    new Deserializer().deserializeMethodCall(stream, (err, method, params) => {
      if (settled) return;
      settled = true;
      if (err || method === undefined) reject(err ?? new Error('no method name'));
      else resolve({ method, params: params ?? [] });
    });
    stream.end(body);
  });
}

function sendXml(deps: OaServerDeps, res: ServerResponse, xml: string): void {
  send(res, 200, deps.contentType, xml);
}

function serialize(outcome: Outcome): string {
  return 'fault' in outcome
    ? serializer.serializeFault(outcome.fault)
    : serializer.serializeMethodResponse(outcome.value);
}

const oaError = (message: string, moduleId: string, extypeId: number) => ({
  status: -1,
  error_message: message,
  module_id: moduleId,
  extype_id: extypeId,
});

function intArg(params: unknown[], name: string): number | undefined {
  const struct = params[0];
  if (params.length !== 1 || typeof struct !== 'object' || struct === null) return undefined;
  const value = (struct as Record<string, unknown>)[name];
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

function dispatch(deps: OaServerDeps, method: string, params: unknown[]): Outcome {
  switch (method) {
    case 'pem.APS.getApplicationInstances': {
      const appId = intArg(params, 'app_id');
      if (appId === undefined)
        return { value: oaError("Parameter 'app_id' is missing or is not an integer.", 'Common', 2) };
      if (appId !== deps.appId) return { value: oaError(`Application with ID ${appId} is not found.`, 'APS', 7) };
      const result = deps.store.instances.map((i) => ({
        application_instance_id: i.id,
        application_resource_id: i.resourceId,
      }));
      if (deps.state.oaFault === 'instanceListedTwice' && result.length) result.push(result[0]!);
      return { value: { status: 0, result } };
    }
    case 'pem.APS.getApplicationInstanceToken': {
      const id = intArg(params, 'application_instance_id');
      if (id === undefined)
        return { value: oaError("Parameter 'application_instance_id' is missing or is not an integer.", 'Common', 2) };
      if (deps.store.instance(id) === undefined)
        return { value: oaError(`Application instance with ID ${id} is not found.`, 'APS', 8) };
      const stats = deps.state.stats;
      stats.tokensIssued++;
      stats.tokensIssuedByInstance.set(id, (stats.tokensIssuedByInstance.get(id) ?? 0) + 1);
      return {
        value: {
          status: 0,
          result: {
            aps_token: deps.tokens.issue(id) + (deps.state.oaFault === 'invalidToken' ? '\r\nX-Injected: é' : ''),
            controller_uri: deps.controllerUri(),
          },
        },
      };
    }
    default:
      return { fault: { faultCode: 1, faultString: `Method "${method}" is not supported.` } };
  }
}
