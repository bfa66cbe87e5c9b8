/**
 * Relying-party registrations, read from a JSON file (docs/operations.md "Registering relying parties").
 * Registration is offline, as at NHS login: an operator adds clients; there is no dynamic registration.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { ClientMetadata, JWK } from 'oidc-provider';
import { writeFileAtomic, readIfExists } from '../../keys/atomic-file.js';
import type { Config } from '../config/index.js';
import { ClientRegistrationError, ConfigError } from '../errors.js';
import { DEFAULT_VTR, VectorSyntaxError, formatVector, parseVector } from '../provider/vectors.js';

export interface ClientSettings {
  /** Vectors of trust the client may request (canonical strings, e.g. "P9.Cp.Cd"). Default DEFAULT_VTR. */
  readonly allowedVectors: readonly string[];
  /** Scopes the client may request (always includes "openid"). */
  readonly allowedScopes: readonly string[];
  /** PKCE S256 required (default true). false = NHS-login compatibility for PKCE-less confidential RPs (X12). */
  readonly requirePkce: boolean;
  /** Issue refresh tokens (opt-in, default false; X6). */
  readonly refreshTokens: boolean;
  /**
   * Services this client shares single sign-on with: each may send an `asserted_login_identity`
   * this client made (NHS login's "SSO pairs", configured per client). Default none.
   */
  readonly ssoPartners: readonly string[];
}

export interface RegisteredClient {
  /** Standard OIDC client metadata as oidc-provider takes it in `clients: [...]`. */
  readonly metadata: ClientMetadata;
  readonly settings: ClientSettings;
}

export const CLIENT_SIGNING_ALGS = ['RS512', 'PS256', 'ES256'] as const;
export type ClientSigningAlg = (typeof CLIENT_SIGNING_ALGS)[number];
export const DEFAULT_CLIENT_SIGNING_ALG: ClientSigningAlg = 'RS512';

/** NHS login's scopes (nhs-login.md §2). offline_access only for clients with refresh tokens. */
export const NHS_LOGIN_SCOPES: readonly string[] = [
  'openid', 'profile', 'basic_demographics', 'profile_extended', 'email', 'phone', 'landline',
  'gp_registration_details', 'gp_integration_credentials', 'client_metadata', 'offline_access',
];
/** Least privilege: a client gets more than openid only when its registration says so. */
export const DEFAULT_ALLOWED_SCOPES: readonly string[] = ['openid'];
export const MAX_REDIRECT_URIS = 10;

/** One client as written in the clients file. */
export interface ClientFileEntry {
  client_id: string;
  client_name: string;
  redirect_uris: string[];
  jwks?: { keys: JWK[] };
  jwks_uri?: string;
  token_endpoint_auth_signing_alg?: ClientSigningAlg;
  id_token_signed_response_alg?: ClientSigningAlg;
  /** Where RP-initiated logout may send the browser afterwards (exact match; security-bar X13). */
  post_logout_redirect_uris?: string[];
  /** Where logout tokens are POSTed when the patient's carelogin session ends (OIDC Back-Channel Logout 1.0). */
  backchannel_logout_uri?: string;
  /** Put `sid` in ID tokens and logout tokens (default false: logout tokens name the `sub` only). */
  backchannel_logout_session_required?: boolean;
  carelogin?: {
    allowed_vectors?: string[];
    allowed_scopes?: string[];
    pkce?: 'required' | 'not-required';
    refresh_tokens?: boolean;
    sso_partners?: string[];
  };
}

export interface ClientsFile {
  clients: ClientFileEntry[];
}

