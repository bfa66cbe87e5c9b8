import { validateClientEntry, type RegisteredClient } from '../clients/registry.js';
import { BACK_OFFICE_CLIENT_ID, firstPartyClientEntry, type FirstPartyClient } from '../clients/first-party.js';

export { BACK_OFFICE_CLIENT_ID };

export const BACK_OFFICE_CALLBACK_PATH = '/back-office/callback';

/**
 * Reviewers see people's photo ID and decide their identity level, so they sign in with a password
 * and an authenticator app, or with a passkey: never a text message code alone (E7, NIST AAL2 without
 * the restricted authenticator). Anyone signed in with less is sent round the sign-in again.
 */
export const BACK_OFFICE_VECTORS: readonly string[] = ['P0.Cp.Ck', 'P0.Cm'];

export const BACK_OFFICE_CLIENT: FirstPartyClient = {
  clientId: BACK_OFFICE_CLIENT_ID,
  clientName: 'carelogin back office',
  callbackPath: BACK_OFFICE_CALLBACK_PATH,
  vectors: BACK_OFFICE_VECTORS,
};

/** The registered clients plus the back office's, unless the clients file already registers it. */
export function withBackOfficeClient(clients: readonly RegisteredClient[], issuer: string): RegisteredClient[] {
  return clients.some((c) => c.metadata.client_id === BACK_OFFICE_CLIENT_ID) ? [...clients] : [...clients, validateClientEntry(firstPartyClientEntry(issuer, BACK_OFFICE_CLIENT))];
}
