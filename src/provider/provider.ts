import type { EventEmitter } from 'node:events';
import Provider, { errors, type AccountClaims, type ClientMetadata, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { Keystore } from '../../keys/keystore.js';
import type { RegisteredClient } from '../clients/registry.js';
import type { Renderer } from '../web/renderer.js';
import { createAccountService } from '../accounts/account-service.js';
import { createClientUserMetadataStore } from '../accounts/client-user-metadata.js';
import { revokedUpTo, signInCounts } from '../accounts/sessions-valid-after.js';
import { withReadAhead } from '../db/read-ahead.js';
import { createAdapterFactory, findGrantId } from './adapter.js';
import { implicitFirstPartyGrant, isFirstPartyClient } from '../clients/first-party.js';
import { accountClaims, ID_TOKEN_CLAIMS, NHS_SCOPES, SCOPE_CLAIMS, trustmarkUrl } from './claims.js';
import { createInteractionPolicy, type CareloginAccountExtras } from './policy.js';
import { logoutPages } from './logout.js';
import { ERROR_REFERENCES } from '../web/error-references.js';
import type { IdTokenReferences } from './id-token-reference.js';
import { DEFAULT_VTR, formatVector, parseVector, parseVtr, vectorWithin, VectorSyntaxError, type Vector } from './vectors.js';

export interface ProviderDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly dataSource: DataSource;
  readonly keystore: Keystore;
  readonly clients: readonly RegisteredClient[];
  readonly renderer: Renderer;
  /** Seals each ID token's jti (asserted_login_identity names an ID token by it). */
  readonly idTokenReferences: IdTokenReferences;
}

/** NHS login's paths: relying parties hard-code them. */
export const ROUTES = {
  authorization: '/authorize',
  token: '/token',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  // NHS login has no logout; GOV.UK One Login's path (security-bar X13).
  end_session: '/logout',
} as const;

export const SIGNING_ALGORITHMS = ['RS512', 'PS256', 'ES256'] as const;

const DAY = 86400;

