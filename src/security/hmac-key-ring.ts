import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * The keystore's HMAC secrets (docs/operations.md "Rotating the HMAC secret"): the current one makes
 * every new MAC, digest and sealed value; the others only verify and open: a "next" secret during a
 * rotation (so an instance not yet restarted can check what a restarted one made) and the previous
 * ones (what was made before the rotation), until `npm run keys -- prune` drops them.
 */
export interface HmacKeyRing {
  readonly current: string;
  /** Secrets that only verify and open: during a rotation the next one, then the retired ones, newest first. */
  readonly previous: readonly string[];
}

/** A single secret is a ring with no previous secrets (tests, and callers that never rotate). */
export type HmacKeys = string | HmacKeyRing;

/** The ring of `keys`, every secret checked; `what` names the consumer in the error. */
export function hmacKeyRing(keys: HmacKeys, what = 'HMAC keys'): HmacKeyRing {
  const ring = typeof keys === 'string' ? { current: keys, previous: [] } : keys;
  for (const secret of [ring.current, ...ring.previous]) {
    if (typeof secret !== 'string' || secret.length < 16) throw new ConfigError(`${what} need an HMAC secret of at least 16 characters`);
  }
  return Object.freeze({ current: ring.current, previous: Object.freeze([...ring.previous]) });
}

/** Every secret of the ring, the current one first. */
export function ringSecrets(ring: HmacKeyRing): readonly string[] {
  return [ring.current, ...ring.previous];
}

/**
 * A 4-byte name for a secret: sealed values carry it so opening picks the key without trial
 * decryption, and operators can tell secrets apart. A truncated hash of a 256-bit secret reveals
 * nothing usable about it.
 */
export function hmacKeyId(secret: string): Buffer {
  return createHash('sha256').update('carelogin hmac key id\0').update(secret, 'utf8').digest().subarray(0, 4);
}
