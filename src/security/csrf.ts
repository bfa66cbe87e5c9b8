import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { hmacKeyRing, ringSecrets, type HmacKeys } from './hmac-key-ring.js';

/**
 * Cross-site request forgery defences for our own forms (security-bar C5; ASVS 3.5.1):
 * a token derived from something only this browser's journey has (the binding, e.g. the
 * interaction uid or session id), plus a Fetch-Metadata/Origin check that refuses cross-site posts
 * before any token is looked at.
 */
export interface Csrf {
  /** HMAC(secret, 'csrf:' + binding), base64url. Stateless: the same binding always gives the same token. */
  token(binding: string): string;
  verify(binding: string, token: unknown): boolean;
}

/** Tokens are made with the ring's current secret; a form rendered before a rotation still verifies under a previous one. */
export function createCsrf(hmacKeys: HmacKeys): Csrf {
  const secrets = ringSecrets(hmacKeyRing(hmacKeys, 'CSRF tokens'));
  // 'csrf:' keeps these MACs apart from anything else derived from the same secret.
  const mac = (secret: string, binding: string): Buffer => createHmac('sha256', secret).update('csrf:' + binding).digest();
  return {
    token(binding) {
      if (typeof binding !== 'string' || binding.length === 0) throw new TypeError('a CSRF token needs a non-empty binding');
      return mac(secrets[0]!, binding).toString('base64url');
    },
    verify(binding, token) {
      if (typeof binding !== 'string' || binding.length === 0 || typeof token !== 'string') return false;
      // 32 bytes encode to exactly 43 base64url characters; anything else cannot be ours.
      if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
      const given = Buffer.from(token, 'base64url');
      // Only the canonical spelling: the last character's two spare bits decode the same either way.
      if (given.toString('base64url') !== token || given.length !== 32) return false;
      // Every secret is compared (no early exit), so the time taken does not say which one matched.
      let matched = false;
      for (const secret of secrets) matched = timingSafeEqual(given, mac(secret, binding)) || matched;
      return matched;
    },
  };
}

function single(value: string | string[] | undefined): string | undefined | null {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : null; // repeated header: treat as forged
  return value;
}

/**
 * Rejects cross-site form posts using Sec-Fetch-Site / Origin (allow same-origin, none, and
 * missing headers from non-browser clients only when Origin is absent).
 *
 * - Sec-Fetch-Site (sent by every current browser): only `same-origin` and `none` (typed
 *   address, bookmark) pass; `same-site` is refused too, because a sibling subdomain is not us.
 * - Origin, when present, must be exactly our origin; `null` (sandboxed frames, some redirects)
 *   is refused.
 * - Neither header: an old browser or a non-browser client; the CSRF token still applies.
 */
export function isCrossSiteRequest(headers: Record<string, string | string[] | undefined>, expectedOrigin: string): boolean {
  const fetchSite = single(headers['sec-fetch-site']);
  const origin = single(headers['origin']);
  if (fetchSite === null || origin === null) return true;
  if (fetchSite !== undefined) {
    const site = fetchSite.trim().toLowerCase();
    if (site !== 'same-origin' && site !== 'none') return true;
  }
  if (origin !== undefined) {
    let expected: string;
    try {
      expected = new URL(expectedOrigin).origin;
    } catch {
      throw new ConfigError(`isCrossSiteRequest: expected origin is not a URL: ${expectedOrigin}`);
    }
    if (origin.trim().toLowerCase() !== expected.toLowerCase()) return true;
  }
  return false;
}
