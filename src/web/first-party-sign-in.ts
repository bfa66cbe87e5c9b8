import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { Account } from '../../entities/account.js';
import { createRememberedDevices, deviceCookieHeader, deviceCookieName, parseDeviceCookie } from '../accounts/remembered-devices.js';
import { revokedUpTo, signInCounts } from '../accounts/sessions-valid-after.js';
import { ensureFirstPartyGrant, type FirstPartyClient } from '../clients/first-party.js';
import { logoutTargets } from '../provider/logout.js';
import { assessVectors, credentialsFromAmr, parseVector } from '../provider/vectors.js';
import type { AppServices } from '../services.js';

/**
 * How carelogin's own areas ("Your account", the back office) sign people in: as relying parties of
 * carelogin, with an authorization request to our own /authorize, and then by reading oidc-provider's
 * own session for the browser (its cookie, its storage, its idle and absolute lifetimes). They keep
 * no session of their own that could outlive or disagree with it. See docs/account.md and D20.
 */

/** Who is signed in, from oidc-provider's own session for this browser. */
export interface FirstPartySignedIn {
  readonly account: Account;
  readonly sessionId: string;
  /** Stable for the life of the session: what CSRF tokens and security-code journeys are bound to. */
  readonly binding: string;
  /** The session's public uid (never its id, which is the cookie value). */
  readonly sessionUid: string;
  /** When the person last proved who they are (auth_time). */
  readonly loginTs: number;
}

/** The round trip's state as the callback reads it back. */
export interface CallbackState {
  readonly state: string;
  readonly returnTo: string;
  readonly purpose: string;
}

export interface FirstPartySignIn {
  /** The signed-in person, when the session meets the client's vectors, is within its limits and not revoked. */
  signedIn(ctx: Context): Promise<FirstPartySignedIn | undefined>;
  /** This browser had a session that no longer counts (ran out, ended elsewhere, revoked). */
  sessionEnded(ctx: Context): Promise<boolean>;
  /** Using the area counts as activity: extends the session's idle lifetime as oidc-provider would. */
  touch(ctx: Context): Promise<void>;
  /**
   * Sends the browser to /authorize for the client; `purpose` 'reauth' asks for a fresh sign-in
   * (prompt=login); `vectors` replaces the client's usual ones (the account area's identity check).
   */
  startAuthorization(ctx: Context, returnTo: string, purpose: string, vectors?: readonly string[]): Promise<void>;
  /** Reads and clears the round trip's cookie (undefined fields when there was none). */
  takeCallbackState(ctx: Context): Partial<CallbackState>;
  clearSessionCookie(ctx: Context): void;
  /**
   * "Sign out": ends this browser's carelogin session at the server (so a replayed cookie is signed
   * out, C4), tells services that take logout tokens, and forgets this browser as a remembered device
   * (it may be a shared one), as NHS login's "Log out" does. The caller audits it.
   */
  signOut(ctx: Context, current: FirstPartySignedIn): Promise<void>;
}

export interface FirstPartySignInOptions {
  readonly client: FirstPartyClient;
  /** The vectors a session must meet to be signed in here (and asked for by default). */
  readonly vectors: readonly string[];
  /** The round trip cookie's name (prefixed __Host- on https). */
  readonly cookieName: string;
  /** Prefix of the CSRF binding, so a token of one area never works in another. */
  readonly bindingPrefix: string;
}

