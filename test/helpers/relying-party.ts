import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';

/**
 * A relying party exactly as a real NHS login integrator would write it with openid-client:
 * private_key_jwt with an RS512 key, PKCE S256, state, nonce and vtr.
 */
export interface TestRp {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JsonWebKey & { kid: string };
  readonly kid: string;
  /** The entry for the clients file. */
  readonly entry: Record<string, unknown>;
  /** openid-client configuration (discovery done lazily on first use). */
  configuration(): Promise<oidc.Configuration>;
  /** Builds an authorization URL; remembers state/nonce/verifier for `exchange`. */
  authorize(params?: Record<string, string>): Promise<AuthorizationRequest>;
  /** Redeems the code in a callback URL and validates the ID token (signature, iss, aud, nonce, state). */
  exchange(callbackUrl: string, request: AuthorizationRequest): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers>;
}

export interface AuthorizationRequest {
  readonly url: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface TestRpOptions {
  readonly clientId?: string;
  readonly redirectUri?: string;
  readonly allowedVectors?: string[];
  readonly allowedScopes?: string[];
  readonly pkce?: 'required' | 'not-required';
  readonly refreshTokens?: boolean;
  /** Logout registration (X13): where RP-initiated logout may return, where logout tokens go. */
  readonly postLogoutRedirectUris?: string[];
  readonly backchannelLogoutUri?: string;
  readonly backchannelLogoutSessionRequired?: boolean;
  /** Clients that may send this client's asserted_login_identity. */
  readonly ssoPartners?: string[];
}

export const ALL_SCOPES = ['openid', 'profile', 'basic_demographics', 'profile_extended', 'email', 'phone', 'landline', 'gp_registration_details', 'gp_integration_credentials', 'client_metadata'];
export const ALL_VECTORS = ['P0.Cp', 'P0.Cp.Cd', 'P0.Cp.Ck', 'P0.Cm', 'P5.Cp', 'P5.Cp.Cd', 'P5.Cp.Ck', 'P5.Cm', 'P9.Cp', 'P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm'];

export async function createTestRp(issuerRef: { url?: string }, options: TestRpOptions = {}): Promise<TestRp> {
  const clientId = options.clientId ?? `test-rp-${randomUUID().slice(0, 8)}`;
  const redirectUri = options.redirectUri ?? 'http://localhost:9/callback';
  const keyPair = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-512' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const kid = randomUUID();
  const exported = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  const publicJwk = { kty: exported.kty, n: exported.n, e: exported.e, kid, use: 'sig', alg: 'RS512' } as JsonWebKey & { kid: string };
  const entry = {
    client_id: clientId,
    client_name: 'Test patient portal',
    redirect_uris: [redirectUri],
    jwks: { keys: [publicJwk] },
    token_endpoint_auth_signing_alg: 'RS512',
    id_token_signed_response_alg: 'RS512',
    ...(options.postLogoutRedirectUris ? { post_logout_redirect_uris: options.postLogoutRedirectUris } : {}),
    ...(options.backchannelLogoutUri ? { backchannel_logout_uri: options.backchannelLogoutUri } : {}),
    ...(options.backchannelLogoutSessionRequired !== undefined ? { backchannel_logout_session_required: options.backchannelLogoutSessionRequired } : {}),
    carelogin: {
      allowed_vectors: options.allowedVectors ?? ALL_VECTORS,
      allowed_scopes: [...(options.allowedScopes ?? ALL_SCOPES), ...(options.refreshTokens ? ['offline_access'] : [])],
      pkce: options.pkce ?? 'required',
      refresh_tokens: options.refreshTokens ?? false,
      ...(options.ssoPartners ? { sso_partners: options.ssoPartners } : {}),
    },
  };

  let configuration: oidc.Configuration | undefined;
  const rp: TestRp = {
    clientId,
    redirectUri,
    privateKey: keyPair.privateKey,
    publicJwk,
    kid,
    entry,
    async configuration() {
      if (!issuerRef.url) throw new Error('the IdP is not started yet');
      configuration ??= await oidc.discovery(
        new URL(issuerRef.url),
        clientId,
        { id_token_signed_response_alg: 'RS512', token_endpoint_auth_signing_alg: 'RS512' },
        // NHS login wants the token endpoint as the assertion's audience (openid-client uses the issuer).
        oidc.PrivateKeyJwt({ key: keyPair.privateKey, kid }, { [oidc.modifyAssertion]: (_header, payload) => { payload.aud = `${issuerRef.url}/token`; } }),
        { execute: [oidc.allowInsecureRequests] },
      );
      return configuration;
    },
    async authorize(params = {}) {
      const config = await rp.configuration();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...params,
      });
      return { url: url.toString(), state, nonce, codeVerifier };
    },
    async exchange(callbackUrl, request) {
      const config = await rp.configuration();
      return oidc.authorizationCodeGrant(config, new URL(callbackUrl), {
        pkceCodeVerifier: request.codeVerifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
        idTokenExpected: true,
      });
    },
  };
  return rp;
}
