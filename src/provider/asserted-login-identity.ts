/**
 * NHS login's `asserted_login_identity` (EIS Table 1; docs/rp-integration.md "Single sign-on between
 * services"): a service (RP1) hands a partner (RP2) a short-lived JWT it signed with its own client
 * key, naming the ID token carelogin issued to it (`code` = that ID token's `jti`); RP2 sends it on
 * `/authorize`, usually with `prompt=none`, and the person is signed in to RP2 without being asked,
 * where cookie single sign-on is not available (the NHS App's web views).
 *
 * oidc-provider has no such parameter, and with `prompt=none` it answers before any interaction, so
 * this runs ahead of it: a valid assertion gives the browser a carelogin session for that sign-in (a
 * new session, never a changed one), and oidc-provider then does the rest as for any single sign-on:
 * the vtr check against the sign-in's methods and the account's level, consent, the code. An
 * assertion that is not valid is ignored, so the request goes on as if it had not been sent
 * (`sso_login_required` with `prompt=none`, the sign-in page otherwise); the reason is logged.
 */
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { RegisteredClient } from '../clients/registry.js';
import type { AccountService } from '../accounts/account-service.js';
import { revokedUpTo, signInCounts } from '../accounts/sessions-valid-after.js';
import type { IdTokenReferences, IdTokenSignIn } from './id-token-reference.js';

/** NHS login: "TTL 60 s", and the assertion is one-time. */
export const ASSERTION_MAX_LIFETIME_SECONDS = 60;
const CLOCK_TOLERANCE_SECONDS = 5;

export interface AssertedLoginIdentityDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly provider: Provider;
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  readonly accounts: AccountService;
  readonly references: IdTokenReferences;
  readonly authorizationPath: string;
}

/** Why an assertion was not used (logged; never shown to the browser, which could be anyone's). */
class Refused extends Error {}

