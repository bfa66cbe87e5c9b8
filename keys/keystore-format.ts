/**
 * The keystore file (docs/operations.md "Keys"):
 * { "version": 1,
 *   "signing": [{ "status": "current"|"next"|"retired", "createdAt": ISO, "promotedAt"?: ISO, "retiredAt"?: ISO, "jwk": {…private JWK…} }],
 *   "cookieKeys": [{ "key": "…", "createdAt": ISO, "status"?: "next" }],   // newest first
 *   "hmacSecret": "…base64url, ≥256 bits…",
 *   "nextHmacSecret"?: { "secret": "…", "createdAt": ISO },
 *   "previousHmacSecrets"?: [{ "secret": "…", "retiredAt": ISO }] }           // newest first
 * The HMAC secret makes every new MAC, digest and sealed value. The next one (phase 1 of
 * rotate-hmac) and previous ones (phase 2; dropped by prune) only verify and open. Without the two
 * optional members this is exactly the format from before HMAC rotation existed.
 * Per key type (RSA, EC) exactly one "current" key (it signs), at most one "next" (published, not signing yet)
 * and any number of "retired" ones (published until the tokens they signed have expired).
 * Cookie keys work the same way: a key with "status": "next" only verifies (it goes last in Keygrip's
 * list) until the next rotation promotes it; otherwise the first key signs and the rest verify.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, randomUUID, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../src/errors.js';
import { hmacKeyId } from '../src/security/hmac-key-ring.js';

export const SIGNING_STATUSES = ['current', 'next', 'retired'] as const;
export type SigningStatus = (typeof SIGNING_STATUSES)[number];
export const SIGNING_KEY_TYPES = ['RSA', 'EC'] as const;
export type SigningKeyType = (typeof SIGNING_KEY_TYPES)[number];

export interface SigningEntry {
  readonly status: SigningStatus;
  readonly createdAt: string;
  readonly promotedAt?: string;
  readonly retiredAt?: string;
  readonly jwk: JWK;
}

export interface CookieKeyEntry {
  readonly key: string;
  readonly createdAt: string;
  /** Known to every instance but not signing yet (set by the first step of a rotation). */
  readonly status?: 'next';
}

export interface PreviousHmacSecret {
  readonly secret: string;
  /** When rotate-hmac replaced it: prune keeps it until nothing made with it can still be in flight. */
  readonly retiredAt: string;
}

export interface NextHmacSecret {
  readonly secret: string;
  readonly createdAt: string;
}

export interface KeystoreDocument {
  readonly version: 1;
  readonly signing: readonly SigningEntry[];
  /** Newest first. */
  readonly cookieKeys: readonly CookieKeyEntry[];
  readonly hmacSecret: string;
  /** Set by phase 1 of rotate-hmac: known to every instance (verifies, opens) before phase 2 makes it current. */
  readonly nextHmacSecret?: NextHmacSecret;
  /** Newest first; absent when there are none (so older readers see the format they know). */
  readonly previousHmacSecrets?: readonly PreviousHmacSecret[];
}