const ENTRY_FIELDS = new Set([
  'client_id', 'client_name', 'redirect_uris', 'jwks', 'jwks_uri', 'token_endpoint_auth_signing_alg', 'id_token_signed_response_alg',
  'post_logout_redirect_uris', 'backchannel_logout_uri', 'backchannel_logout_session_required', 'carelogin',
]);
const CARELOGIN_FIELDS = new Set(['allowed_vectors', 'allowed_scopes', 'pkce', 'refresh_tokens', 'sso_partners']);
const CLIENT_ID = /^[A-Za-z0-9._-]{3,100}$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Members that only a private or symmetric key has. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const PUBLIC_MEMBERS = ['kty', 'kid', 'use', 'alg', 'n', 'e', 'crv', 'x', 'y'] as const;
const MIN_RSA_BITS = 2048;
const MAX_CLIENT_KEYS = 10;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Validates one clients-file entry; throws ClientRegistrationError naming the client and the field. */
export function validateClientEntry(entry: unknown): RegisteredClient {
  if (!isRecord(entry)) throw new ClientRegistrationError('(unknown)', 'entry', 'must be a JSON object');
  const rawId = entry.client_id;
  const clientId = typeof rawId === 'string' && rawId.length > 0 ? rawId : '(missing client_id)';
  const fail = (field: string, detail: string): never => {
    throw new ClientRegistrationError(clientId, field, detail);
  };

  for (const key of Object.keys(entry)) {
    if (!ENTRY_FIELDS.has(key)) fail(key, `is not a recognised field (expected one of ${[...ENTRY_FIELDS].join(', ')})`);
  }
  if (typeof rawId !== 'string' || !CLIENT_ID.test(rawId)) fail('client_id', 'must be 3-100 characters of A-Z, a-z, 0-9, ".", "_" or "-"');

  const name = entry.client_name;
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) fail('client_name', 'must be a non-empty string of at most 200 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name as string)) fail('client_name', 'must not contain control characters');

  const redirectUris = validateUriList(entry.redirect_uris, 'redirect_uris', fail);
  // Logout is opt-in per client (X13): without these, RP-initiated logout never redirects back to
  // the client and no logout token is ever sent to it.
  const postLogoutRedirectUris = entry.post_logout_redirect_uris === undefined ? undefined : validateUriList(entry.post_logout_redirect_uris, 'post_logout_redirect_uris', fail);
  const backchannelLogoutUri = entry.backchannel_logout_uri === undefined ? undefined : validateUrl(entry.backchannel_logout_uri, 'backchannel_logout_uri', fail);
  const sessionRequired = entry.backchannel_logout_session_required;
  if (sessionRequired !== undefined && typeof sessionRequired !== 'boolean') fail('backchannel_logout_session_required', 'must be true or false');
  if (sessionRequired !== undefined && backchannelLogoutUri === undefined) fail('backchannel_logout_session_required', 'needs backchannel_logout_uri');

  const hasJwks = entry.jwks !== undefined;
  const hasJwksUri = entry.jwks_uri !== undefined;
  if (hasJwks === hasJwksUri) fail('jwks', 'exactly one of jwks and jwks_uri must be given');
  const authAlg = validateAlg(entry.token_endpoint_auth_signing_alg, 'token_endpoint_auth_signing_alg', fail);
  const idTokenAlg = validateAlg(entry.id_token_signed_response_alg, 'id_token_signed_response_alg', fail);
  let jwks: { keys: JWK[] } | undefined;
  let jwksUri: string | undefined;
  if (hasJwks) {
    jwks = validateJwks(entry.jwks, fail);
    if (!jwks.keys.some((key) => keyUsableFor(key, authAlg))) {
      fail('token_endpoint_auth_signing_alg', `is ${authAlg} but jwks has no ${authAlg === 'ES256' ? 'EC P-256' : 'RSA'} key usable for it`);
    }
  } else {
    jwksUri = validateUrl(entry.jwks_uri, 'jwks_uri', fail);
  }

  const settings = validateSettings(entry.carelogin, fail);
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: name as string,
    redirect_uris: redirectUris,
    ...(jwks ? { jwks } : { jwks_uri: jwksUri }),
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: authAlg,
    id_token_signed_response_alg: idTokenAlg,
    response_types: ['code'],
    grant_types: settings.refreshTokens ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    ...(postLogoutRedirectUris ? { post_logout_redirect_uris: postLogoutRedirectUris } : {}),
    ...(backchannelLogoutUri ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: sessionRequired === true } : {}),
  };
  return { metadata, settings };
}

type Fail = (field: string, detail: string) => never;

/** redirect_uris and post_logout_redirect_uris: 1 to 10 distinct URLs, each as validateUrl. */
function validateUriList(value: unknown, field: string, fail: Fail): string[] {
  if (!isStringArray(value)) return fail(field, 'must be an array of strings');
  if (value.length < 1 || value.length > MAX_REDIRECT_URIS) fail(field, `must list 1 to ${MAX_REDIRECT_URIS} URIs (found ${value.length}); use state to route beyond that`);
  if (new Set(value).size !== value.length) fail(field, 'lists the same URI more than once');
  value.forEach((uri, index) => validateUrl(uri, `${field}[${index}]`, fail));
  return [...value];
}

