import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { publicJwks, type Keystore } from '../../keys/keystore.js';
import { ConfigError } from '../errors.js';

/**
 * NHS login's access tokens are RS512 JWTs (EIS Table 17) that RPs send to /userinfo and pass to
 * downstream NHS APIs. oidc-provider's JWT access tokens cannot do both: they must have an audience,
 * its /userinfo refuses any token with one, and they are never stored, so they cannot be revoked
 * (security-bar D4). So oidc-provider keeps issuing and checking its own opaque, stored, revocable
 * access token, and the RP receives that token wrapped in a signed JWT:
 *
 * - at /token, the response's opaque `access_token` is replaced by an RS512 JWT whose `jti` is the
 *   opaque value and whose claims are the stored token's (`vot`, `vtm`, `auth_time`, `nhs_number`…);
 * - oidc-provider's access-token look-up (as at /userinfo, whichever way the token is sent) takes
 *   only such a JWT, checks our signature and finds the stored token by its `jti`, so scope checks,
 *   claims and revocation stay oidc-provider's. The bare `jti`, which a resource server may log, is
 *   not a usable token.
 *
 * A revoked or expired stored token therefore stops working at /userinfo even while its JWT is
 * still within `exp`; a downstream API that checks only the signature sees the 5-minute `exp`.
 */
export const ACCESS_TOKEN_ALG = 'RS512';
/** NHS login's JWT header (EIS Table 15), not RFC 9068's at+jwt: NHS login's resource servers expect it. */
const ACCESS_TOKEN_TYP = 'JWT';
/** NHS login's Spine Core extension: why the token was issued (EIS Table 17). */
const REASON_FOR_REQUEST = 'patientaccess';
/** The prefix NHS login puts before the NHS number in `requesting_patient`. */
const NHS_NUMBER_SYSTEM = 'http://fhir.nhs.net/Id/nhs-number';

/** What the stored opaque token holds that the JWT repeats (oidc-provider's AccessToken). */
interface StoredAccessToken {
  readonly jti: string;
  readonly accountId?: string;
  readonly clientId?: string;
  readonly scope?: string;
  readonly iat?: number;
  readonly exp?: number;
  readonly extra?: Record<string, unknown>;
}

export interface AccessTokenJwt {
  /** Upstream of oidc-provider: wraps the access token in /token responses. */
  readonly middleware: Middleware;
  /** Makes the provider's access-token look-up take our JWTs, and only them. */
  acceptOnlyJwts(provider: Provider): void;
  /** The JWT an RP receives for a stored access token. */
  sign(token: StoredAccessToken): Promise<string>;
}

export function createAccessTokenJwt(deps: { issuer: string; keystore: Pick<Keystore, 'signingKeys'>; routes: { token: string } }): AccessTokenJwt {
  const { issuer, keystore, routes } = deps;
  // The key oidc-provider signs RS512 ID tokens with: the first RSA key (keystore order puts the current one first).
  const signingJwk = keystore.signingKeys.find((key) => key.kty === 'RSA' && (key.alg === undefined || key.alg === ACCESS_TOKEN_ALG));
  if (!signingJwk?.kid) throw new ConfigError('the keystore has no RSA signing key with a kid for RS512 access tokens');
  const kid = signingJwk.kid;
  const privateKey = importJWK({ ...signingJwk, alg: ACCESS_TOKEN_ALG } as JWK, ACCESS_TOKEN_ALG);
  // Every published key, so tokens signed before a rotation still verify until they expire.
  const publishedKeys = createLocalJWKSet(publicJwks(keystore) as { keys: JWK[] });

  async function sign(token: StoredAccessToken): Promise<string> {
    const { vot, vtm, auth_time: authTime, nhs_number: nhsNumber } = token.extra ?? {};
    const claims: Record<string, unknown> = {
      client_id: token.clientId,
      scope: token.scope,
      token_use: 'access',
      vot,
      vtm,
      auth_time: authTime,
      ...(typeof nhsNumber === 'string'
        ? { nhs_number: nhsNumber, reason_for_request: REASON_FOR_REQUEST, requesting_patient: `${NHS_NUMBER_SYSTEM}|${nhsNumber}` }
        : {}),
    };
    for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid, typ: ACCESS_TOKEN_TYP })
      .setIssuer(issuer)
      .setJti(token.jti);
    if (token.accountId) jwt.setSubject(token.accountId);
    if (token.clientId) jwt.setAudience(token.clientId);
    if (token.iat) jwt.setIssuedAt(token.iat);
    if (token.exp) jwt.setExpirationTime(token.exp);
    return jwt.sign(await privateKey);
  }

  /** The opaque value inside a bearer JWT of ours, or undefined for anything else (oidc-provider then refuses it). */
  async function unwrap(value: string): Promise<string | undefined> {
    if (value.split('.').length !== 3) return undefined;
    try {
      const { payload } = await jwtVerify(value, publishedKeys, { issuer, algorithms: [ACCESS_TOKEN_ALG], typ: ACCESS_TOKEN_TYP });
      return typeof payload.jti === 'string' ? payload.jti : undefined;
    } catch {
      return undefined;
    }
  }

  function acceptOnlyJwts(provider: Provider): void {
    const model = provider.AccessToken;
    const find = model.find.bind(model) as (jti: string, options?: { ignoreExpiration?: boolean }) => Promise<unknown>;
    // Anything else (not ours, altered, expired, or the bare jti) is not found: invalid_token.
    model.find = (async (value: string, options?: { ignoreExpiration?: boolean }) => {
      const opaque = typeof value === 'string' ? await unwrap(value) : undefined;
      return opaque ? find(opaque, options) : undefined;
    }) as typeof model.find;
  }

  const middleware: Middleware = async (ctx, next) => {
    await next();
    if (ctx.path !== routes.token || ctx.method !== 'POST' || ctx.status !== 200) return;
    const body = ctx.body as { access_token?: unknown; expires_in?: unknown } | undefined;
    const stored = (ctx as unknown as KoaContextWithOIDC).oidc?.entities?.AccessToken as StoredAccessToken | undefined;
    if (!body || typeof body.access_token !== 'string' || !stored || stored.jti !== body.access_token) return;
    // The model instance has no iat of its own (oidc-provider stamps it into the stored payload).
    const now = Math.floor(Date.now() / 1000);
    const exp = stored.exp ?? (typeof body.expires_in === 'number' ? now + body.expires_in : undefined);
    ctx.body = { ...body, access_token: await sign({ ...stored, jti: stored.jti, iat: stored.iat ?? now, exp }) };
  };

  return { middleware, acceptOnlyJwts, sign };
}