export const MIN_RSA_BITS = 2048;
/** Keygrip keys: at most this many are kept after rotation (newest signs, the others only verify). */
export const MAX_COOKIE_KEYS = 3;
/** Previous HMAC secrets kept at most: rotate-hmac refuses to add one more (prune first), never silently dropping one that may still seal stored values. */
export const MAX_PREVIOUS_HMAC_SECRETS = 3;
const EC_CURVES = ['P-256', 'P-384', 'P-521'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;
const PUBLIC_MEMBERS = ['kty', 'kid', 'use', 'alg', 'n', 'e', 'crv', 'x', 'y'] as const;
const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALG_FOR_CURVE: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

const isoDate = z.iso.datetime({ offset: true });
const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');

const hmacSecretSchema = base64url.refine((s) => Buffer.from(s, 'base64url').length >= 32, 'must encode at least 256 bits');

const jwkSchema = z.looseObject({
  kty: z.enum(SIGNING_KEY_TYPES),
  kid: z.string().min(1).max(200),
  use: z.literal('sig').optional(),
  alg: z.string().optional(),
  d: base64url,
});

const documentSchema = z.strictObject({
  version: z.literal(1),
  signing: z.array(z.strictObject({
    status: z.enum(SIGNING_STATUSES),
    createdAt: isoDate,
    promotedAt: isoDate.optional(),
    retiredAt: isoDate.optional(),
    jwk: jwkSchema,
  })).min(1),
  cookieKeys: z.array(z.strictObject({
    key: z.string().min(32, 'must be at least 32 characters'),
    createdAt: isoDate,
    status: z.literal('next').optional(),
  })).min(1),
  hmacSecret: hmacSecretSchema,
  nextHmacSecret: z.strictObject({ secret: hmacSecretSchema, createdAt: isoDate }).optional(),
  previousHmacSecrets: z.array(z.strictObject({ secret: hmacSecretSchema, retiredAt: isoDate })).max(MAX_PREVIOUS_HMAC_SECRETS).optional(),
});

/** Copies only the JWK members we know, so stray members (key_ops, x5c, ext) never reach oidc-provider. */
function cleanJwk(source: Record<string, unknown>): JWK {
  const jwk: Record<string, string> = {};
  for (const member of [...PUBLIC_MEMBERS, ...PRIVATE_MEMBERS]) {
    const value = source[member];
    if (typeof value === 'string') jwk[member] = value;
  }
  return jwk as JWK;
}

/** The public members only (allow-list, so no private member can slip through). */
export function publicJwk(jwk: JWK): JWK {
  const out: Record<string, string> = {};
  for (const member of PUBLIC_MEMBERS) {
    const value = jwk[member];
    if (typeof value === 'string') out[member] = value;
  }
  return out as JWK;
}

/** Imports the key pair and signs/verifies once, so corrupt or mismatched material fails at start, not at first login. */
function checkKeyMaterial(jwk: JWK): string | undefined {
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    publicKey = createPublicKey({ key: publicJwk(jwk) as JsonWebKey, format: 'jwk' });
  } catch {
    return 'is not a valid private key';
  }
  if (jwk.kty === 'RSA') {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) return `is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`;
    if (jwk.alg !== undefined && !RSA_ALGS.includes(jwk.alg)) return `has alg ${jwk.alg}, which is not an RSA signing algorithm`;
  } else {
    if (!jwk.crv || !EC_CURVES.includes(jwk.crv)) return `has curve ${String(jwk.crv)}; use P-256, P-384 or P-521`;
    if (jwk.alg !== undefined && jwk.alg !== EC_ALG_FOR_CURVE[jwk.crv]) return `has alg ${jwk.alg}, which does not match curve ${jwk.crv}`;
  }
  const probe = Buffer.from('carelogin keystore self-check');
  try {
    if (!verify('sha256', probe, publicKey, sign('sha256', probe, privateKey))) return 'has public and private parts that do not match';
  } catch {
    return 'cannot sign (damaged key material)';
  }
  return undefined;
}

/**
 * Parses and validates keystore JSON. Error messages name the source and the problem but never quote
 * the content: JSON.parse messages can include fragments of the (secret) text.
 */
