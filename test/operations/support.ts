import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import type { TestRp } from '../helpers/relying-party.js';

/** The persona with its fixed security code (config default outside production). */
export function persona(key: 'p0' | 'p5' | 'p9') {
  const found = PERSONAS.find((p) => p.key === key)!;
  return { email: found.email, password: found.password, code: '190696', data: found };
}

/** A private_key_jwt client assertion for `rp` (RS512), so a token request gets past client authentication. */
export async function clientAssertion(rp: TestRp, issuer: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: rp.clientId, sub: rp.clientId, aud: `${issuer}/token`, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'RS512', kid: rp.kid })
    .sign(rp.privateKey);
}

/** A token request for a code that does not exist, with valid client authentication. */
export async function bogusCodeTokenRequest(rp: TestRp, issuer: string): Promise<RequestInit> {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'x'.repeat(43),
      redirect_uri: rp.redirectUri,
      code_verifier: 'v'.repeat(43),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(rp, issuer),
    }).toString(),
  };
}

export interface TimedResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Milliseconds from sending the request to reading the whole body. */
  readonly ms: number;
}

/** fetch that reads the body, measures how long the answer took, and gives up (throws) after `limitMs`. */
export async function timedFetch(url: string, init: RequestInit = {}, limitMs = 15000): Promise<TimedResponse> {
  const started = performance.now();
  const response = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(limitMs) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
}

/** Polls `check` every `intervalMs` until it returns true; resolves with the time taken, rejects after `limitMs`. */
export async function waitFor(check: () => Promise<boolean>, limitMs: number, intervalMs = 100): Promise<number> {
  const started = performance.now();
  for (;;) {
    const ok = await check().catch(() => false);
    const elapsed = performance.now() - started;
    if (ok) return elapsed;
    if (elapsed > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Things an error page or error JSON must never show (security-bar F3). */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\bat [^\n]*\(?[^\s]*:\d+:\d+\)?/, // a stack frame
  /node_modules/,
  /\/work\/|\/src\/|\.ts\b|\.js:\d+/,
  /QueryFailedError|TypeORM|typeorm|EntityMetadata|driverError/,
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|Connection terminated/,
  /\bSELECT\b|\bINSERT INTO\b|\bUPDATE oidc_model\b/,
  /oidc-provider|\bkoa\b|\bKoa\b|node-postgres|pg-pool/,
  /\b\d+\.\d+\.\d+\b/, // a library version
];

// Random values on a page (CSP nonces, CSRF tokens) are base64url and can spell "koa" by chance.
const withoutRandom = (text: string): string => text.replace(/\b(nonce|value)="[^"]*"/g, '$1=""');

export function leaks(text: string): RegExp[] {
  return LEAK_PATTERNS.filter((pattern) => pattern.test(withoutRandom(text)));
}

/** The text around the first leak, for an assertion message. */
export function leakContext(text: string): string {
  const cleaned = withoutRandom(text);
  for (const pattern of LEAK_PATTERNS) {
    const match = pattern.exec(cleaned);
    if (match) return cleaned.slice(Math.max(0, match.index - 60), match.index + match[0].length + 60);
  }
  return '';
}
