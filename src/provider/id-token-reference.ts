import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The `jti` of the ID tokens carelogin issues doubles as the reference NHS login's
 * `asserted_login_identity` carries (its `code` is "the jti of the ID token issued to RP1"). Rather
 * than store a row per ID token on the token endpoint's hot path, the jti is the sign-in it reports,
 * sealed: AES-256-GCM under a key derived from the keystore's HMAC secret, with the client it was
 * issued to as associated data, so it opens only for that client. To anyone else it is an opaque,
 * unique string, as a jti must be.
 */
export interface IdTokenSignIn {
  readonly accountId: string;
  /** When the person signed in (the ID token's auth_time), in seconds. */
  readonly authTime: number;
  /** The methods of that sign-in (the session's amr). */
  readonly amr: readonly string[];
}

export interface IdTokenReference extends IdTokenSignIn {
  /** When the ID token was issued, in seconds. */
  readonly issuedAt: number;
}

export interface IdTokenReferences {
  /** A fresh jti for an ID token issued to `clientId` now. */
  issue(clientId: string, signIn: IdTokenSignIn, now?: number): string;
  /** The sign-in behind a jti issued to `clientId`, or undefined when it is not one (forged, altered, another client's). */
  read(jti: string, clientId: string): IdTokenReference | undefined;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createIdTokenReferences(hmacSecret: string): IdTokenReferences {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(hmacSecret, 'utf8'), Buffer.alloc(0), 'carelogin id_token jti v1', 32));
  return {
    issue(clientId, signIn, now = Math.floor(Date.now() / 1000)) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(clientId, 'utf8'));
      const plain = Buffer.from(JSON.stringify([signIn.accountId, signIn.authTime, signIn.amr, now]), 'utf8');
      const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), iv, sealed, cipher.getAuthTag()]).toString('base64url');
    },
    read(jti, clientId) {
      const raw = /^[A-Za-z0-9_-]{40,400}$/.test(jti) ? Buffer.from(jti, 'base64url') : undefined;
      if (!raw || raw[0] !== VERSION || raw.length <= 1 + IV_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, 1 + IV_BYTES));
        decipher.setAAD(Buffer.from(clientId, 'utf8'));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
        const [accountId, authTime, amr, issuedAt] = JSON.parse(plain.toString('utf8')) as [unknown, unknown, unknown, unknown];
        if (typeof accountId !== 'string' || typeof authTime !== 'number' || typeof issuedAt !== 'number' || !Array.isArray(amr)) return undefined;
        return { accountId, authTime, amr: amr.filter((m): m is string => typeof m === 'string'), issuedAt };
      } catch {
        return undefined;
      }
    },
  };
}