export function parseKeystoreDocument(text: string, source: string): KeystoreDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`Keystore ${source} is not valid JSON`);
  }
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`Keystore ${source} is invalid: ${z.prettifyError(parsed.error)}`);

  const problems: string[] = [];
  const kids = new Set<string>();
  const signing: SigningEntry[] = parsed.data.signing.map((entry, index) => {
    const jwk = cleanJwk(entry.jwk);
    const where = `signing[${index}] (kid ${jwk.kid})`;
    if (kids.has(jwk.kid!)) problems.push(`${where} repeats a kid; kids must be unique`);
    kids.add(jwk.kid!);
    const material = checkKeyMaterial(jwk);
    if (material) problems.push(`${where} ${material}`);
    if (entry.status === 'retired' && !entry.retiredAt) problems.push(`${where} is retired but has no retiredAt`);
    return { status: entry.status, createdAt: entry.createdAt, promotedAt: entry.promotedAt, retiredAt: entry.retiredAt, jwk };
  });
  for (const kty of SIGNING_KEY_TYPES) {
    const ofType = signing.filter((e) => e.jwk.kty === kty);
    const current = ofType.filter((e) => e.status === 'current').length;
    const next = ofType.filter((e) => e.status === 'next').length;
    if (ofType.length > 0 && current !== 1) problems.push(`${kty} keys: exactly one must be "current" (found ${current})`);
    if (next > 1) problems.push(`${kty} keys: at most one may be "next" (found ${next})`);
  }
  // RS512 is the default for every client (X10), so there must be an RSA key to sign with.
  if (!signing.some((e) => e.jwk.kty === 'RSA')) problems.push('there is no RSA signing key (needed for RS512)');
  const cookieKeys: CookieKeyEntry[] = parsed.data.cookieKeys.map((c) => ({ key: c.key, createdAt: c.createdAt, ...(c.status ? { status: c.status } : {}) }));
  if (new Set(cookieKeys.map((c) => c.key)).size !== cookieKeys.length) problems.push('cookieKeys repeat a key');
  const nextCookieKeys = cookieKeys.filter((c) => c.status === 'next').length;
  if (nextCookieKeys > 1) problems.push(`cookieKeys: at most one may be "next" (found ${nextCookieKeys})`);
  if (nextCookieKeys === cookieKeys.length) problems.push('cookieKeys: at least one key must not be "next" (one has to sign)');
  const previousHmacSecrets: PreviousHmacSecret[] = (parsed.data.previousHmacSecrets ?? []).map((p) => ({ secret: p.secret, retiredAt: p.retiredAt }));
  const nextHmacSecret = parsed.data.nextHmacSecret ? { secret: parsed.data.nextHmacSecret.secret, createdAt: parsed.data.nextHmacSecret.createdAt } : undefined;
  const hmacSecrets = [parsed.data.hmacSecret, ...(nextHmacSecret ? [nextHmacSecret.secret] : []), ...previousHmacSecrets.map((p) => p.secret)];
  // Sealed values name their secret by hmacKeyId; two secrets with one id would make that ambiguous.
  if (new Set(hmacSecrets.map((s) => hmacKeyId(s).toString('hex'))).size !== hmacSecrets.length) problems.push('HMAC secrets repeat (or share a key id); each must be unique');
  if (previousHmacSecrets.some((p, i) => i > 0 && Date.parse(p.retiredAt) > Date.parse(previousHmacSecrets[i - 1]!.retiredAt))) {
    problems.push('previousHmacSecrets must be newest first');
  }
  if (problems.length > 0) throw new ConfigError(`Keystore ${source} is invalid: ${problems.join('; ')}`);

  return {
    version: 1, signing, cookieKeys, hmacSecret: parsed.data.hmacSecret,
    ...(nextHmacSecret ? { nextHmacSecret } : {}),
    ...(previousHmacSecrets.length > 0 ? { previousHmacSecrets } : {}),
  };
}

export function serializeKeystoreDocument(document: KeystoreDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh signing key: RSA 2048 (RS512/PS256; alg deliberately not pinned) or EC P-256 (ES256). */
export async function generateSigningEntry(kty: SigningKeyType, status: SigningStatus, now: Date): Promise<SigningEntry> {
  const { privateKey } = kty === 'RSA'
    ? await generateKeyPairAsync('rsa', { modulusLength: MIN_RSA_BITS })
    : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const exported = cleanJwk(privateKey.export({ format: 'jwk' }));
  // NHS login kids look like UUIDs; a random one also never collides with a retired key's kid.
  const jwk: JWK = { ...exported, kid: randomUUID(), use: 'sig' };
  return { status, createdAt: now.toISOString(), ...(status === 'current' ? { promotedAt: now.toISOString() } : {}), jwk };
}

export function generateCookieKey(now: Date): CookieKeyEntry {
  return { key: randomBytes(32).toString('base64url'), createdAt: now.toISOString() };
}

export function generateHmacSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function generateKeystoreDocument(now: Date): Promise<KeystoreDocument> {
  const [rsa, ec] = await Promise.all([generateSigningEntry('RSA', 'current', now), generateSigningEntry('EC', 'current', now)]);
  return { version: 1, signing: [rsa, ec], cookieKeys: [generateCookieKey(now)], hmacSecret: generateHmacSecret() };
}

const STATUS_RANK: Record<SigningStatus, number> = { current: 0, next: 1, retired: 2 };

/**
 * oidc-provider signs with the first key of the wanted type, so order is: current, next, retired
 * (most recently retired first). The sort is stable, so file order breaks other ties.
 */
export function orderSigningEntries(entries: readonly SigningEntry[]): SigningEntry[] {
  return [...entries].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status]
    || (a.status === 'retired' ? time(b.retiredAt) - time(a.retiredAt) : 0));
}

/** Keygrip order: the first key signs, all verify; a "next" key goes last so it only verifies. */
export function orderCookieKeys(entries: readonly CookieKeyEntry[]): string[] {
  return [...entries.filter((c) => c.status !== 'next'), ...entries.filter((c) => c.status === 'next')].map((c) => c.key);
}

function time(iso: string | undefined): number {
  const value = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
}
