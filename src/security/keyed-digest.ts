import { createHmac } from 'node:crypto';
import { hmacKeyRing, type HmacKeys } from './hmac-key-ring.js';

/**
 * A keyed digest (HMAC-SHA256 with the server's HMAC secret) of personal data that has to become a
 * lookup key, such as an email address in an attempt_counter key. A plain SHA-256 of an address can
 * be reversed by anyone with the table and a list of addresses to try; without the secret it cannot,
 * so the rows do not reveal which addresses were tried. `scope` keeps one kind of key from matching
 * another for the same value.
 */
export type KeyedDigest = (scope: string, value: string) => string;

/**
 * Only the ring's current secret is used, never a previous one. A digest is a lookup key for a
 * short-lived row (a registration-email or unknown-account counter within its window, a consent
 * grant's id within one interaction), not a value someone hands back to be verified: looking each
 * value up under every secret would multiply queries and split counters for little gain. So these
 * rows rotate with the secret: after a rotation a counter keyed by an address starts again from zero
 * (once per rotation, which only an operator can cause) and the old rows expire with their windows.
 */
export function createKeyedDigest(hmacKeys: HmacKeys): KeyedDigest {
  const hmacSecret = hmacKeyRing(hmacKeys, 'keyed digests').current;
  // The scope never contains NUL, so scope + NUL + value is unambiguous.
  return (scope, value) => createHmac('sha256', hmacSecret).update(`${scope}\0${value}`).digest('hex');
}
