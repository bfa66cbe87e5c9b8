import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

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

export function createCsrf(hmacSecret: string): Csrf {
  if (typeof hmacSecret !== 'string' || hmacSecret.length < 16) throw new ConfigError('CSRF protection needs an HMAC secret of at least 16 characters');
  // 'csrf:' keeps these MACs apart from anything else derived from the same secret.
  const mac = (binding: string): Buffer => createHmac('sha256', hmacSecret).update('csrf:' + binding).digest();
  return {
    token(binding) {
      if (typeof binding !== 'string' || binding.length === 0) throw new TypeError('a CSRF token needs a non-empty binding');
      return mac(binding).toString('base64url');
    },
    verify(binding, token) {
      if (typeof binding !== 'string' || binding.length === 0 || typeof token !== 'string') return false;
      // 32 bytes encode to exactly 43 base64url characters; anything else cannot be ours.
      if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
      const expected = mac(binding);
      const given = Buffer.from(token, 'base64url');
      // Only the canonical spelling: the last character's two spare bits decode the same either way.
      if (given.toString('base64url') !== token) return false;
      return given.length === expected.length && timingSafeEqual(given, expected);
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
