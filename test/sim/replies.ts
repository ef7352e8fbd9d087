import type { ServerResponse } from 'node:http';

/** `contentType` null sends the reply without one. */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string | null,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    ...(contentType === null ? {} : { 'content-type': contentType }),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The kind of HTML error page a proxy or web server in front of an API answers with. */
export function sendHtml(
  res: ServerResponse,
  status: number,
  title: string,
  headers: Record<string, string> = {},
): void {
  const body =
    `<html>\r\n<head><title>${status} ${title}</title></head>\r\n<body>\r\n` +
    `<center><h1>${status} ${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
  send(res, status, 'text/html', body, headers);
}

/** Waits `ms` (not at all for 0, to keep the fast path fast). */
export async function pause(ms: number): Promise<void> {
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

export function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
