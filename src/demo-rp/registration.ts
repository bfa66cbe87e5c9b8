/**
 * Registers the demo relying party with carelogin the same way an operator registers any service:
 * an RSA key pair whose public half goes into the clients file. Nothing about the demo RP is
 * special-cased inside the identity provider.
 */
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK_RSA_Private } from 'jose';
import { createFileExclusive, readIfExists } from '../../keys/atomic-file.js';
import { NHS_LOGIN_SCOPES, parseClientsFile, upsertClient, type ClientFileEntry } from '../clients/registry.js';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { NHS_LOGIN_PROFILES } from '../provider/vectors.js';

export const DEMO_RP_CLIENT_ID = 'carelogin-demo-rp';
export const DEMO_RP_CLIENT_NAME = 'carelogin demo service';
/** The demo signs client assertions and asks for ID tokens with NHS login's only algorithm. */
export const DEMO_RP_SIGNING_ALG = 'RS512';

/** An RSA private key as a JWK, with the kid that the registered public key carries. */
export type DemoRpPrivateJwk = JWK_RSA_Private & { readonly kid: string; readonly alg: typeof DEMO_RP_SIGNING_ALG };

export interface DemoRpCredentials {
  readonly clientId: string;
  readonly privateJwk: DemoRpPrivateJwk;
  readonly redirectUri: string;
  /** Where carelogin's RP-initiated logout returns the browser. */
  readonly postLogoutRedirectUri: string;
}

/** The demo RP's own paths, registered with carelogin. */
export const DEMO_RP_PATHS = { callback: '/callback', signedOut: '/signed-out', backchannelLogout: '/backchannel-logout' } as const;

export function demoRpKeyFile(config: Config): string {
  return path.join(config.dataDir, 'demo-rp-key.json');
}

/**
 * Makes sure the demo RP has a key pair and an up-to-date entry in the clients file, and returns
 * what the RP needs to sign in users. Idempotent: the key is generated once and reused, and the
 * clients file is only rewritten when the entry would change (e.g. DEMO_RP_URL moved).
 */
export async function ensureDemoRpRegistered(config: Config, logger: Logger): Promise<DemoRpCredentials> {
  const privateJwk = await loadOrCreateKey(demoRpKeyFile(config), logger);
  const redirectUri = `${config.demoRp.url}${DEMO_RP_PATHS.callback}`;
  const entry = clientEntry(privateJwk, config.demoRp.url);

  const text = await readIfExists(config.clientsFile);
  const existing = text === undefined ? undefined : parseClientsFile(text, config.clientsFile).file.clients.find((c) => c.client_id === DEMO_RP_CLIENT_ID);
  if (!existing || !isDeepStrictEqual(existing, entry)) {
    await upsertClient(config.clientsFile, entry);
    logger.info({ clientId: DEMO_RP_CLIENT_ID, redirectUri, clientsFile: config.clientsFile }, existing ? 'demo RP registration updated' : 'demo RP registered');
  }
  return { clientId: DEMO_RP_CLIENT_ID, privateJwk, redirectUri, postLogoutRedirectUri: `${config.demoRp.url}${DEMO_RP_PATHS.signedOut}` };
}

/**
 * The clients-file entry for the demo RP: everything NHS login offers, so every journey can be
 * tried, and carelogin's logout extensions (X13), so they can be seen working.
 */
export function clientEntry(privateJwk: DemoRpPrivateJwk, demoRpUrl: string): ClientFileEntry {
  return {
    client_id: DEMO_RP_CLIENT_ID,
    client_name: DEMO_RP_CLIENT_NAME,
    redirect_uris: [`${demoRpUrl}${DEMO_RP_PATHS.callback}`],
    jwks: { keys: [publicJwk(privateJwk)] },
    token_endpoint_auth_signing_alg: DEMO_RP_SIGNING_ALG,
    id_token_signed_response_alg: DEMO_RP_SIGNING_ALG,
    post_logout_redirect_uris: [`${demoRpUrl}${DEMO_RP_PATHS.signedOut}`],
    backchannel_logout_uri: `${demoRpUrl}${DEMO_RP_PATHS.backchannelLogout}`,
    backchannel_logout_session_required: true,
    carelogin: {
      allowed_vectors: [...NHS_LOGIN_PROFILES],
      allowed_scopes: [...NHS_LOGIN_SCOPES],
      pkce: 'required',
      refresh_tokens: true,
      // Its own partner, so its pages can show asserted_login_identity end to end.
      sso_partners: [DEMO_RP_CLIENT_ID],
    },
  };
}

/** Only the public members: the private exponent and CRT values never leave the key file. */
export function publicJwk(jwk: DemoRpPrivateJwk): { kty: 'RSA'; n: string; e: string; kid: string; alg: string; use: 'sig' } {
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid: jwk.kid, alg: jwk.alg, use: 'sig' };
}

async function loadOrCreateKey(file: string, logger: Logger): Promise<DemoRpPrivateJwk> {
  const existing = await readIfExists(file);
  if (existing !== undefined) return readKey(file, existing, logger);

  const { privateKey } = await generateKeyPair(DEMO_RP_SIGNING_ALG, { modulusLength: 2048, extractable: true });
  const exported = await exportJWK(privateKey);
  // The RFC 7638 thumbprint is a stable kid derived from the key itself.
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n: exported.n, e: exported.e });
  const jwk = { ...exported, kid, alg: DEMO_RP_SIGNING_ALG, use: 'sig' };
  const created = await createFileExclusive(file, `${JSON.stringify(jwk, null, 2)}\n`, 0o600);
  if (!created) {
    // Another process (a second `npm start`) generated one first: use that one so both agree.
    return readKey(file, (await readIfExists(file)) ?? '', logger);
  }
  logger.info({ file, kid }, 'demo RP key pair generated');
  return validateKey(jwk, file);
}

async function readKey(file: string, text: string, logger: Logger): Promise<DemoRpPrivateJwk> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Demo RP key file ${file} is not valid JSON; delete it to generate a new key`, error);
  }
  const jwk = validateKey(parsed, file);
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    // A private key readable by others is a finding; tighten rather than refuse, since this is a demo key.
    logger.warn({ file, mode: (mode & 0o777).toString(8) }, 'demo RP key file was readable by others; setting mode 0600');
    await chmod(file, 0o600);
  }
  return jwk;
}

function validateKey(value: unknown, file: string): DemoRpPrivateJwk {
  const jwk = value as Partial<Record<string, unknown>> | null;
  const required = ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'kid'];
  if (!jwk || typeof jwk !== 'object' || jwk.kty !== 'RSA' || required.some((member) => typeof jwk[member] !== 'string' || jwk[member] === '')) {
    throw new ConfigError(`Demo RP key file ${file} does not hold an RSA private JWK with a kid; delete it to generate a new key`);
  }
  if (jwk.alg !== undefined && jwk.alg !== DEMO_RP_SIGNING_ALG) {
    throw new ConfigError(`Demo RP key file ${file} has alg ${String(jwk.alg)}; expected ${DEMO_RP_SIGNING_ALG}`);
  }
  const member = (name: string): string => jwk[name] as string;
  return {
    kty: 'RSA', n: member('n'), e: member('e'), d: member('d'), p: member('p'), q: member('q'),
    dp: member('dp'), dq: member('dq'), qi: member('qi'), kid: member('kid'), alg: DEMO_RP_SIGNING_ALG, use: 'sig',
  };
}
