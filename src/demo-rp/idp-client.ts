/**
 * The demo RP's OpenID Connect client: openid-client v6 configured exactly as a service integrating
 * with NHS login would configure it (private_key_jwt with RS512, RS512 ID tokens, PKCE, ID token
 * signatures checked against the published JWKS).
 */
import * as oidc from 'openid-client';
import { importJWK } from 'jose';
import { CareloginError, ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEMO_RP_SIGNING_ALG, type DemoRpCredentials } from './registration.js';

export interface IdpClient {
  /** Discovery, done on first use and retried on the next use if the identity provider was not reachable. */
  configuration(): Promise<oidc.Configuration>;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const DISCOVERY_ATTEMPTS = 3;
const DISCOVERY_RETRY_MS = 500;

export function idpUnavailable(cause?: unknown): CareloginError {
  return new CareloginError('idp_unavailable', 'carelogin cannot be reached at the moment. If it is still starting, wait a few seconds and try again.', {
    status: 503,
    expose: true,
    cause,
  });
}

export function createIdpClient(options: { issuer: string; credentials: DemoRpCredentials; logger: Logger }): IdpClient {
  const { issuer, credentials, logger } = options;
  const issuerUrl = new URL(issuer);
  // Plain http is only acceptable when both ends are on this machine (development and tests).
  const insecure = issuerUrl.protocol === 'http:';
  if (insecure && !LOOPBACK_HOSTS.has(issuerUrl.hostname)) {
    throw new ConfigError(`The demo RP's issuer ${issuer} must use https (plain http is only allowed for localhost)`);
  }

  let pending: Promise<oidc.Configuration> | undefined;
  let tokenEndpoint: string | undefined;

  async function discover(): Promise<oidc.Configuration> {
    const key = await importJWK(credentials.privateJwk, DEMO_RP_SIGNING_ALG);
    if (key instanceof Uint8Array) throw new ConfigError('The demo RP key is not an asymmetric key');
    const clientAuth = oidc.PrivateKeyJwt(
      { key, kid: credentials.privateJwk.kid },
      {
        // NHS login wants the token endpoint as the assertion audience (openid-client uses the issuer).
        [oidc.modifyAssertion]: (_header, payload) => {
          if (tokenEndpoint) payload.aud = tokenEndpoint;
        },
      },
    );
    const execute = insecure ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] : [oidc.enableNonRepudiationChecks];
    let lastError: unknown;
    for (let attempt = 1; attempt <= DISCOVERY_ATTEMPTS; attempt++) {
      try {
        const configuration = await oidc.discovery(
          issuerUrl,
          credentials.clientId,
          { id_token_signed_response_alg: DEMO_RP_SIGNING_ALG, token_endpoint_auth_signing_alg: DEMO_RP_SIGNING_ALG },
          clientAuth,
          { execute, timeout: 5 },
        );
        tokenEndpoint = configuration.serverMetadata().token_endpoint;
        logger.info({ issuer }, 'demo RP discovered the identity provider');
        return configuration;
      } catch (error) {
        lastError = error;
        logger.warn({ issuer, attempt, error: describeError(error) }, 'demo RP discovery failed');
        if (attempt < DISCOVERY_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, DISCOVERY_RETRY_MS * attempt));
      }
    }
    throw idpUnavailable(lastError);
  }

  return {
    configuration() {
      pending ??= discover().catch((error: unknown) => {
        // Forget the failure so the next request tries again (the IdP may simply not be up yet).
        pending = undefined;
        throw error;
      });
      return pending;
    },
  };
}

/**
 * What may be logged about an openid-client error: its kind and message, never its cause, which can
 * hold response bodies or token claims.
 */
export function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : undefined, message: error.message };
  }
  return { name: 'unknown', message: String(error) };
}
