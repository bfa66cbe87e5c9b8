import { createHmac } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * A keyed digest (HMAC-SHA256 with the server's HMAC secret) of personal data that has to become a
 * lookup key, such as an email address in an attempt_counter key. A plain SHA-256 of an address can
 * be reversed by anyone with the table and a list of addresses to try; without the secret it cannot,
 * so the rows do not reveal which addresses were tried. `scope` keeps one kind of key from matching
 * another for the same value.
 */
export type KeyedDigest = (scope: string, value: string) => string;

export function createKeyedDigest(hmacSecret: string): KeyedDigest {
  if (typeof hmacSecret !== 'string' || hmacSecret.length < 16) throw new ConfigError('keyed digests need an HMAC secret of at least 16 characters');
  // The scope never contains NUL, so scope + NUL + value is unambiguous.
  return (scope, value) => createHmac('sha256', hmacSecret).update(`${scope}\0${value}`).digest('hex');
}