/** An absolute https URL (http only on loopback), exact-match friendly: no query, fragment, wildcard or userinfo. */
function validateUrl(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== 'string' || value.length === 0) return fail(field, 'must be a non-empty string');
  if (value.length > 2000) fail(field, 'is longer than 2000 characters');
  if (value !== value.trim() || /\s/.test(value)) fail(field, `"${value}" must not contain whitespace`);
  if (value.includes('*')) fail(field, `"${value}" must not contain a wildcard`);
  if (value.includes('?')) fail(field, `"${value}" must not have a query string`);
  if (value.includes('#')) fail(field, `"${value}" must not have a fragment`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(field, `"${value}" is not an absolute URL`);
  }
  if (url.username || url.password || value.slice(0, value.indexOf(url.host)).includes('@')) fail(field, `"${value}" must not contain a user name or password`);
  if (url.protocol === 'http:') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) fail(field, `"${value}" must use https (plain http is only allowed for localhost, 127.0.0.1 and [::1])`);
  } else if (url.protocol !== 'https:') {
    fail(field, `"${value}" must use https`);
  }
  return value;
}

function validateAlg(value: unknown, field: string, fail: Fail): ClientSigningAlg {
  if (value === undefined) return DEFAULT_CLIENT_SIGNING_ALG;
  if (typeof value !== 'string' || !(CLIENT_SIGNING_ALGS as readonly string[]).includes(value)) {
    return fail(field, `must be one of ${CLIENT_SIGNING_ALGS.join(', ')}`);
  }
  return value as ClientSigningAlg;
}

