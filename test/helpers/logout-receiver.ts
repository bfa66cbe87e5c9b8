import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';

/**
 * A relying party's back-channel logout endpoint (OIDC Back-Channel Logout 1.0 §2.5): a real HTTP
 * server that takes the POSTed logout_token, as a service would, and keeps what it was sent.
 */
export interface LogoutReceiver {
  /** e.g. http://127.0.0.1:41234/backchannel-logout */
  readonly uri: string;
  /** The raw logout tokens received (whatever the answer), oldest first. */
  readonly tokens: string[];
  /** Answers for the next requests, taken in order; a test may push to it (e.g. 500, then the default 200). */
  readonly statuses: number[];
  /** Resolves once `count` tokens have arrived (or rejects after `ms`). */
  waitFor(count: number, ms?: number): Promise<string[]>;
  close(): Promise<void>;
}

export interface LogoutReceiverOptions {
  /** The answer to every request (default 200). */
  readonly status?: number;
  /** Waits this long before answering (so that racing senders overlap). */
  readonly delayMs?: number;
}

export async function startLogoutReceiver(options: LogoutReceiverOptions = {}): Promise<LogoutReceiver> {
  const tokens: string[] = [];
  const statuses: number[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (request.method === 'POST' && request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') && token) tokens.push(token);
      const status = statuses.shift() ?? options.status ?? 200;
      setTimeout(() => response.writeHead(status, { 'cache-control': 'no-store' }).end(), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`;
  return {
    uri,
    tokens,
    statuses,
    async waitFor(count, ms = 5000) {
      const until = Date.now() + ms;
      while (tokens.length < count) {
        if (Date.now() > until) throw new Error(`expected ${count} logout token(s), got ${tokens.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return tokens;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Validates a logout token as §2.6 tells the RP to: signature by the IdP's JWKS, iss, aud, typ, events, no nonce. */
export async function verifyLogoutToken(token: string, issuer: string, clientId: string): Promise<JWTPayload & { sid?: string; events?: Record<string, unknown> }> {
  const jwks = createLocalJWKSet(await (await fetch(`${issuer}/.well-known/jwks.json`)).json());
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience: clientId, algorithms: ['RS512'], typ: 'logout+jwt' });
  if (!protectedHeader.kid) throw new Error('logout token without kid');
  if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events['http://schemas.openid.net/event/backchannel-logout'] !== 'object') throw new Error('logout token without the back-channel logout event');
  if (typeof payload.jti !== 'string' || typeof payload.iat !== 'number') throw new Error('logout token without jti or iat');
  return payload as JWTPayload & { sid?: string; events?: Record<string, unknown> };
}
