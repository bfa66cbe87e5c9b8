/**
 * The demo relying party: a pretend health service on its own origin that signs people in with
 * carelogin exactly as a real service integrates with NHS login. It is registered in the clients
 * file like any other client and talks to the IdP only over HTTP, so it exercises the public
 * interface and nothing else.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, importJWK, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config/index.js';
import { BadRequestError, CareloginError, CsrfError, JourneyExpiredError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { assets, requestContext, securityHeaders } from '../web/middleware.js';
import { createRenderer, type FieldError, type Renderer } from '../web/renderer.js';
import { formatVector, parseVector } from '../provider/vectors.js';
import { DEFAULT_FORM, parseLoginForm, PROMPT_CHOICES, SCOPE_CHOICES, VTR_CHOICES, type FormValues, type LoginChoice } from './choices.js';
import { createIdpClient, describeError, idpUnavailable } from './idp-client.js';
import type { DemoRpCredentials } from './registration.js';
import { ExpiringStore } from './store.js';

export interface DemoRpDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly credentials: DemoRpCredentials;
  /** The IdP to sign in with; defaults to config.issuer (tests point it at an ephemeral port). */
  readonly issuer?: string;
}

export interface DemoRp {
  readonly app: Koa;
  /** Stops the stores' timers and forgets every pending sign-in and session. */
  close(): Promise<void>;
}

export const DEMO_RP_SERVICE_NAME = 'carelogin demo service';

/**
 * Cookie names carry a demo-rp prefix because cookies are not isolated by port: on localhost the
 * IdP (3000) and the demo RP (3001) share one cookie jar.
 */
export const DEMO_RP_COOKIES = { csrf: 'demo-rp-csrf', pending: 'demo-rp-auth', session: 'demo-rp-session', logout: 'demo-rp-logout' } as const;

const PENDING_TTL_MS = 10 * 60 * 1000;
/** NHS login's rules for services: re-authenticate after 30 minutes idle or 12 hours in all. */
const SESSION_IDLE_MS = 30 * 60 * 1000;
const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
const MAX_ENTRIES = 10_000;
/** How long a logout token's jti is remembered (replays refused) and how old a token may be. */
const LOGOUT_TOKEN_WINDOW_MS = 5 * 60 * 1000;
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** NHS login: an asserted_login_identity lives at most 60 seconds. */
const SSO_ASSERTION_SECONDS = 60;

/** A sign-in started by POST /login and finished by GET /callback. */
interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly choice: LoginChoice;
}

/** What the demo service remembers about a signed-in person (in memory; tokens never leave the server). */
interface RpSession {
  readonly sub: string;
  /** carelogin's id for this sign-in, named by back-channel logout tokens. */
  readonly sid?: string;
  /** Sent back as id_token_hint when the person signs out of carelogin too. */
  readonly idToken: string;
  readonly choice: LoginChoice;
  readonly signedInAt: number;
  idTokenClaims: Record<string, unknown>;
  accessToken: string;
  accessTokenExpiresIn?: number;
  refreshToken?: string;
  grantedScope?: string;
  userinfo?: Record<string, unknown>;
  userinfoError?: string;
  refreshCount: number;
  refreshedAt?: number;
}

type FormBody = Record<string, unknown>;

