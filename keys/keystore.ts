import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JWK } from 'jose';
import type { Config } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { hmacKeyRing, type HmacKeyRing } from '../src/security/hmac-key-ring.js';
import { createFileExclusive, readIfExists } from './atomic-file.js';
import {
  generateKeystoreDocument, orderCookieKeys, orderSigningEntries, parseKeystoreDocument, publicJwk, serializeKeystoreDocument,
  type KeystoreDocument,
} from './keystore-format.js';

export * from './keystore-format.js';

export interface Keystore {
  /** Private JWKs for oidc-provider's `jwks`: per key type the signing ("current") key first, then "next" (published, not yet signing), then "retired" (published until tokens it signed expire). Unique kids. */
  readonly signingKeys: JWK[];
  /** Keys for oidc-provider `cookies.keys` (Keygrip), newest first; old ones kept so existing cookies still verify. A key from a half-done rotation comes last (verifies, never signs). */
  readonly cookieKeys: string[];
  /** The current 256-bit secret (base64url) for HMACs and sealed boxes: hmacKeys.current. */
  readonly hmacSecret: string;
  /** The current secret, and the ones that only verify and open: a "next" one first (during rotate-hmac), then the previous ones, newest first. */
  readonly hmacKeys: HmacKeyRing;
}

/** The runtime view of a validated keystore document. */
export function toKeystore(document: KeystoreDocument): Keystore {
  return Object.freeze({
    signingKeys: orderSigningEntries(document.signing).map((entry) => ({ ...entry.jwk })),
    cookieKeys: orderCookieKeys(document.cookieKeys),
    hmacSecret: document.hmacSecret,
    hmacKeys: hmacKeyRing({ current: document.hmacSecret, previous: hmacVerifyOnlySecrets(document) }),
  });
}

/** The secrets that verify and open but make nothing: the next one (known before it is used) and the previous ones. */
export function hmacVerifyOnlySecrets(document: KeystoreDocument): string[] {
  return [...(document.nextHmacSecret ? [document.nextHmacSecret.secret] : []), ...(document.previousHmacSecrets ?? []).map((p) => p.secret)];
}

/** The JWKS to publish: public members only, in signing order. */
export function publicJwks(keystore: Pick<Keystore, 'signingKeys'>): { keys: JWK[] } {
  return { keys: keystore.signingKeys.map(publicJwk) };
}

/**
 * Loads the keystore from KEYSTORE_JSON, else from the keystore file. In development and test a
 * missing file is generated; in production it must exist (every instance must share the same keys).
 */
export async function loadKeystore(config: Config, logger: Logger): Promise<Keystore> {
  if (config.keystore.json) return toKeystore(parseKeystoreDocument(config.keystore.json, 'KEYSTORE_JSON'));
  const file = config.keystore.file;
  if (!file) throw new ConfigError('No keystore configured: set KEYSTORE_FILE or KEYSTORE_JSON');

  const text = await readIfExists(file);
  if (text !== undefined) {
    await warnIfReadableByOthers(file, logger);
    return toKeystore(parseKeystoreDocument(text, file));
  }
  if (!config.keystore.generateIfMissing) {
    throw new ConfigError(
      `Keystore file ${file} does not exist. carelogin only generates keys by itself in development and test. `
      + 'Create it once with "npm run keys -- generate" (or supply KEYSTORE_JSON) and give every instance the same keystore.',
    );
  }
  const { document, created } = await ensureKeystoreFile(file, new Date());
  if (created) {
    logger.warn({ file, kids: document.signing.map((e) => e.jwk.kid) }, 'Generated a new keystore (signing keys, cookie key, HMAC secret) because none existed; development and test only');
  }
  return toKeystore(document);
}

/**
 * Creates the keystore file if it is missing. Concurrent callers agree: exactly one file wins and
 * every caller returns its content.
 */
export async function ensureKeystoreFile(file: string, now: Date): Promise<{ document: KeystoreDocument; created: boolean }> {
  const existing = await readIfExists(file);
  if (existing !== undefined) return { document: parseKeystoreDocument(existing, file), created: false };
  const document = await generateKeystoreDocument(now);
  if (await createFileExclusive(file, serializeKeystoreDocument(document))) return { document, created: true };
  return { document: await readWinner(file), created: false };
}

/** Another process created the file first. On filesystems without hard links it may still be mid-write, so retry briefly. */
async function readWinner(file: string): Promise<KeystoreDocument> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const text = await readIfExists(file);
    if (text !== undefined) {
      try {
        return parseKeystoreDocument(text, file);
      } catch (error) {
        lastError = error;
      }
    }
    await sleep(50);
  }
  throw lastError instanceof Error ? lastError : new ConfigError(`Keystore ${file} could not be read after it was created`);
}

async function warnIfReadableByOthers(file: string, logger: Logger): Promise<void> {
  if (process.platform === 'win32') return;
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    logger.warn({ file, mode: (mode & 0o777).toString(8) }, 'Keystore file is readable by other users; chmod 600 it');
  }
}
