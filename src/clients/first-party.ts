import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Grant } from 'oidc-provider';
import type { DataSource } from 'typeorm';
import { findGrantId } from '../provider/adapter.js';
import type { ClientFileEntry } from './registry.js';

/**
 * carelogin's own first-party relying parties ("Your account", the back office): each signs people
 * in through our own /authorize, so through the real journeys, and is registered in code.
 */
export const ACCOUNT_CLIENT_ID = 'carelogin-account';
export const BACK_OFFICE_CLIENT_ID = 'carelogin-back-office';
export const FIRST_PARTY_CLIENT_IDS: readonly string[] = [ACCOUNT_CLIENT_ID, BACK_OFFICE_CLIENT_ID];

export interface FirstPartyClient {
  readonly clientId: string;
  readonly clientName: string;
  readonly callbackPath: string;
  /** Every vector the client may ask for. */
  readonly vectors: readonly string[];
}

/**
 * The registration, in the clients-file shape. A first-party client never redeems the authorization
 * code it receives (it reads the signed-in session oidc-provider itself keeps), so the registered
 * key is a fresh public key whose private half is discarded: nobody can authenticate as it.
 */
export function firstPartyClientEntry(issuer: string, client: FirstPartyClient): ClientFileEntry {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    redirect_uris: [`${issuer}${client.callbackPath}`],
    jwks: { keys: [{ kty: 'RSA', n: String(jwk.n), e: String(jwk.e), kid: randomUUID(), use: 'sig', alg: 'RS512' }] },
    token_endpoint_auth_signing_alg: 'RS512',
    id_token_signed_response_alg: 'RS512',
    carelogin: { allowed_vectors: [...client.vectors], allowed_scopes: ['openid'], pkce: 'required', refresh_tokens: false },
  };
}

export function isFirstPartyClient(clientId: string): boolean {
  return FIRST_PARTY_CLIENT_IDS.includes(clientId);
}

/**
 * First-party consent: a Grant of `openid`, so nobody is asked to "share" with carelogin itself.
 * For oidc-provider's `loadExistingGrant` (no grant found for a first-party client), and for the
 * first-party areas when they already know the account.
 */
export async function implicitFirstPartyGrant(provider: Provider, accountId: string, clientId: string): Promise<Grant> {
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid');
  await grant.save();
  return grant;
}

/** The client's consent, recorded once the account is known. */
export async function ensureFirstPartyGrant(provider: Provider, dataSource: DataSource, accountId: string, clientId: string): Promise<void> {
  if (!(await findGrantId(dataSource, accountId, clientId))) await implicitFirstPartyGrant(provider, accountId, clientId);
}