export async function createDemoRp(deps: DemoRpDeps): Promise<DemoRp> {
  const { config, credentials } = deps;
  const logger = deps.logger.child({ component: 'demo-rp' });
  const issuer = deps.issuer ?? config.issuer;
  const idp = createIdpClient({ issuer, credentials, logger });
  const renderer = createRenderer({ serviceName: DEMO_RP_SERVICE_NAME });
  const pendingSignIns = new ExpiringStore<PendingSignIn>({ ttlMs: PENDING_TTL_MS, maxEntries: MAX_ENTRIES });
  const sessions = new ExpiringStore<RpSession>({ ttlMs: SESSION_IDLE_MS, maxEntries: MAX_ENTRIES });
  const seenLogoutTokens = new ExpiringStore<true>({ ttlMs: LOGOUT_TOKEN_WINDOW_MS, maxEntries: MAX_ENTRIES });
  /** Sessions ended by a logout token, so the browser can be told once why it is no longer signed in. */
  const endedByCarelogin = new ExpiringStore<true>({ ttlMs: SESSION_IDLE_MS, maxEntries: MAX_ENTRIES });

  const app = new Koa();
  // Per-process keys are enough: the stores the cookies point into are in memory too.
  app.keys = [randomBytes(32).toString('base64url')];
  app.proxy = config.trustProxy;
  // Errors that escape the middleware (e.g. a client closing mid-download) go to our logger, not stderr.
  app.on('error', (error: unknown) => logger.warn({ error: describeError(error) }, 'demo RP response error'));

  const render = (ctx: Context, template: string, data: Record<string, unknown> = {}): void => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderer.render(template, { cspNonce: ctx.state.cspNonce, issuer, ...data });
  };

  app.use(requestContext(logger));
  app.use(securityHeaders({ https: config.demoRp.url.startsWith('https://') }));
  app.use(errorPages(renderer, issuer));
  app.use(assets());
  app.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));

  const router = new Router();

  router.get('/', (ctx) => {
    renderHome(ctx, DEFAULT_FORM, []);
  });

  router.post('/login', async (ctx) => {
    const body = formBody(ctx);
    checkCsrf(ctx, body);
    const parsed = parseLoginForm(body);
    if (!parsed.ok) {
      ctx.status = 400;
      renderHome(ctx, parsed.form, parsed.errors);
      return;
    }
    await startSignIn(ctx, parsed.choice);
  });

  /**
   * Sends the browser to carelogin's /authorize as a real service would: PKCE, state and nonce kept
   * server-side for the callback; `extra` adds parameters such as asserted_login_identity.
   */
  async function startSignIn(ctx: Context, choice: LoginChoice, extra: Record<string, string> = {}): Promise<void> {
    const configuration = await idp.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const parameters: Record<string, string> = {
      redirect_uri: credentials.redirectUri,
      response_type: 'code',
      scope: choice.scopes.join(' '),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...extra,
    };
    if (choice.vtr) parameters.vtr = JSON.stringify(choice.vtr);
    if (choice.prompt) parameters.prompt = choice.prompt;
    if (choice.hideRegistration) parameters.allow_registration = 'false';
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, parameters);

    const pendingId = randomId();
    pendingSignIns.set(pendingId, { state, nonce, codeVerifier, choice });
    ctx.cookies.set(DEMO_RP_COOKIES.pending, pendingId, cookieOptions(ctx, PENDING_TTL_MS));
    logger.info({ vtr: choice.vtr ?? 'default', scopes: choice.scopes, prompt: choice.prompt || undefined, sso: 'asserted_login_identity' in extra }, 'demo RP sign-in started');
    ctx.status = 303;
    ctx.redirect(authorizationUrl.href);
  }

  // Single sign-on to a partner service (NHS login's asserted_login_identity). The demo is registered
  // as its own partner, so it plays both parts: "RP1" makes the assertion from its sign-in, and "RP2"
  // (the same service in another browser) sends it to carelogin with prompt=none.
  router.post('/sso-link', async (ctx) => {
    checkCsrf(ctx, formBody(ctx));
    const found = currentSession(ctx);
    if (!found) throw new JourneyExpiredError('You are not signed in to the demo service any more. Go back to the start and continue with carelogin.');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ code: String(found.session.idTokenClaims.jti), jti: randomId() })
      .setProtectedHeader({ alg: credentials.privateJwk.alg, kid: credentials.privateJwk.kid })
      .setIssuer(credentials.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + SSO_ASSERTION_SECONDS)
      .sign(await importJWK(credentials.privateJwk, credentials.privateJwk.alg));
    const link = new URL('/sso', credentials.redirectUri);
    link.searchParams.set('vtr', found.session.choice.vtrChoice);
    for (const scope of found.session.choice.scopes.filter((s) => s !== 'openid')) link.searchParams.append('scope', scope);
    link.searchParams.set('assertedLoginIdentity', assertion);
    logger.info('demo RP made an asserted_login_identity');
    render(ctx, 'demo-rp/sso-link.njk', { title: 'Single sign-on link for a partner service', link: link.href, seconds: SSO_ASSERTION_SECONDS });
  });

  // "RP2": as the NHS App hands partners the token as assertedLoginIdentity. A button first, not an
  // automatic redirect: a link that signs the browser in as whoever made it must not work by itself
  // from another site (login CSRF).
  router.get('/sso', (ctx) => {
    const query = new URLSearchParams(ctx.querystring);
    const assertion = query.get('assertedLoginIdentity');
    if (!assertion) throw new BadRequestError('This link has no assertedLoginIdentity.');
    render(ctx, 'demo-rp/sso-continue.njk', {
      title: 'Continue to the demo service with single sign-on',
      csrfToken: csrfToken(ctx),
      assertion,
      vtr: query.get('vtr') ?? DEFAULT_FORM.vtrChoice,
      scopes: query.getAll('scope'),
    });
  });

  router.post('/sso', async (ctx) => {
    const body = formBody(ctx);
    checkCsrf(ctx, body);
    const parsed = parseLoginForm({ vtr: body.vtr, scope: body.scope, prompt: 'none' });
    if (!parsed.ok || typeof body.assertion !== 'string') throw new BadRequestError('This single sign-on request is not complete. Make a new link.');
    // NHS login's parameter name (the NHS App hands it over as assertedLoginIdentity).
    await startSignIn(ctx, parsed.choice, { asserted_login_identity: body.assertion });
  });

  router.get('/callback', async (ctx) => {
    const pendingId = ctx.cookies.get(DEMO_RP_COOKIES.pending, { signed: true });
    // One attempt per pending sign-in: a replayed or reloaded callback must start again.
    const pending = pendingSignIns.take(pendingId);
    ctx.cookies.set(DEMO_RP_COOKIES.pending, null, cookieOptions(ctx));
    if (!pending) {
      throw new JourneyExpiredError('This sign-in has expired or has already been used. Go back to the start and continue with carelogin again.');
    }
    const params = new URLSearchParams(ctx.querystring);
    if (params.get('state') !== pending.state) {
      logger.warn('demo RP callback with a state that does not match the pending sign-in');
      throw new CareloginError('state_mismatch', 'The response from carelogin does not belong to the sign-in this browser started. Go back to the start and try again.', { status: 400 });
    }

    const error = params.get('error');
    if (error) {
      const description = params.get('error_description') ?? undefined;
      logger.info({ error, description }, 'demo RP sign-in ended with an error from the IdP');
      ctx.status = 400;
      if (error === 'access_denied' && description === 'ConsentNotGiven') {
        render(ctx, 'demo-rp/no-consent.njk', { title: 'You cannot use this service' });
      } else {
        render(ctx, 'demo-rp/sign-in-error.njk', { title: 'You could not be signed in', error, description });
      }
      return;
    }

    const configuration = await idp.configuration();
    // openid-client derives redirect_uri from this URL, so rebuild it from the registered value.
    const currentUrl = new URL(credentials.redirectUri);
    currentUrl.search = ctx.querystring;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (grantError) {
      throw protocolFailure(grantError, 'exchanging the authorization code');
    }
    const claims = tokens.claims();
    if (!claims) throw protocolFailure(new Error('no ID token in the token response'), 'exchanging the authorization code');

    const session: RpSession = {
      sub: claims.sub,
      ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
      idToken: tokens.id_token!,
      choice: pending.choice,
      signedInAt: Date.now(),
      idTokenClaims: { ...claims },
      accessToken: tokens.access_token,
      // The lifetime as issued (expires_in), not what is left of it by the time the page renders.
      accessTokenExpiresIn: tokens.expires_in ?? tokens.expiresIn(),
      refreshToken: tokens.refresh_token,
      grantedScope: tokens.scope,
      refreshCount: 0,
    };
    try {
      session.userinfo = { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub)) };
    } catch (userinfoError) {
      // Still show the validated ID token: a UserInfo failure is worth seeing, not a dead end.
      logger.warn({ error: describeError(userinfoError) }, 'demo RP UserInfo request failed');
      session.userinfoError = failureText(userinfoError);
    }

    // A new session id at sign-in, so an id planted before sign-in is worthless afterwards.
    sessions.delete(ctx.cookies.get(DEMO_RP_COOKIES.session, { signed: true }));
    const sessionId = randomId();
    sessions.set(sessionId, session);
    ctx.cookies.set(DEMO_RP_COOKIES.session, sessionId, cookieOptions(ctx));
    logger.info({ votMatched: votMatches(claims.vot, pending.choice.expectedVectors), refreshToken: Boolean(tokens.refresh_token) }, 'demo RP sign-in completed');
    ctx.status = 303;
    ctx.redirect('/signed-in');
  });

  router.get('/signed-in', (ctx) => {
    const found = currentSession(ctx);
    if (!found) {
      ctx.status = 303;
      ctx.redirect('/');
      return;
    }
    render(ctx, 'demo-rp/signed-in.njk', { title: 'You are signed in to the demo service', csrfToken: csrfToken(ctx), ...sessionView(found.session) });
  });

  router.post('/refresh', async (ctx) => {
    const body = formBody(ctx);
    checkCsrf(ctx, body);
    const found = currentSession(ctx);
    if (!found) throw new JourneyExpiredError('You are not signed in to the demo service any more. Go back to the start and continue with carelogin.');
    const { session } = found;
    if (!session.refreshToken) throw new BadRequestError('carelogin did not issue a refresh token for this sign-in, so there is nothing to refresh.');
    const configuration = await idp.configuration();
    let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      tokens = await oidc.refreshTokenGrant(configuration, session.refreshToken);
    } catch (refreshError) {
      // A refused refresh token (expired, revoked, reused) will never work again: forget it.
      if (refreshError instanceof oidc.ResponseBodyError && refreshError.error === 'invalid_grant') session.refreshToken = undefined;
      throw protocolFailure(refreshError, 'refreshing the tokens');
    }
    const claims = tokens.claims();
    // OIDC Core 12.2: a refreshed ID token must be about the same person.
    if (claims && claims.sub !== session.sub) throw protocolFailure(new Error('the refreshed ID token has a different sub'), 'refreshing the tokens');
    if (claims) session.idTokenClaims = { ...claims };
    session.accessToken = tokens.access_token;
    session.accessTokenExpiresIn = tokens.expires_in ?? tokens.expiresIn();
    // With rotation the old refresh token is now spent; keep the new one.
    session.refreshToken = tokens.refresh_token ?? session.refreshToken;
    session.grantedScope = tokens.scope ?? session.grantedScope;
    session.refreshCount += 1;
    session.refreshedAt = Date.now();
    logger.info({ refreshCount: session.refreshCount, idToken: Boolean(claims), rotated: Boolean(tokens.refresh_token) }, 'demo RP tokens refreshed');
    ctx.status = 303;
    ctx.redirect('/signed-in');
  });

  // "Sign out": this service forgets the person. With from=carelogin it also sends the browser to
  // carelogin's logout (RP-initiated logout, a carelogin extension; NHS login has none).
  router.post('/logout', async (ctx) => {
    const body = formBody(ctx);
    checkCsrf(ctx, body);
    const found = currentSession(ctx);
    sessions.delete(found?.id);
    ctx.cookies.set(DEMO_RP_COOKIES.session, null, cookieOptions(ctx));
    ctx.status = 303;
    if (body.from !== 'carelogin' || !found) {
      ctx.redirect('/signed-out');
      return;
    }
    const state = randomId();
    ctx.cookies.set(DEMO_RP_COOKIES.logout, state, cookieOptions(ctx, PENDING_TTL_MS));
    const url = oidc.buildEndSessionUrl(await idp.configuration(), {
      id_token_hint: found.session.idToken,
      post_logout_redirect_uri: credentials.postLogoutRedirectUri,
      state,
    });
    logger.info('demo RP sent the browser to carelogin to sign out');
    ctx.redirect(url.href);
  });

  router.get('/signed-out', (ctx) => {
    const expected = ctx.cookies.get(DEMO_RP_COOKIES.logout, { signed: true });
    ctx.cookies.set(DEMO_RP_COOKIES.logout, null, cookieOptions(ctx));
    const state = new URLSearchParams(ctx.querystring).get('state');
    // The state we sent, back from carelogin: this browser went through carelogin's logout.
    const fromCarelogin = Boolean(expected && state && safeEqual(expected, state));
    render(ctx, 'demo-rp/signed-out.njk', { title: 'You have signed out of the demo service', fromCarelogin });
  });

  // OIDC Back-Channel Logout 1.0 §2.6-2.8: carelogin POSTs a signed logout token when the person's
  // carelogin session ends; every sign-in here that rests on it ends too.
  router.post('/backchannel-logout', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const token = formBody(ctx).logout_token;
    try {
      if (typeof token !== 'string') throw new Error('no logout_token');
      const claims = await verifyLogoutToken(token);
      let ended = 0;
      for (const [id, session] of sessions.entries()) {
        if (session.sub === claims.sub && (claims.sid === undefined || session.sid === claims.sid)) {
          sessions.delete(id);
          endedByCarelogin.set(id, true);
          ended += 1;
        }
      }
      logger.info({ ended, bySid: claims.sid !== undefined }, 'demo RP back-channel logout');
      ctx.status = 200;
      ctx.body = '';
    } catch (error) {
      logger.warn({ reason: (error as Error).message }, 'demo RP refused a logout token');
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the logout token is not valid' };
    }
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(() => {
    throw new NotFoundError();
  });

  function renderHome(ctx: Context, form: FormValues, errors: FieldError[]): void {
    render(ctx, 'demo-rp/home.njk', {
      title: 'Sign in to the demo service',
      errors,
      csrfToken: csrfToken(ctx),
      signedIn: currentSession(ctx) !== undefined,
      // Once: the session this browser had was ended by carelogin's back-channel logout.
      endedByCarelogin: endedByCarelogin.take(ctx.cookies.get(DEMO_RP_COOKIES.session, { signed: true })) === true,
      clientId: credentials.clientId,
      redirectUri: credentials.redirectUri,
      vtrItems: VTR_CHOICES.map((c) => ({ value: c.value, text: c.label, hint: { text: c.hint }, checked: c.value === form.vtrChoice })),
      scopeItems: SCOPE_CHOICES.map((s) => ({ value: s.value, text: s.value, hint: { text: s.hint }, checked: form.scopes.includes(s.value) })),
      promptItems: PROMPT_CHOICES.map((p) => ({ value: p.value, text: p.label, hint: { text: p.hint }, checked: p.value === form.prompt })),
      promptChosen: form.prompt !== '',
      hideRegistration: form.hideRegistration,
    });
  }

  let idpKeys: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function verifyLogoutToken(token: string): Promise<{ sub: string; sid?: string }> {
    const metadata = (await idp.configuration()).serverMetadata();
    idpKeys ??= createRemoteJWKSet(new URL(metadata.jwks_uri!));
    const { payload } = await jwtVerify(token, idpKeys, {
      issuer: metadata.issuer,
      audience: credentials.clientId,
      algorithms: ['RS512'],
      typ: 'logout+jwt',
      maxTokenAge: LOGOUT_TOKEN_WINDOW_MS / 1000,
    });
    const events = payload.events as Record<string, unknown> | undefined;
    if (!events || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object') throw new Error('no back-channel logout event');
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (typeof payload.sub !== 'string') throw new Error('no sub');
    if (typeof payload.jti !== 'string' || seenLogoutTokens.get(payload.jti)) throw new Error('missing or replayed jti');
    seenLogoutTokens.set(payload.jti, true);
    return { sub: payload.sub, ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}) };
  }

  function currentSession(ctx: Context): { id: string; session: RpSession } | undefined {
    const id = ctx.cookies.get(DEMO_RP_COOKIES.session, { signed: true });
    const session = sessions.get(id);
    if (!id || !session) return undefined;
    if (Date.now() - session.signedInAt > SESSION_ABSOLUTE_MS) {
      sessions.delete(id);
      return undefined;
    }
    // Sliding idle timeout: each use restarts the 30 minutes.
    sessions.set(id, session);
    return { id, session };
  }

  return {
    app,
    async close() {
      pendingSignIns.close();
      sessions.close();
      seenLogoutTokens.close();
      endedByCarelogin.close();
    },
  };
}

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** HttpOnly and SameSite=Lax always; Secure whenever the request came over https. Signed so other origins on the host cannot plant values. */
function cookieOptions(ctx: Context, maxAge?: number): { httpOnly: true; sameSite: 'lax'; secure: boolean; signed: true; path: '/'; overwrite: true; maxAge?: number } {
  return { httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: true, path: '/', overwrite: true, ...(maxAge === undefined ? {} : { maxAge }) };
}

