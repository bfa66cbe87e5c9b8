/**
 * `npm run clients:add -- --id my-rp --name "My RP" --redirect-uri https://rp.example/callback
 *   (--public-key-pem rp.pem | --jwks rp-jwks.json | --jwks-uri https://rp.example/jwks)
 *   [--vectors P9.Cp.Cd,P5.Cp.Cd] [--scopes openid,profile,email] [--no-pkce] [--refresh-tokens]
 *   [--alg RS512] [--id-token-alg RS512] [--post-logout-redirect-uri <url> ...]
 *   [--backchannel-logout-uri <url> [--backchannel-logout-session-required]] [--file clients.json]`
 * Adds a relying party to the clients file, or replaces the one with the same id.
 */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { readIfExists } from '../../keys/atomic-file.js';
import {
  parseClientsFile, upsertClient, validateClientEntry, type ClientFileEntry, type ClientSigningAlg, type RegisteredClient,
} from '../clients/registry.js';
import { loadConfig } from '../config/index.js';
import { CareloginError } from '../errors.js';

export interface AddClientOptions {
  readonly id: string;
  readonly name: string;
  readonly redirectUris: readonly string[];
  /** Path to the client's PEM public key (SPKI "BEGIN PUBLIC KEY" or PKCS#1 "BEGIN RSA PUBLIC KEY"). */
  readonly publicKeyPem?: string;
  /** Path to a JSON file holding the client's public JWKS ({"keys": [...]}). */
  readonly jwks?: string;
  readonly jwksUri?: string;
  readonly vectors?: readonly string[];
  readonly scopes?: readonly string[];
  /** false registers a PKCE-less client (NHS login compatibility, X12). Default true. */
  readonly pkce?: boolean;
  readonly refreshTokens?: boolean;
  readonly alg?: string;
  readonly idTokenAlg?: string;
  /** Where RP-initiated logout may return the browser (exact match). */
  readonly postLogoutRedirectUris?: readonly string[];
  /** Where back-channel logout tokens are POSTed. */
  readonly backchannelLogoutUri?: string;
  /** Logout tokens (and ID tokens) carry `sid`. */
  readonly backchannelLogoutSessionRequired?: boolean;
  /** Clients file; default config.clientsFile. */
  readonly file?: string;
}

export interface AddClientResult {
  readonly file: string;
  readonly replaced: boolean;
  readonly entry: ClientFileEntry;
  readonly client: RegisteredClient;
}

export class UsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Converts a PEM public key to a JWK whose kid is its RFC 7638 thumbprint (stable, so re-adding is idempotent). */
export async function pemToJwk(pem: string): Promise<JWK> {
  if (/PRIVATE KEY/.test(pem)) {
    throw new UsageError('This PEM holds a private key. Register the public key only (openssl pkey -in private.pem -pubout -out public.pem); the private key stays with the relying party.');
  }
  let exported;
  try {
    exported = createPublicKey(pem).export({ format: 'jwk' });
  } catch {
    throw new UsageError('The PEM file is not a public key (expected "BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY")');
  }
  const jwk: JWK = { kty: exported.kty, ...(exported.kty === 'RSA' ? { n: exported.n, e: exported.e } : { crv: exported.crv, x: exported.x, y: exported.y }) };
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), use: 'sig' };
}

async function readJwksFile(file: string): Promise<{ keys: JWK[] }> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as { keys: JWK[] };
  } catch (error) {
    throw new UsageError(`Cannot read JWKS file ${file}: ${(error as Error).message}`);
  }
}

/** Builds, validates and upserts one client. Throws ClientRegistrationError/UsageError/ConfigError on bad input. */
export async function addClient(options: AddClientOptions): Promise<AddClientResult> {
  const sources = [options.publicKeyPem, options.jwks, options.jwksUri].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new UsageError('Give exactly one of --public-key-pem, --jwks and --jwks-uri');

  const carelogin: NonNullable<ClientFileEntry['carelogin']> = {
    ...(options.vectors ? { allowed_vectors: [...options.vectors] } : {}),
    ...(options.scopes ? { allowed_scopes: [...options.scopes] } : {}),
    pkce: options.pkce === false ? 'not-required' : 'required',
    refresh_tokens: options.refreshTokens ?? false,
  };
  const entry: ClientFileEntry = {
    client_id: options.id,
    client_name: options.name,
    redirect_uris: [...options.redirectUris],
    ...(options.publicKeyPem !== undefined ? { jwks: { keys: [await pemToJwk(await readFile(options.publicKeyPem, 'utf8').catch((error: Error) => {
      throw new UsageError(`Cannot read PEM file ${options.publicKeyPem}: ${error.message}`);
    }))] } } : {}),
    ...(options.jwks !== undefined ? { jwks: await readJwksFile(options.jwks) } : {}),
    ...(options.jwksUri !== undefined ? { jwks_uri: options.jwksUri } : {}),
    ...(options.alg !== undefined ? { token_endpoint_auth_signing_alg: options.alg as ClientSigningAlg } : {}),
    ...(options.idTokenAlg !== undefined ? { id_token_signed_response_alg: options.idTokenAlg as ClientSigningAlg } : {}),
    ...(options.postLogoutRedirectUris?.length ? { post_logout_redirect_uris: [...options.postLogoutRedirectUris] } : {}),
    ...(options.backchannelLogoutUri !== undefined ? { backchannel_logout_uri: options.backchannelLogoutUri } : {}),
    ...(options.backchannelLogoutSessionRequired ? { backchannel_logout_session_required: true } : {}),
    carelogin,
  };
  const client = validateClientEntry(entry);
  const file = options.file ?? loadConfig().clientsFile;
  const existing = await readIfExists(file);
  const replaced = existing !== undefined && parseClientsFile(existing, file).clients.some((c) => c.metadata.client_id === options.id);
  await upsertClient(file, entry);
  return { file, replaced, entry, client };
}

