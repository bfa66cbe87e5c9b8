import type { Context, Middleware, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Where oidc-provider's answers differ from NHS login's in ways a relying party built for NHS login
 * notices, this puts NHS login's back (EIS v2.1). oidc-provider still does all the protocol work;
 * this only renames, adds or removes what its responses carry. Mounted ahead of oidc-provider.
 */
export function nhsLoginDialect(routes: { authorization: string; token: string }): Middleware {
  return async (ctx: Context, next: Next) => {
    await next();
    if (ctx.path === routes.token) tokenResponse(ctx as KoaContextWithOIDC);
    else if (ctx.path === '/.well-known/openid-configuration') discoveryDocument(ctx);
    else if (ctx.path.startsWith(routes.authorization)) authorizationRedirect(ctx);
  };
}

/** Claims NHS login's discovery lists that oidc-provider leaves out (they are in every ID token). */
const ALWAYS_ISSUED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'nonce'];

function discoveryDocument(ctx: Context): void {
  const body = ctx.body as { response_modes_supported?: string[]; claims_supported?: string[] } | undefined;
  if (ctx.status !== 200 || !body || typeof body !== 'object') return;
  // EIS Table 1: "The only response_mode supported by NHS login will be the default mode ('query')".
  body.response_modes_supported = ['query'];
  // `sid` stays listed: clients registered for back-channel logout with sessions get it (X13).
  if (body.claims_supported) body.claims_supported = [...new Set([...body.claims_supported, ...ALWAYS_ISSUED_CLAIMS])];
}

/**
 * - `Pragma: no-cache` beside `Cache-Control: no-store` on every answer (EIS Table 7).
 * - A request with no client authentication at all is `invalid_client` (EIS Table 9); oidc-provider
 *   says `invalid_request`.
 * - Errors are HTTP 400 (EIS, Token Error Response). oidc-provider answers a failed client authentication with 401,
 *   which RFC 6749 §5.2 requires only of clients that authenticated by the Authorization header;
 *   NHS login's clients authenticate by `private_key_jwt` in the body.
 * - A grant type the client is not registered for is `unauthorized_client` (RFC 6749 §5.2); oidc-provider
 *   says `invalid_request`.
 * - An ID token only from the `authorization_code` grant (EIS Table 8): a refresh returns none,
 *   which OpenID Connect Core §12.2 allows.
 */
function tokenResponse(ctx: KoaContextWithOIDC): void {
  ctx.set('Pragma', 'no-cache');
  const body = ctx.body as { error?: string; error_description?: string; id_token?: string } | undefined;
  if (!body || typeof body !== 'object') return;
  if (ctx.status === 200) {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') delete body.id_token;
    return;
  }
  if (body.error === 'invalid_request' && body.error_description === 'no client authentication mechanism provided') {
    body.error = 'invalid_client';
  }
  // RFC 6749 §5.2's code for a grant type the client is not registered for (security-bar D2).
  if (body.error === 'invalid_request' && body.error_description === 'requested grant type is not allowed for this client') {
    body.error = 'unauthorized_client';
  }
  if (ctx.status === 401 && body.error === 'invalid_client') {
    ctx.status = 400;
    ctx.remove('WWW-Authenticate');
  }
}

/**
 * - NHS login answers `prompt=none` without a usable session with `sso_login_required` (EIS v1.13);
 *   oidc-provider says `login_required`. Relying parties built for NHS login test for the former.
 * - A response type other than `code` is `unsupported_response_type` (RFC 6749 §4.1.2.1, security-bar
 *   D2). oidc-provider checks the response mode first, and as every client is query-only (D10) the
 *   implicit and hybrid types' default fragment mode is refused as `invalid_request` before their type is.
 */
function authorizationRedirect(ctx: Context): void {
  if (ctx.status < 300 || ctx.status >= 400) return;
  const location = ctx.response.get('Location');
  if (!location || !location.includes('error=')) return;
  const url = new URL(location);
  const inFragment = url.hash.length > 1;
  const params = inFragment ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
  const error = params.get('error');
  if (error === 'login_required') {
    params.set('error', 'sso_login_required');
  } else if (error === 'invalid_request' && params.get('error_description') === RESPONSE_MODE_REFUSED && requestedResponseType(ctx) !== 'code') {
    params.set('error', 'unsupported_response_type');
    params.set('error_description', 'unsupported response_type requested');
  } else {
    return;
  }
  if (inFragment) url.hash = params.toString();
  const status = ctx.status;
  ctx.redirect(url.toString());
  ctx.status = status;
}

const RESPONSE_MODE_REFUSED = 'requested response_mode is not allowed for this client or request';

function requestedResponseType(ctx: Context): string | undefined {
  const fromProvider = (ctx as KoaContextWithOIDC).oidc?.params?.response_type;
  const value = typeof fromProvider === 'string' ? fromProvider : ctx.query.response_type;
  return typeof value === 'string' ? value : undefined;
}
