import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen } from '../sim/listen';
import { readBody } from '../sim/replies';

/**
 * Serves a HAR file's replies (a --trace from the simulator or from a real installation) in the
 * order they were recorded: each request gets the next unserved entry with the same method and path.
 * The query is not part of the key, since a replay may run with other settings (page size, tenant
 * type) than the capture. Nothing is authenticated: a trace's tokens and passwords are placeholders.
 * An entry without a response (status 0: a timeout, a refused connection) is replayed as a closed
 * connection.
 */
export interface HarFile {
  log: { entries: HarEntry[]; comment?: string };
}

interface HarEntry {
  request: { method: string; url: string };
  response: { status: number; headers: { name: string; value: string }[]; content: { text?: string } };
}

export interface ReplayServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  /** Recorded entries not asked for (yet). */
  unserved(): number;
  /** Requests that found no recorded entry left for their method and path. */
  unmatched: string[];
  close(): Promise<void>;
}

/** Headers that describe the recorded connection, not the reply: the replay's own are sent instead. */
const CONNECTION_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

export function readHar(path: string): HarFile {
  return JSON.parse(readFileSync(path, 'utf8')) as HarFile;
}

export async function startReplay(har: HarFile): Promise<ReplayServer> {
  const queues = new Map<string, HarEntry[]>();
  for (const entry of har.log.entries) {
    const key = keyOf(entry.request.method, new URL(entry.request.url).pathname);
    queues.set(key, [...(queues.get(key) ?? []), entry]);
  }
  const unmatched: string[] = [];
  const server = await listen(false, (req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then(() => {
      const key = keyOf(req.method ?? 'GET', new URL(req.url ?? '/', 'http://replay').pathname);
      const entry = queues.get(key)?.shift();
      if (entry === undefined) {
        unmatched.push(key);
        res.writeHead(599, { 'content-type': 'text/plain' }).end(`replay: no recorded reply left for ${key}\n`);
      } else if (entry.response.status === 0) {
        req.socket.destroy();
      } else {
        const body = entry.response.content.text ?? '';
        const headers = entry.response.headers
          .filter((h) => !CONNECTION_HEADERS.has(h.name.toLowerCase()))
          .flatMap((h) => [h.name, h.value]);
        res.writeHead(entry.response.status, [...headers, 'content-length', String(Buffer.byteLength(body))]).end(body);
      }
    });
  });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    port: server.port,
    unserved: () => [...queues.values()].reduce((n, q) => n + q.length, 0),
    unmatched,
    close: () => server.close(),
  };
}

function keyOf(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}
