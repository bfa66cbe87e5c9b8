import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A tiny TCP proxy on 127.0.0.1 in front of PostgreSQL (or anything else), for fault tests:
 *
 * - `cut()`     an outage: every open connection is destroyed and new ones are accepted and closed
 *               at once (the client sees a reset, as when the database host is down or restarting);
 * - `stall()`   a black hole: open connections stop carrying bytes and new ones are accepted but
 *               never answered (a network partition, or a database stuck behind a lock);
 * - `restore()` back to normal: new connections reach the target again;
 * - `close()`   stops the proxy and destroys everything it holds.
 */
export interface TcpProxy {
  readonly port: number;
  /** The number of connections currently open through the proxy (client side). */
  readonly openConnections: number;
  cut(): void;
  stall(): void;
  restore(): void;
  close(): Promise<void>;
  /** The same connection string with its host:port replaced by the proxy's. */
  url(baseDatabaseUrl: string): string;
}

type Mode = 'open' | 'cut' | 'stalled';

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: Mode = 'open';
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();

  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Errors are expected here (resets on cut); the proxy must never throw on them.
    socket.on('error', () => undefined);
  };

  const server = net.createServer((client) => {
    track(client);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'stalled') {
      // Hold the connection and say nothing; drop whatever the client sends.
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk) => {
      if (mode === 'open') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'open') client.write(chunk);
    });
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const destroyAll = (): void => {
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
  };

  return {
    port,
    get openConnections() {
      return clients.size;
    },
    cut() {
      mode = 'cut';
      destroyAll();
    },
    stall() {
      mode = 'stalled';
    },
    restore() {
      // Connections opened while stalled would resume in the middle of a conversation: drop them.
      if (mode === 'stalled') destroyAll();
      mode = 'open';
    },
    async close() {
      mode = 'cut';
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    url(baseDatabaseUrl: string) {
      const url = new URL(baseDatabaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
  };
}

/** host and port of a postgres:// connection string (default port 5432). */
export function databaseTarget(databaseUrl: string): { host: string; port: number } {
  const url = new URL(databaseUrl);
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  return { host, port: url.port ? Number(url.port) : 5432 };
}
