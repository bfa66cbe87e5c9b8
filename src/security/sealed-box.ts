import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption for small values carelogin must keep or hand out but never show in the
 * clear: AES-256-GCM under a key derived (HKDF) from the keystore's HMAC secret, one key per
 * purpose, with associated data binding a sealed value to what it belongs to (a client, an account).
 * A value sealed for one purpose or one owner does not open for another. The output is base64url:
 * a version byte, the 12-byte IV, the ciphertext and the 16-byte tag.
 */
export interface SealedBox {
  seal(plain: Buffer | string, associatedData: string): string;
  /** The plain bytes, or undefined when the value is not one this box sealed for this associated data. */
  open(sealed: string, associatedData: string): Buffer | undefined;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_SHAPE = /^[A-Za-z0-9_-]{40,2000}$/;

export function createSealedBox(hmacSecret: string, purpose: string): SealedBox {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(hmacSecret, 'utf8'), Buffer.alloc(0), purpose, 32));
  return {
    seal(plain, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const sealed = Buffer.concat([cipher.update(typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), iv, sealed, cipher.getAuthTag()]).toString('base64url');
    },
    open(sealed, associatedData) {
      const raw = SEALED_SHAPE.test(sealed) ? Buffer.from(sealed, 'base64url') : undefined;
      // Only the canonical spelling, so a sealed value has exactly one accepted form.
      if (!raw || raw.toString('base64url') !== sealed || raw[0] !== VERSION || raw.length <= 1 + IV_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, 1 + IV_BYTES));
        decipher.setAAD(Buffer.from(associatedData, 'utf8'));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      } catch {
        return undefined;
      }
    },
  };
}
