import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { hmacKeyId, hmacKeyRing, ringSecrets, type HmacKeys } from './hmac-key-ring.js';

/**
 * Authenticated encryption for small values carelogin must keep or hand out but never show in the
 * clear: AES-256-GCM under a key derived (HKDF) from the keystore's HMAC secret, one key per
 * purpose, with associated data binding a sealed value to what it belongs to (a client, an account).
 * A value sealed for one purpose or one owner does not open for another. The output is base64url:
 * - version 2 (sealed now): 2, the 4-byte id of the secret (hmacKeyId), the 12-byte IV, the
 *   ciphertext and the 16-byte tag; the version and key id are authenticated too.
 * - version 1 (before the key ring): 1, IV, ciphertext, tag. Still opened, by trying each secret.
 * New values are sealed under the ring's current secret; values under a previous one still open.
 */
export interface SealedBox {
  seal(plain: Buffer | string, associatedData: string): string;
  /** The plain bytes, or undefined when the value is not one this box sealed for this associated data. */
  open(sealed: string, associatedData: string): Buffer | undefined;
  /** True unless `sealed` is a version-2 value under the current secret: a re-seal step should open and seal it again. */
  needsReseal(sealed: string): boolean;
  /** The secret (current first, as in the ring) `sealed` opens under for this associated data, or undefined. */
  secretOf(sealed: string, associatedData: string): string | undefined;
}

const VERSION_1 = 1;
const VERSION_2 = 2;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_SHAPE = /^[A-Za-z0-9_-]{40,2000}$/;

interface BoxKey {
  readonly secret: string;
  readonly id: Buffer;
  readonly key: Buffer;
}

/** The raw bytes of a canonical sealed value of a known version, else undefined. */
function decode(sealed: string): Buffer | undefined {
  const raw = typeof sealed === 'string' && SEALED_SHAPE.test(sealed) ? Buffer.from(sealed, 'base64url') : undefined;
  // Only the canonical spelling, so a sealed value has exactly one accepted form.
  if (!raw || raw.toString('base64url') !== sealed) return undefined;
  if (raw[0] === VERSION_1 && raw.length > 1 + IV_BYTES + TAG_BYTES) return raw;
  if (raw[0] === VERSION_2 && raw.length > 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES) return raw;
  return undefined;
}

function decrypt(key: Buffer, iv: Buffer, body: Buffer, aad: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export function createSealedBox(hmacKeys: HmacKeys, purpose: string): SealedBox {
  const keys: BoxKey[] = ringSecrets(hmacKeyRing(hmacKeys, 'sealed boxes')).map((secret) => ({
    secret,
    id: hmacKeyId(secret),
    key: Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), purpose, 32)),
  }));
  const current = keys[0]!;

  /** The key that opens `raw` and the plain bytes. */
  function openRaw(raw: Buffer, associatedData: string): { key: BoxKey; plain: Buffer } | undefined {
    const data = Buffer.from(associatedData, 'utf8');
    if (raw[0] === VERSION_1) {
      // No key id: try each secret (only values sealed before the key ring existed).
      for (const key of keys) {
        const plain = decrypt(key.key, raw.subarray(1, 1 + IV_BYTES), raw.subarray(1 + IV_BYTES), data);
        if (plain) return { key, plain };
      }
      return undefined;
    }
    const header = raw.subarray(0, 1 + KEY_ID_BYTES);
    const id = raw.subarray(1, 1 + KEY_ID_BYTES);
    const iv = raw.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    // Normally one key has this id; a 32-bit collision would only cost a second attempt.
    for (const key of keys.filter((k) => k.id.equals(id))) {
      const plain = decrypt(key.key, iv, raw.subarray(1 + KEY_ID_BYTES + IV_BYTES), Buffer.concat([header, data]));
      if (plain) return { key, plain };
    }
    return undefined;
  }

  return {
    seal(plain, associatedData) {
      const header = Buffer.concat([Buffer.of(VERSION_2), current.id]);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.concat([header, Buffer.from(associatedData, 'utf8')]));
      const sealed = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain), cipher.final()]);
      return Buffer.concat([header, iv, sealed, cipher.getAuthTag()]).toString('base64url');
    },
    open(sealed, associatedData) {
      const raw = decode(sealed);
      return raw ? openRaw(raw, associatedData)?.plain : undefined;
    },
    needsReseal(sealed) {
      const raw = decode(sealed);
      return !raw || raw[0] !== VERSION_2 || !raw.subarray(1, 1 + KEY_ID_BYTES).equals(current.id);
    },
    secretOf(sealed, associatedData) {
      const raw = decode(sealed);
      return raw ? openRaw(raw, associatedData)?.key.secret : undefined;
    },
  };
}
