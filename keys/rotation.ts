/**
 * Two-phase key rotation on a keystore document (docs/operations.md "Rotating keys").
 * Instances read the keystore only at start, so each step takes effect as instances restart; the
 * two phases make sure every instance (and every relying party's JWKS cache) knows a key before any
 * instance signs with it.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import { hmacKeyId } from '../src/security/hmac-key-ring.js';
import {
  MAX_COOKIE_KEYS, MAX_PREVIOUS_HMAC_SECRETS, SIGNING_KEY_TYPES, generateCookieKey, generateHmacSecret, generateSigningEntry, orderSigningEntries, publicJwk,
  type CookieKeyEntry, type KeystoreDocument, type PreviousHmacSecret, type SigningEntry, type SigningKeyType,
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

/** A short, non-secret name for an HMAC secret in messages: its key id, hex. */
export function hmacSecretName(secret: string): string {
  return hmacKeyId(secret).toString('hex');
}

/**
 * rotate-hmac, in two phases like the cookie keys, because instances restart one at a time and an
 * instance must be able to check whatever another one made (a form, a code, a setup token):
 * - Phase 1 (no next secret): add nextHmacSecret. Every instance verifies and opens with it, none makes anything with it.
 * - Phase 2 (a next secret): it becomes the current secret; the old current one goes first in
 *   previousHmacSecrets (retiredAt = now) and keeps verifying and opening until pruned.
 * Refused when MAX_PREVIOUS_HMAC_SECRETS are kept already: dropping one here could turn
 * authenticator apps off, so prune (after reseal) decides that.
 */
export function rotateHmacDocument(document: KeystoreDocument, now: Date): RotationResult {
  const previous = document.previousHmacSecrets ?? [];
  if (previous.length >= MAX_PREVIOUS_HMAC_SECRETS) {
    throw new ConfigError(
      `Not rotating the HMAC secret: ${previous.length} previous HMAC secrets are kept already (at most ${MAX_PREVIOUS_HMAC_SECRETS}). `
      + 'Run "npm run keys -- reseal", then "npm run keys -- prune" once they have been retired long enough, and try again.',
    );
  }
  const next = document.nextHmacSecret;
  if (!next) {
    const known = [document.hmacSecret, ...previous.map((p) => p.secret)];
    let secret = generateHmacSecret();
    // A new secret whose 32-bit key id matches a kept one would make sealed values ambiguous: draw again.
    while (known.some((s) => hmacKeyId(s).equals(hmacKeyId(secret)))) secret = generateHmacSecret();
    return {
      phase: 'published-next',
      changes: [`added HMAC secret ${hmacSecretName(secret)} as "next" (verifies and opens, makes nothing yet)`],
      document: { ...document, nextHmacSecret: { secret, createdAt: now.toISOString() } },
    };
  }
  const { nextHmacSecret: _promoted, ...rest } = document;
  const retired: PreviousHmacSecret = { secret: document.hmacSecret, retiredAt: now.toISOString() };
  return {
    phase: 'promoted',
    changes: [
      `HMAC secret ${hmacSecretName(next.secret)} is now current (makes new tokens, codes and sealed values)`,
      `HMAC secret ${hmacSecretName(document.hmacSecret)} is now previous (verifies and opens until pruned)`,
    ],
    document: { ...rest, hmacSecret: next.secret, previousHmacSecrets: [retired, ...previous] },
  };
}

export interface PruneOptions {
  /** How long a value made with an HMAC secret can be in flight (forms, codes, setup tokens, ID token jti), in seconds. Default: maxTokenLifetimeSeconds. */
  readonly hmacInFlightSeconds?: number;
  /**
   * Previous HMAC secrets that still seal stored authenticator secrets, with how many: kept however
   * long ago they were retired (run reseal first). Required before any previous HMAC secret is removed.
   */
  readonly hmacSecretsInUse?: ReadonlyMap<string, number>;
}

export interface PruneResult {
  readonly document: KeystoreDocument;
  readonly removed: readonly string[];
  /** Retired keys that must stay a while longer, with the earliest time they may go. */
  readonly kept: readonly { readonly kid: string; readonly removableAfter: string }[];
  /** Names (hmacSecretName) of the previous HMAC secrets removed. */
  readonly removedHmacSecrets: readonly string[];
  /** Previous HMAC secrets that stay, and why. */
  readonly keptHmacSecrets: readonly { readonly name: string; readonly reason: string }[];
}

/** Previous HMAC secrets old enough to be pruned if nothing stored is still sealed under them. */
export function hmacSecretsDueForPruning(document: KeystoreDocument, now: Date, hmacInFlightSeconds: number): PreviousHmacSecret[] {
  return (document.previousHmacSecrets ?? []).filter((p) => now.getTime() > Date.parse(p.retiredAt) + (hmacInFlightSeconds + PRUNE_MARGIN_SECONDS) * 1000);
}

/**
 * Removes retired keys that can no longer have signed an unexpired token: retiredAt older than
 * maxTokenLifetimeSeconds + PRUNE_MARGIN_SECONDS. Current and next keys are never removed.
 * Previous HMAC secrets go on the same rule (with options.hmacInFlightSeconds) and only when
 * options.hmacSecretsInUse shows no stored authenticator secret still sealed under them.
 */
export function pruneDocument(document: KeystoreDocument, now: Date, maxTokenLifetimeSeconds: number, options: PruneOptions = {}): PruneResult {
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
  const inFlight = options.hmacInFlightSeconds ?? maxTokenLifetimeSeconds;
  const due = new Set(hmacSecretsDueForPruning(document, now, inFlight));
  const removedHmacSecrets: string[] = [];
  const keptHmacSecrets: { name: string; reason: string }[] = [];
  const previousHmacSecrets = (document.previousHmacSecrets ?? []).filter((p) => {
    const name = hmacSecretName(p.secret);
    if (!due.has(p)) {
      const after = new Date(Date.parse(p.retiredAt) + (inFlight + PRUNE_MARGIN_SECONDS) * 1000).toISOString();
      keptHmacSecrets.push({ name, reason: `values made with it may still be in flight until ${after}` });
      return true;
    }
    const sealing = options.hmacSecretsInUse?.get(p.secret);
    if (sealing === undefined && !options.hmacSecretsInUse) {
      keptHmacSecrets.push({ name, reason: 'the stored authenticator secrets were not checked' });
      return true;
    }
    if (sealing) {
      keptHmacSecrets.push({ name, reason: `${sealing} stored authenticator secret(s) are still sealed under it; run "npm run keys -- reseal"` });
      return true;
    }
    removedHmacSecrets.push(name);
    return false;
  });
  const { previousHmacSecrets: _dropped, ...rest } = document;
  return {
    document: { ...rest, signing, ...(previousHmacSecrets.length > 0 ? { previousHmacSecrets } : {}) },
    removed,
    kept,
    removedHmacSecrets,
    keptHmacSecrets,
  };
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
  lines.push(`HMAC secret: current ${hmacSecretName(document.hmacSecret)} (${Buffer.from(document.hmacSecret, 'base64url').length * 8} bits)`);
  if (document.nextHmacSecret) lines.push(`  next     ${hmacSecretName(document.nextHmacSecret.secret)}  created ${document.nextHmacSecret.createdAt} (verifies and opens only)`);
  for (const p of document.previousHmacSecrets ?? []) lines.push(`  previous ${hmacSecretName(p.secret)}  retired ${p.retiredAt} (verifies and opens only)`);
  return lines;
}
