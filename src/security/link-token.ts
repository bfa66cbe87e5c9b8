import { createHash, randomBytes } from 'node:crypto';

/**
 * The bearer tokens carelogin puts in links it emails or texts (a password reset, cancelling a held
 * mobile change): 256 random bits, base64url (43 characters). Only their SHA-256 is stored, so a
 * database leak gives no working link (security-bar F5).
 */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function newLinkToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored and looked up: the token's SHA-256, hex. */
export function linkTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A value that could be one of our tokens (anything else is refused before any lookup). */
export function isLinkTokenShaped(token: unknown): token is string {
  return typeof token === 'string' && TOKEN.test(token);
}
