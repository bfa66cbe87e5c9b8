import { constants, createPublicKey, publicEncrypt, randomInt, type JsonWebKey } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { queryRows } from '../db/sql.js';

/** EIS Table 14: "The maximum length is 1024 characters." */
export const CLIENT_USER_METADATA_MAX_LENGTH = 1024;

/** NHS login's `client_user_metadata` (EIS Table 11, §3.6.3): one opaque value per account and relying party. */
export interface ClientUserMetadataStore {
  find(accountId: string, clientId: string): Promise<string | undefined>;
  /** Sets the value; an empty string clears it (EIS Table 14). */
  set(accountId: string, clientId: string, value: string): Promise<void>;
}

export function createClientUserMetadataStore(db: DataSource): ClientUserMetadataStore {
  return {
    async find(accountId, clientId) {
      const [row] = await queryRows<{ value: string }>(db, 'SELECT value FROM client_user_metadata WHERE account_id = $1 AND client_id = $2', [accountId, clientId]);
      return row?.value;
    },
    async set(accountId, clientId, value) {
      if (value === '') {
        await queryRows(db, 'DELETE FROM client_user_metadata WHERE account_id = $1 AND client_id = $2', [accountId, clientId]);
        return;
      }
      await queryRows(
        db,
        `INSERT INTO client_user_metadata (account_id, client_id, value, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (account_id, client_id) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [accountId, clientId, value],
      );
    },
  };
}

/**
 * The value NHS login generates when a relying party asks for "auto": "a randomly-generated number
 * which has been encrypted using PKCS1_OAEP cipher with the RP's public key and then base64URL
 * encoded" (EIS Table 11). PKCS1_OAEP's usual default digest is SHA-1, which is what we use.
 * Undefined when the client has no RSA key to encrypt with.
 */
export function generateClientUserMetadata(keys: readonly JsonWebKey[]): string | undefined {
  // An encryption key if the RP registered one; else its (signing) key, the one public key NHS login onboards.
  const rsa = keys.find((key) => key.kty === 'RSA' && key.use === 'enc') ?? keys.find((key) => key.kty === 'RSA');
  if (!rsa) return undefined;
  const publicKey = createPublicKey({ key: { kty: rsa.kty, n: rsa.n, e: rsa.e }, format: 'jwk' });
  // 18 random decimal digits: well inside Number's safe integers, no leading-zero surprises.
  const number = `${randomInt(1, 10)}${Array.from({ length: 17 }, () => randomInt(0, 10)).join('')}`;
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(number)).toString('base64url');
}