function validateJwks(value: unknown, fail: Fail): { keys: JWK[] } {
  if (!isRecord(value) || !Array.isArray(value.keys)) return fail('jwks', 'must be an object with a "keys" array');
  if (value.keys.length < 1 || value.keys.length > MAX_CLIENT_KEYS) fail('jwks', `must hold 1 to ${MAX_CLIENT_KEYS} keys`);
  const kids = new Set<string>();
  const keys = value.keys.map((key: unknown, index: number): JWK => {
    const field = `jwks.keys[${index}]`;
    if (!isRecord(key)) return fail(field, 'must be a JSON object');
    const secret = SECRET_MEMBERS.filter((member) => key[member] !== undefined);
    if (secret.length > 0) fail(field, `contains private key material (${secret.join(', ')}); register the public key only and keep the private key with the relying party`);
    if (key.kty !== 'RSA' && key.kty !== 'EC') fail(field, `has unsupported kty ${JSON.stringify(key.kty)} (expected RSA or EC)`);
    if (key.use !== undefined && key.use !== 'sig') fail(field, 'has use other than "sig"');
    if (key.alg !== undefined && !(CLIENT_SIGNING_ALGS as readonly string[]).includes(key.alg as string)) fail(field, `has alg ${JSON.stringify(key.alg)}; supported: ${CLIENT_SIGNING_ALGS.join(', ')}`);
    if (key.kid !== undefined) {
      if (typeof key.kid !== 'string' || key.kid.length === 0) fail(field, 'has a kid that is not a non-empty string');
      if (kids.has(key.kid as string)) fail(field, `repeats kid ${JSON.stringify(key.kid)}`);
      kids.add(key.kid as string);
    }
    const jwk: JWK = {};
    for (const member of PUBLIC_MEMBERS) {
      const v = key[member];
      if (v !== undefined && typeof v !== 'string') fail(field, `member ${member} must be a string`);
      if (typeof v === 'string') jwk[member] = v;
    }
    let details;
    try {
      details = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails;
    } catch {
      return fail(field, 'is not a valid public key');
    }
    if (jwk.kty === 'RSA' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) fail(field, `is a ${details?.modulusLength ?? 0}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    if (jwk.kty === 'EC' && jwk.crv !== 'P-256') fail(field, `uses curve ${String(jwk.crv)}; only P-256 (ES256) is supported`);
    if (jwk.alg !== undefined && !keyUsableFor(jwk, jwk.alg as ClientSigningAlg)) fail(field, `has alg ${jwk.alg}, which does not match its kty ${jwk.kty}`);
    return jwk;
  });
  return { keys };
}

function keyUsableFor(key: JWK, alg: ClientSigningAlg): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  return alg === 'ES256' ? key.kty === 'EC' && key.crv === 'P-256' : key.kty === 'RSA';
}

function validateSettings(value: unknown, fail: Fail): ClientSettings {
  if (value === undefined) value = {};
  if (!isRecord(value)) return fail('carelogin', 'must be a JSON object');
  for (const key of Object.keys(value)) {
    if (!CARELOGIN_FIELDS.has(key)) fail(`carelogin.${key}`, `is not a recognised field (expected one of ${[...CARELOGIN_FIELDS].join(', ')})`);
  }

  const refresh = value.refresh_tokens ?? false;
  if (typeof refresh !== 'boolean') fail('carelogin.refresh_tokens', 'must be true or false');

  const pkce = value.pkce ?? 'required';
  if (pkce !== 'required' && pkce !== 'not-required') fail('carelogin.pkce', 'must be "required" or "not-required"');

  let allowedVectors: string[] = [...DEFAULT_VTR];
  if (value.allowed_vectors !== undefined) {
    if (!isStringArray(value.allowed_vectors) || value.allowed_vectors.length === 0) fail('carelogin.allowed_vectors', 'must be a non-empty array of strings');
    allowedVectors = (value.allowed_vectors as string[]).map((text) => {
      try {
        return formatVector(parseVector(text));
      } catch (error) {
        if (error instanceof VectorSyntaxError) return fail('carelogin.allowed_vectors', error.message);
        throw error;
      }
    });
    allowedVectors = [...new Set(allowedVectors)];
  }

  let allowedScopes: string[] = [...DEFAULT_ALLOWED_SCOPES];
  if (value.allowed_scopes !== undefined) {
    if (!isStringArray(value.allowed_scopes)) fail('carelogin.allowed_scopes', 'must be an array of strings');
    const scopes = [...new Set(value.allowed_scopes as string[])];
    const unknown = scopes.filter((s) => !NHS_LOGIN_SCOPES.includes(s));
    if (unknown.length > 0) fail('carelogin.allowed_scopes', `has unknown scope(s) ${unknown.join(', ')} (known: ${NHS_LOGIN_SCOPES.join(', ')})`);
    if (!scopes.includes('openid')) fail('carelogin.allowed_scopes', 'must include openid');
    if (scopes.includes('offline_access') && refresh !== true) fail('carelogin.allowed_scopes', 'may include offline_access only when carelogin.refresh_tokens is true');
    allowedScopes = scopes;
  }

  let ssoPartners: string[] = [];
  if (value.sso_partners !== undefined) {
    if (!isStringArray(value.sso_partners) || value.sso_partners.some((id) => !CLIENT_ID.test(id))) fail('carelogin.sso_partners', 'must be an array of client_ids');
    ssoPartners = [...new Set(value.sso_partners as string[])];
  }

  return { allowedVectors, allowedScopes, requirePkce: pkce === 'required', refreshTokens: refresh === true, ssoPartners };
}

/** Parses the clients file's text: shape problems are ConfigErrors naming the file, entry problems ClientRegistrationErrors. */
export function parseClientsFile(text: string, source: string): { file: ClientsFile; clients: RegisteredClient[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Clients file ${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(raw) || !Array.isArray(raw.clients)) throw new ConfigError(`Clients file ${source} must be a JSON object with a "clients" array`);
  const extra = Object.keys(raw).filter((key) => key !== 'clients');
  if (extra.length > 0) throw new ConfigError(`Clients file ${source} has unrecognised top-level field(s): ${extra.join(', ')}`);
  const seen = new Set<string>();
  const clients = raw.clients.map((entry: unknown) => {
    const client = validateClientEntry(entry);
    const id = client.metadata.client_id;
    if (seen.has(id)) throw new ClientRegistrationError(id, 'client_id', `is registered more than once in ${source}`);
    seen.add(id);
    return client;
  });
  // A partner that is not registered is most likely a typo, which would silently turn SSO off.
  for (const client of clients) {
    const unknown = client.settings.ssoPartners.filter((partner) => !seen.has(partner));
    if (unknown.length > 0) throw new ClientRegistrationError(client.metadata.client_id, 'carelogin.sso_partners', `names client(s) not in ${source}: ${unknown.join(', ')}`);
  }
  return { file: raw as unknown as ClientsFile, clients };
}

/** Reads config.clientsFile. A missing file means no clients (development starts empty). */
export async function loadClients(config: Config): Promise<RegisteredClient[]> {
  const text = await readIfExists(config.clientsFile);
  if (text === undefined) return [];
  return parseClientsFile(text, config.clientsFile).clients;
}

/**
 * Adds or replaces (same client_id) one client and rewrites the file atomically. The whole result is
 * validated first, so this never writes a file the server would refuse to start with.
 */
export async function upsertClient(file: string, client: ClientFileEntry): Promise<void> {
  validateClientEntry(client);
  const text = await readIfExists(file);
  const existing = text === undefined ? [] : parseClientsFile(text, file).file.clients;
  const index = existing.findIndex((entry) => entry.client_id === client.client_id);
  const clients = index === -1 ? [...existing, client] : existing.map((entry, i) => (i === index ? client : entry));
  const next: ClientsFile = { clients };
  const serialized = `${JSON.stringify(next, null, 2)}\n`;
  parseClientsFile(serialized, file);
  // Public keys and URLs only: readable by others is fine.
  await writeFileAtomic(file, serialized, 0o644);
}
