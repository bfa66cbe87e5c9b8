import type Provider from 'oidc-provider';
import type { Grant } from 'oidc-provider';
import { validateClientEntry, type ClientFileEntry, type RegisteredClient } from '../clients/registry.js';
import { ACCOUNT_CLIENT_ID, firstPartyClientEntry, implicitFirstPartyGrant } from '../clients/first-party.js';

export { ACCOUNT_CLIENT_ID };

/**
 * "Your account" is a first-party relying party of carelogin, as NHS login's settings site is an
 * RP of NHS login: it sends the patient through our own /authorize (and so through the real sign-in
 * journeys, security codes and remembered devices) instead of having a sign-in of its own.
 */
export const ACCOUNT_CLIENT_NAME = 'Your carelogin account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';

/** Settings changes need a password and a second factor, whatever the identity level of the account. */
export const ACCOUNT_VECTORS: readonly string[] = ['P0.Cp.Cd', 'P0.Cp.Ck', 'P0.Cm'];

/**
 * "Prove who you are" in Your account asks for these, so a P0 account goes through the real step-up
 * journey (the identity check) with the same credentials as above; a service would ask the same.
 */
export const ACCOUNT_IDENTITY_VECTORS: readonly string[] = ['P5.Cp.Cd', 'P5.Cp.Ck', 'P5.Cm'];

/** The internal client's registration, in the clients-file shape (src/clients/first-party.ts). */
export function accountClientEntry(issuer: string): ClientFileEntry {
  return firstPartyClientEntry(issuer, { clientId: ACCOUNT_CLIENT_ID, clientName: ACCOUNT_CLIENT_NAME, callbackPath: ACCOUNT_CALLBACK_PATH, vectors: [...ACCOUNT_VECTORS, ...ACCOUNT_IDENTITY_VECTORS] });
}

/** The registration as the provider takes it (for the composition root: `clients: [...loaded, accountClient(config.issuer)]`). */
export function accountClient(issuer: string): RegisteredClient {
  return validateClientEntry(accountClientEntry(issuer));
}

/**
 * The registered clients plus the account area's, unless the clients file already registers it
 * (the tests register it there, with their own issuer). For the composition root:
 * `const clients = withAccountClient(await loadClients(config), config.issuer);`
 */
export function withAccountClient(clients: readonly RegisteredClient[], issuer: string): RegisteredClient[] {
  return clients.some((c) => c.metadata.client_id === ACCOUNT_CLIENT_ID) ? [...clients] : [...clients, accountClient(issuer)];
}

/**
 * First-party consent: a Grant of `openid` for the account area, so the patient is never asked to
 * "share" with carelogin itself. For oidc-provider's `loadExistingGrant` (when the client is
 * ACCOUNT_CLIENT_ID and no grant was found), and used by the account area itself when it already
 * knows the account.
 */
export async function implicitAccountGrant(provider: Provider, accountId: string): Promise<Grant> {
  return implicitFirstPartyGrant(provider, accountId, ACCOUNT_CLIENT_ID);
}