export function createFirstPartySignIn(services: AppServices, options: FirstPartySignInOptions): FirstPartySignIn {
  const { provider, config, dataSource, accounts, backchannelLogout } = services;
  const devices = createRememberedDevices(dataSource, config);
  const secure = config.issuer.startsWith('https://');
  // The round trip's state: signed, HttpOnly, SameSite=Lax (it must come back on the top-level
  // redirect from /authorize), and __Host- on https, which needs Path=/.
  const signinCookie = secure ? `__Host-${options.cookieName}` : options.cookieName;
  const required = options.vectors.map(parseVector);

  return {
    async signedIn(ctx) {
      const session = await provider.Session.get(ctx);
      if (!session.accountId || !session.loginTs) return undefined;
      // A session signed in with less (a service may ask for a password alone) is not enough here.
      if (!assessVectors(required, 'P0', credentialsFromAmr(session.amr)).met) return undefined;
      // oidc-provider's row expiry is the idle limit; the absolute limit is checked here as well.
      const now = Math.floor(Date.now() / 1000);
      if (now - session.loginTs >= config.ttl.sessionAbsolute) return undefined;
      const account = await accounts.findById(session.accountId);
      if (!account || account.status !== 'active') return undefined;
      // Signed out everywhere (or the password changed) since: the session may have been saved back by a request in flight.
      if (!signInCounts(revokedUpTo(account.sessionsValidAfter), session.loginTs)) return undefined;
      return { account, sessionId: session.jti, binding: `${options.bindingPrefix}:${session.uid}`, sessionUid: session.uid, loginTs: session.loginTs };
    },

    async sessionEnded(ctx) {
      if (!ctx.cookies.get(provider.cookieName('session'), { signed: true })) return false;
      const session = await provider.Session.get(ctx);
      if (!session.accountId) return true;
      const account = await accounts.findById(session.accountId);
      return Boolean(account) && !signInCounts(revokedUpTo(account!.sessionsValidAfter), session.loginTs);
    },

    async touch(ctx) {
      const session = await provider.Session.get(ctx);
      if (!session.accountId || !session.loginTs || typeof session.exp !== 'number') return;
      const now = Math.floor(Date.now() / 1000);
      const ttl = Math.max(1, Math.min(config.ttl.sessionIdle, session.loginTs + config.ttl.sessionAbsolute - now));
      await session.save(ttl);
      ctx.cookies.set(provider.cookieName('session'), session.jti, { httpOnly: true, sameSite: 'lax', secure, signed: true, expires: new Date((now + ttl) * 1000), overwrite: true });
    },

    async startAuthorization(ctx, returnTo, purpose, vectors) {
      const state = randomBytes(32).toString('base64url');
      ctx.cookies.set(signinCookie, `${state}|${returnTo}${purpose === 'signin' ? '' : `|${purpose}`}`, { httpOnly: true, sameSite: 'lax', secure, signed: true, path: '/', maxAge: config.ttl.interaction * 1000, overwrite: true });
      const verifier = randomBytes(32).toString('base64url');
      const params = new URLSearchParams({
        client_id: options.client.clientId,
        redirect_uri: `${config.issuer}${options.client.callbackPath}`,
        response_type: 'code',
        scope: 'openid',
        state,
        nonce: randomBytes(16).toString('base64url'),
        // The code is never redeemed (see docs/account.md), but PKCE is required of every client.
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        vtr: JSON.stringify(vectors ?? options.vectors),
      });
      const session = await provider.Session.get(ctx);
      // A session past its absolute limit is still live for oidc-provider until its row expires: sign in afresh.
      const outlived = Boolean(session.loginTs) && Math.floor(Date.now() / 1000) - session.loginTs! >= config.ttl.sessionAbsolute;
      if (purpose === 'reauth' || outlived) params.set('prompt', 'login');
      if (session.accountId) await ensureFirstPartyGrant(provider, dataSource, session.accountId, options.client.clientId);
      ctx.status = 303;
      ctx.redirect(`/authorize?${params.toString()}`);
    },

    takeCallbackState(ctx) {
      const stored = ctx.cookies.get(signinCookie, { signed: true }) ?? '';
      ctx.cookies.set(signinCookie, null, { path: '/', secure, overwrite: true });
      const [state, returnTo, purpose] = stored.split('|');
      return { state: state || undefined, returnTo, purpose: purpose ?? 'signin' };
    },

    clearSessionCookie(ctx) {
      ctx.cookies.set(provider.cookieName('session'), null, { httpOnly: true, sameSite: 'lax', secure, signed: true, overwrite: true });
    },

    async signOut(ctx, { account, sessionId }) {
      const logouts = await dataSource.transaction(async (manager) => {
        const targets = await logoutTargets(manager, account.id, { sessionId });
        await manager.query(`DELETE FROM oidc_model WHERE model = 'Session' AND id = $1`, [sessionId]);
        return backchannelLogout.enqueue(manager, account.id, targets);
      });
      await backchannelLogout.deliverNow(logouts);
      this.clearSessionCookie(ctx);
      const deviceCookie = ctx.cookies.get(deviceCookieName(config.issuer), { signed: false });
      const device = parseDeviceCookie(deviceCookie);
      if (device && (await devices.recognise(account.id, deviceCookie))) await devices.removeDevice(account.id, device.id);
      if (deviceCookie !== undefined) ctx.append('Set-Cookie', deviceCookieHeader(config.issuer, '', 0));
    },
  };
}
