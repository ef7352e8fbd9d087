import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * This host's floor for issue 13's speed-up: a server that does nothing but wait the latency and answer
 * `{}`, and an undici loop that does nothing but call it, each in a process of its own as the simulator
 * and the bare loop are. Their speed-up at a concurrency over concurrency 1 is the most any client can
 * reach here, where server, client and kernel share the same cores.
 *   node floor.js serve MS                   prints the port, then serves until killed
 *   node floor.js call PORT CONCURRENCY N    prints {"passMs": ...}: N requests, CONCURRENCY at a time
 */
async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') {
    const latencyMs = Number(args[0]);
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('{}'), latencyMs));
    });
    server.keepAliveTimeout = 10_000;
    server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
    process.once('SIGTERM', () => process.exit(0));
    return;
  }
  const [port, concurrency, requests] = args.map(Number);
  const { Agent, request } = require('undici') as typeof import('undici');
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
  // From the first request to the last reply: the floor of the requests alone, without any start-up.
  const started = performance.now();
  let left = requests!;
  const worker = async (): Promise<void> => {
    while (left-- > 0) await (await request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).body.dump();
  };
  await Promise.all(Array.from({ length: concurrency! }, worker));
  const passMs = performance.now() - started;
  await agent.close();
  process.stdout.write(`${JSON.stringify({ passMs })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`floor failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