function formBody(ctx: Context): FormBody {
  const body = ctx.request.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as FormBody) : {};
}

/** The CSRF token for this browser, set in a signed cookie on first use (double-submit pattern). */
function csrfToken(ctx: Context): string {
  const existing = ctx.cookies.get(DEMO_RP_COOKIES.csrf, { signed: true });
  if (existing && /^[\w-]{43}$/.test(existing)) return existing;
  const token = randomId();
  ctx.cookies.set(DEMO_RP_COOKIES.csrf, token, cookieOptions(ctx));
  return token;
}

function checkCsrf(ctx: Context, body: FormBody): void {
  const expected = ctx.cookies.get(DEMO_RP_COOKIES.csrf, { signed: true });
  const given = body._csrf;
  if (!expected || typeof given !== 'string' || !safeEqual(expected, given)) throw new CsrfError();
}

function safeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The vot must be one of the vectors asked for (NHS login EIS §5.1.4); compared in canonical form. */
export function votMatches(vot: unknown, expected: readonly string[]): boolean {
  if (typeof vot !== 'string') return false;
  try {
    const actual = formatVector(parseVector(vot));
    return expected.some((vector) => formatVector(parseVector(vector)) === actual);
  } catch {
    return false;
  }
}

/** A message safe and useful to show a developer: the OAuth error, or what failed validation. */
function failureText(error: unknown): string {
  if (error instanceof oidc.ResponseBodyError) return error.error_description ? `${error.error}: ${error.error_description}` : error.error;
  if (error instanceof oidc.AuthorizationResponseError) return error.error_description ? `${error.error}: ${error.error_description}` : error.error;
  if (error instanceof oidc.WWWAuthenticateChallengeError) return `${error.message} (HTTP ${error.status})`;
  return error instanceof Error ? error.message : String(error);
}