const USAGE = `Usage: npm run clients:add -- --id <client_id> --name <name> --redirect-uri <url> [--redirect-uri <url> ...]
         (--public-key-pem <file> | --jwks <file> | --jwks-uri <https url>)
         [--vectors P9.Cp.Cd,P5.Cp.Cd] [--scopes openid,profile,email] [--no-pkce] [--refresh-tokens]
         [--alg RS512|PS256|ES256] [--id-token-alg RS512|PS256|ES256]
         [--post-logout-redirect-uri <url> ...] [--backchannel-logout-uri <url> [--backchannel-logout-session-required]]
         [--file <clients.json>]`;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Parses the command line into AddClientOptions (throws UsageError). */
export function parseAddClientArgs(argv: readonly string[]): AddClientOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      allowNegative: true,
      options: {
        id: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'public-key-pem': { type: 'string' },
        jwks: { type: 'string' },
        'jwks-uri': { type: 'string' },
        vectors: { type: 'string' },
        scopes: { type: 'string' },
        pkce: { type: 'boolean', default: true },
        'refresh-tokens': { type: 'boolean', default: false },
        alg: { type: 'string' },
        'id-token-alg': { type: 'string' },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'backchannel-logout-uri': { type: 'string' },
        'backchannel-logout-session-required': { type: 'boolean', default: false },
        file: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (!values.id || !values.name || !values['redirect-uri']?.length) throw new UsageError(`--id, --name and at least one --redirect-uri are required\n${USAGE}`);
  return {
    id: values.id,
    name: values.name,
    redirectUris: values['redirect-uri'],
    publicKeyPem: values['public-key-pem'],
    jwks: values.jwks,
    jwksUri: values['jwks-uri'],
    vectors: list(values.vectors),
    scopes: list(values.scopes),
    pkce: values.pkce,
    refreshTokens: values['refresh-tokens'],
    alg: values.alg,
    idTokenAlg: values['id-token-alg'],
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    backchannelLogoutUri: values['backchannel-logout-uri'],
    backchannelLogoutSessionRequired: values['backchannel-logout-session-required'],
    file: values.file,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const result = await addClient(parseAddClientArgs(argv));
    const { metadata, settings } = result.client;
    process.stdout.write([
      `${result.replaced ? 'Replaced' : 'Added'} client "${metadata.client_id}" (${metadata.client_name}) in ${result.file}`,
      `  redirect URIs: ${metadata.redirect_uris?.join(', ')}`,
      `  keys: ${metadata.jwks_uri ?? metadata.jwks?.keys.map((k) => `${k.kty ?? '?'} ${k.kid ?? '(no kid)'}`).join(', ')}`,
      `  client assertion alg: ${metadata.token_endpoint_auth_signing_alg}, ID token alg: ${metadata.id_token_signed_response_alg}`,
      `  vectors: ${settings.allowedVectors.join(', ')}; scopes: ${settings.allowedScopes.join(' ')}`,
      `  PKCE: ${settings.requirePkce ? 'required' : 'NOT required (NHS login compatibility)'}; refresh tokens: ${settings.refreshTokens ? 'yes' : 'no'}`,
      `  logout: return to ${metadata.post_logout_redirect_uris?.join(', ') || '(none: RP-initiated logout ends on carelogin)'}; back-channel ${metadata.backchannel_logout_uri ?? '(none)'}`,
      'Restart carelogin (one instance at a time) to pick up the change.',
      '',
    ].join('\n'));
    return 0;
  } catch (error) {
    if (error instanceof CareloginError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
