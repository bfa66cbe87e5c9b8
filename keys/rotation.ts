/**
 * Two-phase key rotation on a keystore document (docs/operations.md "Rotating keys").
 * Instances read the keystore only at start, so each step takes effect as instances restart; the
 * two phases make sure every instance (and every relying party's JWKS cache) knows a key before any
 * instance signs with it.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import {
  MAX_COOKIE_KEYS, SIGNING_KEY_TYPES, generateCookieKey, generateSigningEntry, orderSigningEntries, publicJwk,
  type CookieKeyEntry, type KeystoreDocument, type SigningEntry, type SigningKeyType,
} from './keystore-format.js';

/** Phase 2 is refused until the "next" keys have been published this long, unless forced. */
export const DEFAULT_MIN_PUBLISHED_SECONDS = 3600;
/** Added to the longest token lifetime before a retired key may go: clock skew, RP leeway and the rolling restart after phase 2. */
export const PRUNE_MARGIN_SECONDS = 600;

export type RotationPhase = 'published-next' | 'promoted';

export interface RotationResult {
  readonly document: KeystoreDocument;
  readonly phase: RotationPhase;
  /** One line per change, for the operator. */
  readonly changes: readonly string[];
}

export interface RotationOptions {
  /** Skip the minimum-publication check of phase 2. */
  readonly force?: boolean;
  readonly minPublishedSeconds?: number;
}

function keyTypesPresent(document: KeystoreDocument): SigningKeyType[] {
  return SIGNING_KEY_TYPES.filter((kty) => document.signing.some((e) => e.jwk.kty === kty));
}

/**
 * Phase 1 (no "next" key anywhere): add a "next" signing key per key type and a "next" cookie key.
 * Phase 2 (a "next" key exists): promote each "next" key to "current", retire the old current keys
 * (retiredAt = now) and make the next cookie key the signing one. At most MAX_COOKIE_KEYS cookie keys are kept.
 */
export async function rotateDocument(document: KeystoreDocument, now: Date, options: RotationOptions = {}): Promise<RotationResult> {
  const hasNext = document.signing.some((e) => e.status === 'next') || document.cookieKeys.some((c) => c.status === 'next');
  const result = hasNext ? promote(document, now, options) : await publishNext(document, now);
  // Keep the file in the order oidc-provider will use, so it reads top-down as "signing first".
  return { ...result, document: { ...result.document, signing: orderSigningEntries(result.document.signing) } };
}

async function publishNext(document: KeystoreDocument, now: Date): Promise<RotationResult> {
  const changes: string[] = [];
  const added: SigningEntry[] = [];
  for (const kty of keyTypesPresent(document)) {
    const entry = await generateSigningEntry(kty, 'next', now);
    added.push(entry);
    changes.push(`added ${kty} key ${entry.jwk.kid} as "next" (published, not signing)`);
  }
  const cookie: CookieKeyEntry = { ...generateCookieKey(now), status: 'next' };
  // Keep room for the new key: the current key plus the most recent older ones.
  const kept = document.cookieKeys.slice(0, MAX_COOKIE_KEYS - 1);
  if (kept.length < document.cookieKeys.length) changes.push(`dropped ${document.cookieKeys.length - kept.length} oldest cookie key(s) (at most ${MAX_COOKIE_KEYS} are kept)`);
  changes.push('added a cookie key as "next" (verifies cookies, does not sign them yet)');
  return {
    phase: 'published-next',
    changes,
    document: { ...document, signing: [...document.signing, ...added], cookieKeys: [cookie, ...kept] },
  };
}