function isNetworkFailure(error: unknown): boolean {
  return error instanceof TypeError && /fetch failed/i.test(error.message);
}

function protocolFailure(error: unknown, during: string): CareloginError {
  if (error instanceof CareloginError) return error;
  if (isNetworkFailure(error)) return idpUnavailable(error);
  return new CareloginError('sign_in_failed', `Something went wrong while ${during}: ${failureText(error)}`, { status: 502, expose: true, cause: error });
}

const TIME_CLAIMS = new Set(['exp', 'iat', 'auth_time', 'nbf']);
const CLAIM_ORDER = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'jti', 'nonce', 'vot', 'vtm', 'identity_proofing_level', 'nhs_number', 'given_name', 'family_name', 'birthdate'];

function claimRows(claims: Record<string, unknown>): { key: { text: string }; value: { text: string } }[] {
  const rank = (name: string): number => {
    const index = CLAIM_ORDER.indexOf(name);
    return index === -1 ? CLAIM_ORDER.length : index;
  };
  return Object.keys(claims)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((name) => ({ key: { text: name }, value: { text: claimText(name, claims[name]) } }));
}

function claimText(name: string, value: unknown): string {
  if (TIME_CLAIMS.has(name) && typeof value === 'number') return `${value} (${new Date(value * 1000).toISOString()})`;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The access token is for APIs, not for the service, but decoding it shows what an API would see. */
function accessTokenView(token: string): { format: 'jwt'; json: string } | { format: 'opaque' } {
  if (token.split('.').length !== 3) return { format: 'opaque' };
  try {
    return { format: 'jwt', json: JSON.stringify(decodeJwt(token), null, 2) };
  } catch {
    return { format: 'opaque' };
  }
}

function sessionView(session: RpSession): Record<string, unknown> {
  const claims = session.idTokenClaims;
  const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
  const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
  const vot = typeof claims.vot === 'string' ? claims.vot : undefined;
  return {
    claimRows: claimRows(claims),
    nhsNumber: typeof claims.nhs_number === 'string' ? claims.nhs_number : undefined,
    vot,
    vtm: typeof claims.vtm === 'string' ? claims.vtm : undefined,
    votMatched: votMatches(vot, session.choice.expectedVectors),
    requestedVtr: JSON.stringify(session.choice.expectedVectors),
    vtrSent: session.choice.vtr !== undefined,
    identityProofingLevel: claims.identity_proofing_level ?? session.userinfo?.identity_proofing_level,
    requestedScope: session.choice.scopes.join(' '),
    grantedScope: session.grantedScope,
    userinfoJson: session.userinfo ? JSON.stringify(session.userinfo, null, 2) : undefined,
    userinfoError: session.userinfoError,
    accessToken: accessTokenView(session.accessToken),
    accessTokenExpiresIn: session.accessTokenExpiresIn,
    idTokenLifetime: exp !== undefined && iat !== undefined ? exp - iat : undefined,
    refreshTokenIssued: session.refreshToken !== undefined,
    refreshCount: session.refreshCount,
    refreshedAt: session.refreshedAt ? new Date(session.refreshedAt).toISOString() : undefined,
  };
}

/**
 * The demo's own error pages (its layout, its footer). Expected problems show their message;
 * anything else a generic message and the request id, as on the IdP.
 */
function errorPages(renderer: Renderer, issuer: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const known = error instanceof CareloginError ? error : undefined;
      // Koa and the body parser throw http-errors (e.g. 413 for an oversized form): keep their 4xx status.
      const httpStatus = (error as { status?: unknown }).status;
      const status = known?.status ?? (typeof httpStatus === 'number' && httpStatus >= 400 && httpStatus < 500 ? httpStatus : 500);
      if (status >= 500 && status !== 502 && status !== 503) ctx.state.log.error({ error: describeError(error) }, 'demo RP unhandled error');
      else ctx.state.log.info({ error: describeError(error), status }, 'demo RP request refused');
      ctx.status = status;
      if (known instanceof CareloginError && known.code === 'idp_unavailable') ctx.set('Retry-After', '5');
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = renderer.render('demo-rp/error.njk', {
        title: status === 404 ? 'Page not found' : status >= 500 && status !== 502 ? 'Sorry, there is a problem with the service' : 'There is a problem',
        message: known?.expose ? known.message : status < 500 ? 'The demo service could not accept this request. Go back and try again.' : 'Sorry, there is a problem with the service. Try again later.',
        reference: ctx.state.requestId,
        cspNonce: ctx.state.cspNonce,
        issuer,
      });
    }
  };
}
