import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { testCerts } from './certs';

export interface Listening {
  port: number;
  /** Stops listening and destroys every open socket, hung requests included. */
  close(): Promise<void>;
}

/** An HTTP(S) server on 127.0.0.1 at a random port that can be shut down at once. */
export async function listen(tls: boolean, handler: http.RequestListener): Promise<Listening> {
  let server: http.Server;
  if (tls) {
    const { key, cert } = testCerts();
    server = https.createServer({ key, cert }, handler);
  } else {
    server = http.createServer(handler);
  }
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
