import type { Agent } from 'undici';
import { usage } from './usage';

/**
 * The least a client can do for one pass, as the benchmark's yardstick: one token per instance from
 * OA, then the tenant pages and one resync per tenant over a keep-alive pool, `concurrency` at a time.
 * No retries, no token renewal, no logging, no state. Run as its own process, started with the
 * CLI's V8 settings (NODE_FLAGS); prints one JSON line.
 *   node bare-loop.js '{"oaUrl":..., "appId":41, "concurrency":16, "pageSize":500, "tenantType":..., "operation":...}'
 */
interface Options {
  oaUrl: string;
  appId: number;
  concurrency: number;
  pageSize: number;
  tenantType: string;
  operation: string;
}

async function oa(agent: Agent, url: string, method: string, args: Record<string, unknown>): Promise<unknown> {
  const { request } = require('undici') as typeof import('undici');
  const { decodeReply, encodeCall } = require('../../src/oa/codec') as typeof import('../../src/oa/codec');
  const res = await request(url, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: encodeCall(method, args),
  });
  return decodeReply(method, Buffer.from(await res.body.arrayBuffer()));
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as Options;
  // The clock starts before the HTTP client and the OA codec load, as the CLI's pass time includes
  // loading them (it requires them only once a pass is due).
  const started = performance.now();
  const { Agent, request } = require('undici') as typeof import('undici');
  const { tenantListQuery } = require('../../src/aps/rql') as typeof import('../../src/aps/rql');
  const agent = new Agent({ connections: o.concurrency, keepAliveTimeout: 10_000 });
  const instances = (await oa(agent, o.oaUrl, 'pem.APS.getApplicationInstances', { app_id: o.appId })) as {
    application_instance_id: number;
  }[];
  let resynced = 0;
  let errors = 0;
  for (const { application_instance_id: id } of instances) {
    const { aps_token: token, controller_uri: root } = (await oa(
      agent,
      o.oaUrl,
      'pem.APS.getApplicationInstanceToken',
      { application_instance_id: id },
    )) as {
      aps_token: string;
      controller_uri: string;
    };
    const resources = `${root.replace(/\/+$/, '')}/aps/2/resources`;
    const headers = { 'APS-Token': token, accept: 'application/json' };
    // Pages are fetched as the workers run out of tenants, one at a time, as the CLI does.
    let buffer: string[] = [];
    let offset = 0;
    let total = Infinity;
    let fetching: Promise<void> | undefined;
    const next = async (): Promise<string | undefined> => {
      while (buffer.length === 0 && offset < total) {
        fetching ??= (async () => {
          const res = await request(`${resources}?${tenantListQuery([o.tenantType], offset, o.pageSize)}`, {
            dispatcher: agent,
            headers,
          });
          const page = (await res.body.json()) as { aps: { id: string } }[];
          total = Number(/\/(\d+)$/.exec(String(res.headers['content-range']))?.[1] ?? 0);
          offset += page.length;
          if (page.length === 0) total = offset;
          buffer = page.map((t) => t.aps.id);
        })().finally(() => (fetching = undefined));
        await fetching;
      }
      return buffer.shift();
    };
    const worker = async (): Promise<void> => {
      for (let id = await next(); id !== undefined; id = await next()) {
        const res = await request(`${resources}/${id}/${o.operation}`, { dispatcher: agent, headers });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) resynced++;
        else errors++;
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  }
  const durationMs = performance.now() - started;
  await agent.close();
  process.stdout.write(`${JSON.stringify({ resynced, errors, durationMs, ...usage() })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bare loop failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