function promote(document: KeystoreDocument, now: Date, options: RotationOptions): RotationResult {
  const minimum = options.minPublishedSeconds ?? DEFAULT_MIN_PUBLISHED_SECONDS;
  const pending = [
    ...document.signing.filter((e) => e.status === 'next').map((e) => ({ what: `key ${e.jwk.kid}`, createdAt: e.createdAt })),
    ...document.cookieKeys.filter((c) => c.status === 'next').map((c) => ({ what: 'the next cookie key', createdAt: c.createdAt })),
  ];
  if (!options.force) {
    for (const item of pending) {
      const age = (now.getTime() - Date.parse(item.createdAt)) / 1000;
      if (age < minimum) {
        throw new ConfigError(
          `Not promoting yet: ${item.what} was published ${Math.max(0, Math.floor(age))} s ago; wait until it has been published for at least ${minimum} s `
          + '(and longer than relying parties cache the JWKS), with every instance restarted, then run rotate again. Use --force to override.',
        );
      }
    }
  }

  const changes: string[] = [];
  const iso = now.toISOString();
  const promotedTypes = new Set(document.signing.filter((e) => e.status === 'next').map((e) => e.jwk.kty));
  const signing = document.signing.map((entry): SigningEntry => {
    if (!promotedTypes.has(entry.jwk.kty)) return entry;
    if (entry.status === 'next') {
      changes.push(`${entry.jwk.kty} key ${entry.jwk.kid} is now "current" (signing)`);
      return { ...entry, status: 'current', promotedAt: iso };
    }
    if (entry.status === 'current') {
      changes.push(`${entry.jwk.kty} key ${entry.jwk.kid} is now "retired" (still published, no longer signing)`);
      return { ...entry, status: 'retired', retiredAt: iso };
    }
    return entry;
  });
  for (const kty of keyTypesPresent(document)) {
    if (!promotedTypes.has(kty)) changes.push(`${kty}: no "next" key, left unchanged`);
  }
  const next = document.cookieKeys.find((c) => c.status === 'next');
  let cookieKeys = document.cookieKeys;
  if (next) {
    // The promoted key goes first (signs); the rest keep verifying existing cookies.
    const rest = document.cookieKeys.filter((c) => c !== next);
    cookieKeys = [{ key: next.key, createdAt: next.createdAt }, ...rest].slice(0, MAX_COOKIE_KEYS);
    changes.push('the next cookie key now signs cookies; older cookie keys still verify');
  }
  return { phase: 'promoted', changes, document: { ...document, signing, cookieKeys } };
}

export interface PruneResult {
  readonly document: KeystoreDocument;
  readonly removed: readonly string[];
  /** Retired keys that must stay a while longer, with the earliest time they may go. */
  readonly kept: readonly { readonly kid: string; readonly removableAfter: string }[];
}

/**
 * Removes retired keys that can no longer have signed an unexpired token: retiredAt older than
 * maxTokenLifetimeSeconds + PRUNE_MARGIN_SECONDS. Current and next keys are never removed.
 */
export function pruneDocument(document: KeystoreDocument, now: Date, maxTokenLifetimeSeconds: number): PruneResult {
  const removed: string[] = [];
  const kept: { kid: string; removableAfter: string }[] = [];
  const signing = document.signing.filter((entry) => {
    if (entry.status !== 'retired') return true;
    const removableAt = Date.parse(entry.retiredAt!) + (maxTokenLifetimeSeconds + PRUNE_MARGIN_SECONDS) * 1000;
    if (now.getTime() > removableAt) {
      removed.push(entry.jwk.kid!);
      return false;
    }
    kept.push({ kid: entry.jwk.kid!, removableAfter: new Date(removableAt).toISOString() });
    return true;
  });
  return { document: { ...document, signing }, removed, kept };
}

/** A human-readable summary without any private material (kids, statuses, dates, sizes). */
export function describeDocument(document: KeystoreDocument): string[] {
  const lines = ['Signing keys (oidc-provider signs with the "current" key of each type):'];
  for (const entry of document.signing) {
    const jwk = publicJwk(entry.jwk);
    const size = jwk.kty === 'RSA'
      ? `RSA ${createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails?.modulusLength ?? '?'} bits`
      : `EC ${jwk.crv ?? '?'}`;
    const dates = [`created ${entry.createdAt}`, entry.promotedAt && `promoted ${entry.promotedAt}`, entry.retiredAt && `retired ${entry.retiredAt}`].filter(Boolean).join(', ');
    lines.push(`  ${entry.status.padEnd(7)}  ${jwk.kid}  ${size}  ${dates}`);
  }
  lines.push(`Cookie keys (${document.cookieKeys.length}, at most ${MAX_COOKIE_KEYS}):`);
  document.cookieKeys.forEach((c, index) => {
    const role = c.status === 'next' ? 'next (verifies only)' : index === document.cookieKeys.findIndex((k) => k.status !== 'next') ? 'signing' : 'verifies only';
    lines.push(`  ${role.padEnd(20)}  created ${c.createdAt}`);
  });
  lines.push(`HMAC secret: present (${Buffer.from(document.hmacSecret, 'base64url').length * 8} bits)`);
  return lines;
}