/**
 * oidc-provider configured as NHS login's dialect of OpenID Connect. oidc-provider owns the protocol;
 * this module only configures it: paths, algorithms, lifetimes, claims, vtr validation and storage.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, logger, dataSource, keystore, clients, renderer, idTokenReferences } = deps;
  const settings = new Map(clients.map((c) => [c.metadata.client_id, c.settings]));
  const vtm = trustmarkUrl(config.issuer);
  const secure = config.issuer.startsWith('https://');
  const accounts = createAccountService(dataSource);
  const metadata = createClientUserMetadataStore(dataSource);

  const findAccount: FindAccount = async (ctx, sub, token) => {
    const account = await accounts.findById(sub);
    if (!account || account.status !== 'active') return undefined;
    const revokedSecond = revokedUpTo(account.sessionsValidAfter);
    // A code, refresh token or access token resting on a sign-in from before the patient signed out
    // everywhere or changed their password is refused (invalid_grant, invalid_token), even if it was
    // saved after the revocation deleted the others (a request in flight).
    if (token && !signInCounts(revokedSecond, signInTimeOf(token))) return undefined;
    // At the token endpoint `token` is the code or refresh token, whose `acr` holds the achieved vector.
    const vot = token && 'acr' in token && typeof token.acr === 'string' ? token.acr : undefined;
    const extras: CareloginAccountExtras = { proofingLevel: account.proofingLevel, revokedSecond };
    return {
      accountId: account.id,
      ...extras,
      claims: async (use, scope) => {
        const scopes = new Set(scope.split(' '));
        const clientId = ctx.oidc?.client?.clientId;
        const clientUserMetadata = scopes.has('client_metadata') && clientId ? await metadata.find(account.id, clientId) : undefined;
        // The ID token's jti names its sign-in, for asserted_login_identity (src/provider/id-token-reference.ts).
        const signIn = token as { authTime?: unknown; amr?: unknown } | undefined;
        const jti = use === 'id_token' && clientId && typeof signIn?.authTime === 'number'
          ? idTokenReferences.issue(clientId, { accountId: account.id, authTime: signIn.authTime, amr: Array.isArray(signIn.amr) ? signIn.amr as string[] : [] })
          : undefined;
        return accountClaims(account, { use: use as 'id_token' | 'userinfo', scopes, vot, vtm, clientUserMetadata, jti }) as AccountClaims;
      },
    };
  };

  const configuration: Configuration = {
    adapter: createAdapterFactory(dataSource),
    // NHS login answers only in the query string (EIS Table 1: "the only response_mode supported").
    clients: clients.map((c) => ({ ...c.metadata, scope: c.metadata.scope ?? c.settings.allowedScopes.join(' '), response_modes: ['query'] }) as ClientMetadata),
    clientDefaults: {
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      id_token_signed_response_alg: 'RS512',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    clientAuthMethods: ['private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: [...SIGNING_ALGORITHMS],
      idTokenSigningAlgValues: [...SIGNING_ALGORITHMS],
      requestObjectSigningAlgValues: [],
      userinfoSigningAlgValues: [],
      introspectionSigningAlgValues: [],
      authorizationSigningAlgValues: [],
    },
    jwks: { keys: keystore.signingKeys as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: [...keystore.cookieKeys],
      names: { session: secure ? '__Host-carelogin-session' : 'carelogin-session', interaction: 'carelogin-interaction', resume: 'carelogin-resume' },
      long: { httpOnly: true, sameSite: 'lax', secure },
      short: { httpOnly: true, sameSite: 'lax', secure },
    },
    routes: { ...ROUTES },
    responseTypes: ['code'],
    subjectTypes: ['public'],
    scopes: ['openid', 'offline_access'],
    claims: {
      ...Object.fromEntries(NHS_SCOPES.map((scope) => [scope, [...SCOPE_CLAIMS[scope]]])),
      openid: [...ID_TOKEN_CLAIMS],
    },
    // NHS login puts the scope claims (e.g. nhs_number with `profile`) in the ID token too.
    conformIdTokenClaims: false,
    acrValues: [],
    findAccount,
    extraParams: {
      // The vtr validator runs on every authorization request, present or not: it also enforces
      // NHS login's other request rules (state, nonce, profile/basic_demographics).
      vtr: validateAuthorizationRequest,
      // Only "false" hides account creation; absent or any other value shows it (EIS Table 1).
      allow_registration: null,
      // Read ahead of oidc-provider (src/provider/asserted-login-identity.ts); declared so it is kept.
      asserted_login_identity: null,
    },
    // NHS login: the assertion's "aud" MUST contain the token endpoint URL (EIS Table 6). oidc-provider
    // would also take the issuer or the endpoint's own URL, which NHS login's token endpoint refuses.
    assertJwtClientAuthClaimsAndHeader: async (ctx, claims) => {
      // The URL discovery advertises (from this request's host), and the one the issuer implies.
      const tokenEndpoints = new Set([ctx.oidc.urlFor('token'), `${config.issuer}${ROUTES.token}`]);
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.some((aud) => tokenEndpoints.has(aud as string))) {
        throw new errors.InvalidClientAuth(`the client assertion's aud must be the token endpoint, ${ctx.oidc.urlFor('token')}`);
      }
    },
    pkce: {
      required: (_ctx, client) => {
        const required = settings.get(client.clientId)?.requirePkce ?? true;
        if (!required) logger.info({ clientId: client.clientId }, 'PKCE not required for this client (NHS login compatibility switch)');
        return required;
      },
    },
    issueRefreshToken: async (_ctx, client) => Boolean(settings.get(client.clientId)?.refreshTokens) && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    expiresWithSession: () => false,
    allowOmittingSingleRegisteredRedirectUri: false,
    clientBasedCORS: () => false,
    loadExistingGrant: async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      const clientId = ctx.oidc.client?.clientId;
      if (!accountId || !clientId) return undefined;
      // The look-up reads the grant's row with its id, so Grant.find takes it instead of reading it again.
      const grant = await withReadAhead(async () => {
        const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(clientId) ?? (await findGrantId(dataSource, accountId, clientId));
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      });
      // Our own account area and back office share nothing with a third party: no consent page for them.
      if (!grant && isFirstPartyClient(clientId)) return implicitFirstPartyGrant(ctx.oidc.provider, accountId, clientId);
      return grant;
    },
    // Stored with the access token and repeated in its JWT (access-token-jwt.ts; NHS login EIS Table 17).
    extraTokenClaims: async (ctx, token) => {
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      const claims: Record<string, unknown> = { vtm };
      if (source?.acr) claims.vot = source.acr;
      if (source?.authTime) claims.auth_time = source.authTime;
      // The NHS number only where this scope and proofing level release it at /userinfo too.
      const scope = 'scope' in token && typeof token.scope === 'string' ? token.scope : undefined;
      const account = ctx.oidc.entities.Account;
      if (account && scope) {
        const released = await account.claims('userinfo', scope, {}, []);
        if (typeof released.nhs_number === 'string') claims.nhs_number = released.nhs_number;
      }
      return claims;
    },
    interactions: {
      policy: createInteractionPolicy({ sessionAbsoluteSeconds: config.ttl.sessionAbsolute }),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    ttl: {
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      AccessToken: config.ttl.accessToken,
      // An absolute lifetime from the code exchange (security-bar D11 and X6): a rotated
      // token gets what was left of the one it replaces, so rotating never extends it.
      RefreshToken: (ctx) => {
        const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
        return rotated ? Math.max(1, rotated.remainingTTL) : config.ttl.refreshToken;
      },
      // Every request that uses the session saves it again, so this is an idle timeout capped by
      // the absolute one: 1 hour idle, 12 hours from sign-in (security-bar "Sessions").
      Session: (_ctx, session) => {
        const now = Math.floor(Date.now() / 1000);
        const remaining = (session.loginTs ?? now) + config.ttl.sessionAbsolute - now;
        return Math.max(1, Math.min(config.ttl.sessionIdle, remaining));
      },
      Interaction: config.ttl.interaction,
      // Consent is remembered for a year (and must outlive the refresh tokens issued under it).
      Grant: 365 * DAY,
      BackchannelAuthenticationRequest: 600,
      ClientCredentials: 600,
      DeviceCode: 600,
      PushedAuthorizationRequest: 60,
    },
    features: {
      devInteractions: { enabled: false },
      // Per client (X13): a post_logout_redirect_uri works only where registered; a logout token goes only to a registered backchannel_logout_uri.
      rpInitiatedLogout: { enabled: true, ...logoutPages(renderer) },
      backchannelLogout: { enabled: true },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: false },
      userinfo: { enabled: true },
      claimsParameter: { enabled: false },
    },
    discovery: {
      claim_types_supported: ['normal'],
      service_documentation: `${config.issuer}/help`,
    },
    // oidc-provider refuses loopback and private addresses for its outgoing requests (jwks_uri,
    // logout tokens); PRIVATE_NETWORK_FETCH lifts that, for the demo RP on localhost.
    fetch: (url, options) => {
      if (config.privateNetworkFetch) delete (options as { dispatcher?: unknown }).dispatcher;
      return fetch(url, options);
    },
    renderError: async (ctx, out, error) => {
      const status = (error as { status?: number }).status ?? 500;
      logger.info({ error: out.error, description: out.error_description, status }, 'protocol error page shown');
      ctx.type = 'html';
      ctx.body = renderer.render('error.njk', {
        title: status >= 500 ? 'Sorry, there is a problem with the service' : 'There is a problem with this request',
        message: errorPageMessage(out.error, out.error_description),
        // NHS login's reference for "we do not recognise the service" (CID2024); otherwise the OAuth error.
        reference: out.error === 'invalid_client' ? ERROR_REFERENCES.unknownClient : out.error,
        cspNonce: ctx.state.cspNonce,
      });
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;

  function validateAuthorizationRequest(ctx: KoaContextWithOIDC, value: string | undefined, client: { clientId: string }): void {
    let requested;
    try {
      requested = parseVtr(value);
    } catch (error) {
      if (error instanceof VectorSyntaxError) throw new errors.InvalidRequest(`invalid vtr: ${error.message}`);
      throw error;
    }
    const allowed = (settings.get(client.clientId)?.allowedVectors ?? []).map(parseVector);
    const isAllowed = (vector: Vector) => allowed.some((a) => vectorWithin(vector, a));
    if (value === undefined || value === '') {
      // No vtr means NHS login's default (EIS Table 1): of it, the vectors this client may ask for.
      const usable = requested.filter(isAllowed);
      if (usable.length === 0) throw new errors.InvalidRequest(`invalid vtr: none of the default vectors (${DEFAULT_VTR.join(', ')}) is allowed for this client, so the request must send a vtr`);
      ctx.oidc.params!.vtr = JSON.stringify(usable.map(formatVector));
      requested = usable;
    }
    for (const vector of requested) {
      if (!isAllowed(vector)) {
        throw new errors.InvalidRequest(`invalid vtr: the vector "${formatVector(vector)}" is not allowed for this client`);
      }
    }
    // NHS login (iGov) makes state and nonce mandatory on every authorization request.
    if (!ctx.oidc.params?.state) throw new errors.InvalidRequest("missing required parameter 'state'");
    if (!ctx.oidc.params?.nonce) throw new errors.InvalidRequest("missing required parameter 'nonce'");
    const scopes = new Set(String(ctx.oidc.params?.scope ?? '').split(' '));
    if (scopes.has('profile') && scopes.has('basic_demographics')) {
      throw new errors.InvalidScope('profile and basic_demographics cannot be requested together', 'basic_demographics');
    }
  }

  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
    ctx.state.protocolServerError = error;
    logger.error({ err: error, path: ctx.path }, 'oidc-provider server error');
  });
  const refused = (event: string) => (ctx: KoaContextWithOIDC, error: Error & { error_description?: string }): void => {
    logger.info({ event, error: error.message, description: error.error_description, clientId: ctx.oidc?.client?.clientId }, 'protocol request refused');
  };
  // Koa reports here what goes wrong after a response has started, such as a browser leaving
  // mid-download; without a listener Koa prints the stack to stderr, outside our logs.
  (provider as unknown as EventEmitter).on('error', (error: Error & { code?: string }) => {
    const hungUp = error.code === 'ERR_STREAM_PREMATURE_CLOSE' || error.code === 'ECONNRESET' || error.code === 'EPIPE';
    if (hungUp) logger.debug({ reason: error.code }, 'client went away before the response was sent');
    else logger.error({ err: error }, 'response error');
  });
  provider.on('authorization.error', refused('authorization.error'));
  provider.on('grant.error', refused('grant.error'));
  provider.on('userinfo.error', refused('userinfo.error'));
  provider.on('end_session.error', refused('end_session.error'));
  // At /logout, Client#backchannelLogout only records the token in the outbox (src/provider/logout.ts),
  // which logs its delivery; an error here means it could not be recorded, so it will not be sent.
  provider.on('backchannel.error', (_ctx: unknown, error: Error, client: { clientId: string }) => {
    logger.error({ alert: 'backchannel_logout_not_recorded', clientId: client.clientId, reason: error.message }, 'back-channel logout could not be recorded; it will not be sent');
  });
  return provider;
}

/**
 * When the sign-in a code, refresh token or access token rests on happened (seconds): codes and
 * refresh tokens carry it as `authTime`, our access tokens in their extra claims (extraTokenClaims).
 */
function signInTimeOf(token: object): number | undefined {
  const { authTime, extra } = token as { authTime?: unknown; extra?: { auth_time?: unknown } };
  if (typeof authTime === 'number') return authTime;
  return typeof extra?.auth_time === 'number' ? extra.auth_time : undefined;
}

function errorPageMessage(error: string, description?: string): string {
  if (/redirect_uri/i.test(description ?? '')) return 'The service you came from sent an address we do not recognise, so we cannot send you back to it. Go back to the service and try again, or contact them.';
  if (error === 'invalid_client' || /client/i.test(description ?? '')) return 'We do not recognise the service you came from. Go back to the service and try again, or contact them.';
  if (error === 'server_error') return 'Try again later.';
  return description ? `The service you came from sent a request we could not accept (${description}). Go back to the service and try again.` : 'Go back to the service you were using and try again.';
}
