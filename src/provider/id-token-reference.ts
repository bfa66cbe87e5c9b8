import type { HmacKeys } from '../security/hmac-key-ring.js';
import { createSealedBox } from '../security/sealed-box.js';

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

export function createIdTokenReferences(hmacKeys: HmacKeys): IdTokenReferences {
  const box = createSealedBox(hmacKeys, 'carelogin id_token jti v1');
  return {
    issue(clientId, signIn, now = Math.floor(Date.now() / 1000)) {
      return box.seal(JSON.stringify([signIn.accountId, signIn.authTime, signIn.amr, now]), clientId);
    },
    read(jti, clientId) {
      const plain = box.open(jti, clientId);
      if (!plain) return undefined;
      try {
        const [accountId, authTime, amr, issuedAt] = JSON.parse(plain.toString('utf8')) as [unknown, unknown, unknown, unknown];
        if (typeof accountId !== 'string' || typeof authTime !== 'number' || typeof issuedAt !== 'number' || !Array.isArray(amr)) return undefined;
        return { accountId, authTime, amr: amr.filter((m): m is string => typeof m === 'string'), issuedAt };
      } catch {
        return undefined;
      }
    },
  };
}