export function assertedLoginIdentity(deps: AssertedLoginIdentityDeps): Middleware {
  const { config, logger, provider, clients, accounts, references } = deps;
  const remoteKeys = new Map<string, JWTVerifyGetKey>();

  function keysOf(client: RegisteredClient): JWTVerifyGetKey {
    const { jwks, jwks_uri: jwksUri } = client.metadata;
    if (jwks) return createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    let keys = remoteKeys.get(client.metadata.client_id);
    if (!keys) {
      keys = createRemoteJWKSet(new URL(jwksUri!), { timeoutDuration: 2500 });
      remoteKeys.set(client.metadata.client_id, keys);
    }
    return keys;
  }

  /** The sign-in an assertion from `partner` proves, once; throws Refused with the reason. */
  async function verify(assertion: string, partner: string): Promise<IdTokenSignIn> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(assertion).iss;
    } catch {
      throw new Refused('not a JWT');
    }
    const origin = typeof issuer === 'string' ? clients.get(issuer) : undefined;
    if (!origin) throw new Refused('iss is not a registered client');
    if (!origin.settings.ssoPartners.includes(partner)) throw new Refused(`${origin.metadata.client_id} does not share single sign-on with ${partner}`);
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, keysOf(origin), {
        issuer: origin.metadata.client_id,
        algorithms: [String(origin.metadata.token_endpoint_auth_signing_alg)],
        requiredClaims: ['jti', 'iat', 'exp', 'code'],
        maxTokenAge: ASSERTION_MAX_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw new Refused(error instanceof joseErrors.JOSEError ? `${error.code}: ${error.message}` : 'signature check failed');
    }
    const { jti, iat, exp, code } = payload as { jti: unknown; iat: number; exp: number; code: unknown };
    if (exp - iat > ASSERTION_MAX_LIFETIME_SECONDS) throw new Refused(`lives ${exp - iat} s, more than ${ASSERTION_MAX_LIFETIME_SECONDS}`);
    if (typeof jti !== 'string' || typeof code !== 'string') throw new Refused('jti and code must be strings');
    const signIn = references.read(code, origin.metadata.client_id);
    if (!signIn) throw new Refused(`code is not the jti of an ID token issued to ${origin.metadata.client_id}`);
    const now = Math.floor(Date.now() / 1000);
    if (signIn.issuedAt + config.ttl.idToken < now) throw new Refused('the ID token it names has expired');
    // Single sign-on never outlives the sign-in it rests on (12 hours at most).
    if (signIn.authTime + config.ttl.sessionAbsolute <= now) throw new Refused('the sign-in it names is older than a session may be');
    const account = await accounts.findById(signIn.accountId);
    if (!account || account.status !== 'active') throw new Refused('the account is not active');
    // Signed out everywhere, or the password changed, since: that sign-in no longer counts.
    if (!signInCounts(revokedUpTo(account.sessionsValidAfter), signIn.authTime)) throw new Refused('the sign-in it names was revoked');
    // Last, so a refused assertion cannot be used up by someone else's guess; atomic (src/provider/adapter.ts).
    const fresh = await provider.ReplayDetection.unique(`asserted_login_identity:${origin.metadata.client_id}`, jti, exp + CLOCK_TOLERANCE_SECONDS).catch((error: unknown) => {
      // The adapter's refusal of a duplicate; anything else (the database gone) is the request's failure.
      if (error instanceof errors.InvalidClient) return false;
      throw error;
    });
    if (!fresh) throw new Refused('already used');
    return signIn;
  }

  /**
   * Gives this browser a carelogin session for the sign-in, as oidc-provider would after a login:
   * a new session (a new id, so nothing planted before counts), its cookie added to this request
   * for oidc-provider to read (which sets it on the response when it saves the session). A browser
   * already signed in as that person keeps its session.
   */
  async function signInBrowser(ctx: Context, signIn: IdTokenSignIn): Promise<void> {
    const current = await provider.Session.get(ctx);
    if (current.accountId === signIn.accountId) return;
    const session = new provider.Session();
    session.loginAccount({ accountId: signIn.accountId, loginTs: signIn.authTime, amr: [...signIn.amr] });
    const now = Math.floor(Date.now() / 1000);
    await session.save(Math.max(1, Math.min(config.ttl.sessionIdle, signIn.authTime + config.ttl.sessionAbsolute - now)));
    // oidc-provider reads the session cookie from the request: add ours, signed by oidc-provider's own
    // cookie jar (its keys), then taken off the response again (oidc-provider sets it when it saves).
    const name = provider.cookieName('session');
    const sessionId = session.jti;
    const before = ctx.res.getHeader('set-cookie');
    // (The cookies library signs only when it is given an options object.)
    provider.createContext(ctx.req, ctx.res).cookies.set(name, sessionId, {});
    const signed = ([] as string[]).concat((ctx.res.getHeader('set-cookie') as string[] | string | undefined) ?? []).filter((c) => c.startsWith(`${name}=`) || c.startsWith(`${name}.sig=`));
    if (before === undefined) ctx.res.removeHeader('set-cookie');
    else ctx.res.setHeader('set-cookie', before);
    const others = (ctx.get('cookie') || '').split(';').map((c) => c.trim()).filter((c) => c && !c.startsWith(`${name}=`) && !c.startsWith(`${name}.sig=`));
    ctx.req.headers.cookie = [...others, ...signed.map((c) => c.split(';')[0]!)].join('; ');
  }

  return async (ctx: Context, next: Next) => {
    // GET only: a POSTed form would have to be read here, before oidc-provider reads it.
    if (ctx.method !== 'GET' || ctx.path !== deps.authorizationPath) return next();
    const assertion = ctx.query.asserted_login_identity;
    const partner = ctx.query.client_id;
    if (typeof assertion !== 'string' || typeof partner !== 'string' || !clients.has(partner)) return next();
    // Spent only on a request that can succeed: the session it makes is for a browser going back to the partner.
    const redirectUri = ctx.query.redirect_uri;
    if (typeof redirectUri !== 'string' || !clients.get(partner)!.metadata.redirect_uris?.includes(redirectUri)) return next();
    try {
      const signIn = await verify(assertion, partner);
      await signInBrowser(ctx, signIn);
      logger.info({ clientId: partner }, 'asserted_login_identity accepted');
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      logger.info({ clientId: partner, reason: error.message }, 'asserted_login_identity not used');
    }
    return next();
  };
}
