import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { normaliseEmail } from '../../entities/account.js';
import { EMAIL_ADDRESS_MESSAGES, emailAddressProblem, isEmailAddress } from '../accounts/email-address.js';
import { checkPassword, PASSWORD_MESSAGES } from '../accounts/password-policy.js';
import { invalidateResetLinks, textPasswordChanged } from '../accounts/password-reset.js';
import { createRememberedDevices } from '../accounts/remembered-devices.js';
import { revokedUpTo, revokeSignIns } from '../accounts/sessions-valid-after.js';
import { parseUkMobile } from '../accounts/uk-mobile.js';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import { CsrfError, NotFoundError } from '../errors.js';
import { lockoutKeys, passwordPolicy } from '../security/attempt-counters.js';
import { isCrossSiteRequest } from '../security/csrf.js';
import { textCodeAtOnce } from '../notifications/code-text.js';
import { normaliseSecurityCode, SECURITY_CODE_PATTERN } from '../security/security-codes.js';
import type { AppServices } from '../services.js';
import { minutesText } from '../web/durations.js';
import { ERROR_REFERENCES } from '../web/error-references.js';
import { nhsDate, nhsDateTime } from '../web/dates.js';
import type { FieldError } from '../web/renderer.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID, ACCOUNT_CLIENT_NAME, ACCOUNT_IDENTITY_VECTORS, ACCOUNT_VECTORS } from './internal-client.js';
import { createFirstPartySignIn, type FirstPartySignedIn } from '../web/first-party-sign-in.js';
import { identitySummary } from './identity.js';
import { logoutTargets } from '../provider/logout.js';
import { supersedeHeldChange } from '../accounts/mobile-change.js';
import { addAuthenticatorAppRoutes } from './authenticator-app-routes.js';
import { addPasskeyRoutes } from './passkey-routes.js';
import { addRecoveryCodeRoutes, FEW_RECOVERY_CODES } from './recovery-code-routes.js';
import { REAUTH_WINDOW_SECONDS } from './reauthentication.js';
import { deleteAccountRows, deleteSessions, endSession, grantBelongsTo, listGrants, listSessions, redateSession, revokeTokens } from './store.js';

export { REAUTH_WINDOW_SECONDS };

const FORM_LIMIT = '8kb';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** oidc-provider grant ids and session uids (nanoid) */
const GRANT_ID = /^[A-Za-z0-9_-]{10,64}$/;

const PASSWORD_LOCKED = 'You have entered the wrong password too many times. Try again later';

/** Banners after a change; the query string carries only these keys, never text. */
const DONE_MESSAGES: Record<string, string> = {
  'service-removed': 'You have withdrawn your consent. The service will ask for it again the next time you use carelogin with it.',
  'device-removed': 'The device has been removed. It will need a security code the next time it is used to sign in.',
  'devices-removed': 'All remembered devices have been removed.',
  'session-ended': 'That device has been signed out of carelogin.',
  password: 'Your password has been changed. You have been signed out on other devices, remembered devices have been removed, and services you use will ask you to sign in again.',
  email: 'Your email address has been changed.',
  mobile: 'Your mobile phone number has been changed. Remembered devices have been removed.',
  'authenticator-app': 'Your authenticator app has been set up. We will ask for a code from it when you sign in.',
  'authenticator-app-removed': 'Your authenticator app has been removed. We will send security codes to your mobile phone instead.',
  passkey: 'Your passkey has been created. You can use it to sign in.',
  'passkey-removed': 'The passkey has been removed. It can no longer be used to sign in.',
  'recovery-codes-turned-off': 'Your recovery codes have been turned off. None of them can be used to sign in.',
};

/** Why the account area sends the browser to /authorize (kept in the round trip's cookie). */
type SignInPurpose = 'signin' | 'reauth' | 'identity';

type SignedIn = FirstPartySignedIn;

/**
 * "Your account": the signed-in patient's settings, at /account.
 *
 * It is a first-party relying party of carelogin: signing in (and re-authenticating for a
 * sensitive change) is an authorization request to our own /authorize for the internal client
 * `carelogin-account`, so the patient goes through the same journeys as for any service. Who is
 * signed in is then read from oidc-provider's own session (its cookie, its storage, its 1 hour idle
 * and 12 hour absolute lifetime): the account area keeps no session of its own that could outlive
 * or disagree with it. See docs/account.md.
 */
export function createAccountRouter(services: AppServices): Router {
  const { provider, renderer, csrf, config, dataSource, hasher, codes, notifications, audit, counters, accounts, backchannelLogout } = services;
  const devices = createRememberedDevices(dataSource, config);
  const expectedOrigin = new URL(config.issuer).origin;
  const firstParty = createFirstPartySignIn(services, {
    client: { clientId: ACCOUNT_CLIENT_ID, clientName: ACCOUNT_CLIENT_NAME, callbackPath: ACCOUNT_CALLBACK_PATH, vectors: ACCOUNT_VECTORS },
    vectors: ACCOUNT_VECTORS,
    cookieName: 'carelogin-account-signin',
    bindingPrefix: 'account',
  });
  const { signedIn, sessionEnded, touch, clearSessionCookie } = firstParty;
  const router = new Router({ prefix: '/account' });
  const forms = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });

  function page(ctx: Context, template: string, data: Record<string, unknown> = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderer.render(`account/${template}.njk`, { ...data, cspNonce: ctx.state.cspNonce });
  }

  function redirect(ctx: Context, location: string): void {
    ctx.status = 303;
    ctx.redirect(location);
  }

  function csrfToken(ctx: Context): string {
    return csrf.token((ctx.state.account as SignedIn).binding);
  }

  function me(ctx: Context): SignedIn {
    return ctx.state.account as SignedIn;
  }

  /** Every page: no caching, and a signed-in patient (else sign in and come back here). */
  const requireSignIn: Middleware = async (ctx: Context, next: Next) => {
    const current = await signedIn(ctx);
    if (!current) {
      const signInHref = `/account/signin?return=${encodeURIComponent(ctx.method === 'GET' ? ctx.path : '/account')}`;
      if (await sessionEnded(ctx)) {
        // Say why, once, rather than drop the person on a sign-in page without a word.
        clearSessionCookie(ctx);
        page(ctx, 'session-ended', { title: 'You have been signed out', idleFor: minutesText(config.ttl.sessionIdle), signInHref });
        return;
      }
      redirect(ctx, signInHref);
      return;
    }
    ctx.state.account = current;
    await next();
    if (ctx.status < 500) await touch(ctx);
  };

  /** C5: refuse a cross-site post, or one without this session's token, before anything is read further. */
  const checkForm: Middleware = async (ctx: Context, next: Next) => {
    const body = formBody(ctx);
    if (isCrossSiteRequest(ctx.headers, expectedOrigin) || !csrf.verify(me(ctx).binding, body._csrf)) {
      ((ctx.state.log as typeof services.logger | undefined) ?? services.logger).warn('account form rejected: cross-site or bad CSRF token');
      throw new CsrfError();
    }
    await next();
  };

  /** Sensitive changes need a recent sign-in; otherwise a prompt=login round trip back to `returnTo`. */
  function recentlySignedIn(ctx: Context, returnTo: string): boolean {
    const age = Math.floor(Date.now() / 1000) - me(ctx).loginTs;
    if (age <= REAUTH_WINDOW_SECONDS) return true;
    redirect(ctx, `/account/signin?reauth=1&return=${encodeURIComponent(returnTo)}`);
    return false;
  }

  /**
   * The patient's password, for a change that asks for it (password, email address, deletion).
   * Wrong answers count against the same lock as signing in (X8), so a borrowed session cannot be
   * used to guess the password at leisure; a locked step checks nothing.
   *
   * `newPassword` (the password page): a wrong current password may be the repeat of a change that
   * has just happened (a double click, a resubmitted form), when the new password is now the
   * password. That proves the password as well as the right one would, so it is no failure; it is
   * only tried soon after a change, within the attempt already counted.
   */
  async function verifyPassword(ctx: Context, password: string, newPassword?: string): Promise<'missing' | 'right' | 'wrong' | 'locked' | 'already-changed'> {
    if (!password) return 'missing';
    const { account } = me(ctx);
    const key = lockoutKeys.password(account.id);
    const attempt = await counters.reserveAttempt(key, passwordPolicy(config));
    if (!attempt.allowed) return 'locked';
    if (await hasher.verify(account.passwordHash, password)) {
      await counters.recordSuccess(key);
      return 'right';
    }
    if (newPassword && (await passwordChangedRecently(account.id)) && (await hasher.verify(account.passwordHash, newPassword))) {
      await counters.recordSuccess(key);
      return 'already-changed';
    }
    if (attempt.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, attempt.delayMs));
    return 'wrong';
  }

  /** Changed in "Your account" within the re-authentication window (its audit row commits with the change). */
  async function passwordChangedRecently(accountId: string): Promise<boolean> {
    const rows = await queryRows(
      dataSource,
      `SELECT 1 FROM audit_event WHERE account_id = $1 AND type = 'password.changed' AND at > now() - $2::int * interval '1 second' LIMIT 1`,
      [accountId, REAUTH_WINDOW_SECONDS],
    );
    return rows.length > 0;
  }

  /**
   * The password asked for by the email and deletion pages: undefined when right, else the field's
   * error (audited, as on the password page) and the status to answer with.
   */
  async function passwordProblem(ctx: Context, password: string, purpose: 'email' | 'delete'): Promise<{ error: FieldError; status: number } | undefined> {
    const verdict = await verifyPassword(ctx, password);
    if (verdict === 'right') return undefined;
    const accountId = me(ctx).account.id;
    if (verdict === 'locked') {
      await audit.record('password.check_locked', { accountId, ip: ctx.ip, detail: { purpose } });
      return { error: { field: 'password', text: PASSWORD_LOCKED }, status: 429 };
    }
    if (verdict === 'wrong') await audit.record('password.check_failed', { accountId, ip: ctx.ip, detail: { purpose } });
    return { error: { field: 'password', text: verdict === 'missing' ? 'Enter your password' : 'Your password is not correct' }, status: 400 };
  }

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    await next();
  });

  /**
   * Sends the browser to our own /authorize for the internal client: to sign in, to sign in again
   * (`reauth`), or to prove who they are (`identity`: P5 vectors, so the step-up journey asks for the
   * details). The round trip's state, the page to return to and the purpose ride in the signed cookie.
   */
  function startAuthorization(ctx: Context, returnTo: string, purpose: SignInPurpose): Promise<void> {
    return firstParty.startAuthorization(ctx, returnTo, purpose, purpose === 'identity' ? ACCOUNT_IDENTITY_VECTORS : undefined);
  }

  // Sign in (and re-authenticate): an authorization request for the internal client.
  router.get('/signin', async (ctx) => {
    const returnTo = safeReturn(ctx.query.return);
    const reauth = ctx.query.reauth === '1';
    const current = await signedIn(ctx);
    if (current && !reauth) return redirect(ctx, returnTo);
    await startAuthorization(ctx, returnTo, reauth ? 'reauth' : 'signin');
  });

  // "Prove who you are": the same authorization request asking for P5, so the real identity check runs.
  // A POST with this session's token, so another site cannot start it for the person.
  router.post('/prove-who-you-are', requireSignIn, forms, checkForm, async (ctx) => {
    if (me(ctx).account.proofingLevel !== 'P0') return redirect(ctx, '/account');
    await startAuthorization(ctx, '/account', 'identity');
  });

  router.get('/callback', async (ctx) => {
    const { state, returnTo, purpose } = firstParty.takeCallbackState(ctx);
    const reauth = purpose === 'reauth';
    const identity = purpose === 'identity';
    if (!state || typeof ctx.query.state !== 'string' || ctx.query.state !== state) {
      page(ctx, 'signin-failed', { title: 'You are not signed in' }, 400);
      return;
    }
    if (typeof ctx.query.error === 'string') {
      // An identity check that ended without a match (details already linked, checks unavailable): the
      // journey's own page has said why, and the person is still signed in, so back to their account.
      if (identity && (await signedIn(ctx))) return redirect(ctx, '/account');
      page(ctx, 'signin-failed', { title: 'You are not signed in' }, 400);
      return;
    }
    const current = await signedIn(ctx);
    // Never straight back to /signin from here: a session that cannot be used would loop.
    if (!current) {
      page(ctx, 'signin-failed', { title: 'You are not signed in' }, 400);
      return;
    }
    if (reauth && Math.floor(Date.now() / 1000) - current.loginTs > REAUTH_WINDOW_SECONDS) return redirect(ctx, '/account');
    await audit.record('account.signed_in', { accountId: current.account.id, clientId: ACCOUNT_CLIENT_ID, ip: ctx.ip, detail: { reauth, ...(identity ? { identityCheck: true } : {}) } });
    if (identity) return redirect(ctx, current.account.proofingLevel === 'P0' ? '/account' : '/account?done=identity');
    redirect(ctx, safeReturn(returnTo));
  });

  router.get('/signed-out', (ctx) => page(ctx, 'signed-out', { title: 'You have signed out' }));
  router.get('/deleted', (ctx) => page(ctx, 'deleted', { title: 'Your account has been deleted' }));

  // Slice 1: the overview.
  router.get('/', requireSignIn, async (ctx) => {
    const { account } = me(ctx);
    const grants = await listGrants(dataSource, account.id);
    const connected = await Promise.all(
      grants.map(async (g) => ({ ...g, name: services.clients.get(g.clientId)?.metadata.client_name ?? (await provider.Client.find(g.clientId))?.clientName ?? g.clientId })),
    );
    const done = typeof ctx.query.done === 'string' ? DONE_MESSAGES[ctx.query.done] : undefined;
    const identity = identitySummary(account);
    const held = await services.mobileChanges.heldFor(dataSource, account.id);
    page(ctx, 'index', {
      title: 'Your account',
      heldMobile: held ? { ending: held.newMobile.slice(-4), effective: nhsDateTime(held.effectiveAt) } : undefined,
      email: account.email,
      mobile: account.mobileNumber ? maskMobile(account.mobileNumber) : undefined,
      hasPassword: Boolean(account.passwordHash),
      authenticatorAddedAt: account.authenticatorAddedAt ? nhsDate(account.authenticatorAddedAt) : undefined,
      // Turned off at the hard cap (X8): it works again only once set up again.
      authenticatorOff: account.authenticatorAddedAt !== null && (await counters.status(lockoutKeys.authenticatorApp(account.id))).disabled,
      passkeyCount: await services.passkeys.count(account.id),
      recoveryCodes: account.recoveryCodesCreatedAt ? { left: account.recoveryCodesLeft, few: account.recoveryCodesLeft <= FEW_RECOVERY_CODES } : undefined,
      devices: await devices.listDevices(account.id),
      sessions: (await listSessions(dataSource, account.id, revokedUpTo(account.sessionsValidAfter))).map((b) => ({ ...b, current: b.uid === me(ctx).sessionUid })),
      services: connected,
      done,
      identity,
      // Only an account that has proved who it is gets the banner: the query string alone proves nothing.
      identityProved: ctx.query.done === 'identity' && identity.proved,
      identityCheckAvailable: services.demographics.enabled,
      csrfToken: csrfToken(ctx),
    });
  });

  // A mobile change held from "I cannot access my mobile" (X1): the owner, signed in with the current
  // number, can cancel it here as with the link; everyone is signed out, this browser included.
  router.post('/mobile/cancel-change', requireSignIn, forms, checkForm, async (ctx) => {
    const { account } = me(ctx);
    if (!(await services.mobileChanges.cancelHeldFor(account.id, { ip: ctx.ip }))) return redirect(ctx, '/account');
    clearSessionCookie(ctx);
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = renderer.render('mobile-change/cancel.njk', { state: 'done', cspNonce: ctx.state.cspNonce });
  });

  // Slice 2: connected services, remembered devices, signing out.
  router.post('/services/:grantId/withdraw', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account')) return;
    const { account } = me(ctx);
    const grantId = String(ctx.params.grantId);
    if (!GRANT_ID.test(grantId) || !(await grantBelongsTo(dataSource, grantId, account.id))) throw new NotFoundError();
    const [grant] = await dataSource.query(`SELECT payload->>'clientId' AS client_id FROM oidc_model WHERE model = 'Grant' AND id = $1`, [grantId]);
    const logouts = await dataSource.transaction(async (manager) => {
      // The grant and every code and token issued under it: the service's tokens stop working now.
      await manager.query(`DELETE FROM oidc_model WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)`, [grantId]);
      await audit.record('consent.withdrawn', { accountId: account.id, clientId: grant?.client_id ?? null, ip: ctx.ip }, manager);
      // The service has lost access: if it takes logout tokens, it hears of it (its sessions' sids, or the person).
      if (!grant?.client_id) return [];
      const sids = (await logoutTargets(manager, account.id, {})).filter((t) => t.clientId === grant.client_id);
      return backchannelLogout.enqueue(manager, account.id, sids.length > 0 ? sids : [{ clientId: grant.client_id }]);
    });
    await backchannelLogout.deliverNow(logouts);
    redirect(ctx, '/account?done=service-removed');
  });

  router.post('/devices/remove-all', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account')) return;
    const { account } = me(ctx);
    const removed = await devices.removeAllDevices(account.id);
    await audit.record('device.removed_all', { accountId: account.id, ip: ctx.ip, detail: { removed } });
    redirect(ctx, '/account?done=devices-removed');
  });

  router.post('/devices/:id/remove', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account')) return;
    const { account } = me(ctx);
    const id = String(ctx.params.id);
    if (!UUID.test(id) || !(await devices.removeDevice(account.id, id))) throw new NotFoundError();
    await audit.record('device.removed', { accountId: account.id, ip: ctx.ip });
    redirect(ctx, '/account?done=device-removed');
  });

  router.post('/sessions/:uid/end', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account')) return;
    const { account, sessionUid } = me(ctx);
    const uid = String(ctx.params.uid);
    // This browser signs out with "Sign out"; here only the others are ended.
    if (!GRANT_ID.test(uid) || uid === sessionUid) throw new NotFoundError();
    const logouts = await dataSource.transaction(async (manager) => {
      const targets = await logoutTargets(manager, account.id, { uid });
      if (!(await endSession(manager, account.id, uid))) throw new NotFoundError();
      return backchannelLogout.enqueue(manager, account.id, targets);
    });
    await backchannelLogout.deliverNow(logouts);
    await audit.record('session.ended', { accountId: account.id, ip: ctx.ip });
    redirect(ctx, '/account?done=session-ended');
  });

  router.post('/sign-out', requireSignIn, forms, checkForm, async (ctx) => {
    const { account } = me(ctx);
    // As NHS login's "Log out": the session ends at the server, and this browser is no longer remembered.
    await firstParty.signOut(ctx, me(ctx));
    await audit.record('account.signed_out', { accountId: account.id, ip: ctx.ip });
    redirect(ctx, '/account/signed-out');
  });

  router.post('/sign-out-everywhere', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account')) return;
    const { account } = me(ctx);
    const logouts = await dataSource.transaction(async (manager) => {
      const signedIn = await logoutTargets(manager, account.id, {}, { everyService: true });
      await revokeSignIns(manager, account.id);
      const sessions = await deleteSessions(manager, account.id);
      const removed = await devices.removeAllDevices(account.id, manager);
      const tokens = await revokeTokens(manager, account.id);
      await audit.record('account.signed_out_everywhere', { accountId: account.id, ip: ctx.ip, detail: { sessions, devices: removed, tokens } }, manager);
      return backchannelLogout.enqueue(manager, account.id, signedIn);
    });
    await backchannelLogout.deliverNow(logouts);
    clearSessionCookie(ctx);
    redirect(ctx, '/account/signed-out');
  });

  // Slice 3: change password.
  router.get('/password', requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, '/account/password')) return;
    page(ctx, 'password', { title: 'Change your password', csrfToken: csrfToken(ctx) });
  });

  router.post('/password', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/password')) return;
    const { account, sessionId } = me(ctx);
    const body = formBody(ctx);
    const current = typeof body.currentPassword === 'string' ? body.currentPassword : '';
    const next = typeof body.newPassword === 'string' ? body.newPassword : '';
    const errors: FieldError[] = [];
    const verdict = await verifyPassword(ctx, current, next);
    if (verdict === 'already-changed') return redirect(ctx, '/account?done=password');
    if (verdict === 'locked') {
      await audit.record('password.change_locked', { accountId: account.id, ip: ctx.ip });
      page(ctx, 'password', { title: 'Change your password', errors: [{ field: 'currentPassword', text: PASSWORD_LOCKED }], csrfToken: csrfToken(ctx) }, 429);
      return;
    }
    if (verdict === 'missing') errors.push({ field: 'currentPassword', text: 'Enter your current password' });
    if (verdict === 'wrong') errors.push({ field: 'currentPassword', text: 'Your current password is not correct' });
    const problem = checkPassword(next, { email: account.email });
    if (problem) errors.push({ field: 'newPassword', text: PASSWORD_MESSAGES[problem] });
    else if (current && next === current) errors.push({ field: 'newPassword', text: 'Your new password must be different from your current password' });
    if (errors.length > 0) {
      if (errors.some((e) => e.field === 'currentPassword' && current)) await audit.record('password.change_failed', { accountId: account.id, ip: ctx.ip });
      page(ctx, 'password', { title: 'Change your password', errors, csrfToken: csrfToken(ctx) }, 400);
      return;
    }
    const hash = await hasher.hash(next);
    const logouts = await dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE account SET password_hash = $2, updated_at = now() WHERE id = $1`, [account.id, hash]);
      // Services signed in from other browsers, and any holding tokens, which are revoked below.
      const signedOut = await logoutTargets(manager, account.id, { allExcept: sessionId }, { everyService: true });
      // Anyone else signed in with the old password is signed out, services' tokens are revoked and
      // remembered devices forgotten (C4). This browser stays signed in, on purpose: the patient has
      // just proved the current password within the re-authentication window, and signing them out
      // would only send them round the sign-in again. Its sign-in is re-dated past the stamp, so it
      // alone counts (its 12 hour limit moves on by at most that window).
      const validFrom = await revokeSignIns(manager, account.id);
      await redateSession(manager, sessionId, validFrom);
      const sessions = await deleteSessions(manager, account.id, sessionId);
      const tokens = await revokeTokens(manager, account.id);
      const removed = await devices.removeAllDevices(account.id, manager);
      // A reset link asked for before the change must not undo it.
      await invalidateResetLinks(manager, account.id);
      await notifications.enqueue(manager, { template: 'password-changed', to: account.email, data: {}, accountId: account.id });
      await textPasswordChanged(notifications, manager, account.id);
      await audit.record('password.changed', { accountId: account.id, ip: ctx.ip, detail: { otherSessionsEnded: sessions, tokens, devices: removed } }, manager);
      return backchannelLogout.enqueue(manager, account.id, signedOut);
    });
    await backchannelLogout.deliverNow(logouts);
    redirect(ctx, '/account?done=password');
  });

  // Slice 4: change email (a code to the new address; a notice to the old one).
  router.get('/email', requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, '/account/email')) return;
    page(ctx, 'email', { title: 'Change your email address', csrfToken: csrfToken(ctx) });
  });

  router.post('/email', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/email')) return;
    const { account, binding } = me(ctx);
    const body = formBody(ctx);
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    let error: string | undefined;
    const problem = emailAddressProblem(email);
    if (problem === 'missing') error = 'Enter your new email address';
    else if (problem) error = EMAIL_ADDRESS_MESSAGES[problem];
    else if (normaliseEmail(email) === account.emailNormalised) error = 'This is already your email address. Enter a different one';
    // As NHS login: the new address and the password (the sign-in may have been someone else's).
    const refused = await passwordProblem(ctx, password, 'email');
    if (error || refused) {
      const errors: FieldError[] = [...(error ? [{ field: 'email', text: error }] : []), ...(refused ? [refused.error] : [])];
      page(ctx, 'email', { title: 'Change your email address', email, errors, csrfToken: csrfToken(ctx) }, refused?.status === 429 ? 429 : 400);
      return;
    }
    // An unconfirmed account (an abandoned registration) does not hold the address: confirming
    // replaces it, as a new registration would (src/accounts/registration.ts), so it is no dead end.
    const holder = await accounts.findByEmail(email);
    const taken = holder !== null && holder.emailVerifiedAt !== null;
    const sent = await dataSource.transaction(async (manager) => {
      // An address another account uses goes through the same steps (a code is made, counted against
      // the same sending limit) but nothing is sent, so the page, the timing and the limit tell nothing;
      // and confirmation checks uniqueness again, so even a guessed code changes nothing (F2).
      const issued = await codes.issue(manager, { accountId: account.id, purpose: 'change-email', journeyId: binding, channel: 'email', destination: email });
      if (!issued.ok) return false;
      if (!taken) await notifications.enqueue(manager, { template: 'email-confirmation-code', to: email, data: { code: issued.code }, accountId: account.id, deliverBefore: issued.expiresAt });
      await audit.record('email.change_requested', { accountId: account.id, ip: ctx.ip, detail: { addressInUse: taken } }, manager);
      return true;
    });
    if (!sent) {
      page(ctx, 'email', { title: 'Change your email address', email, errors: [{ field: 'email', text: 'You have asked for too many security codes. Wait a few minutes and try again' }], csrfToken: csrfToken(ctx) }, 429);
      return;
    }
    page(ctx, 'check-email', { title: 'Check your email', email, csrfToken: csrfToken(ctx) });
  });

  router.post('/email/confirm', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/email')) return;
    const { account, binding } = me(ctx);
    const body = formBody(ctx);
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const code = normaliseSecurityCode(body.code);
    const again = (text: string, status = 400): void =>
      page(ctx, 'check-email', { title: 'Check your email', email, errors: [{ field: 'code', text }], csrfToken: csrfToken(ctx) }, status);
    if (!isEmailAddress(email)) return redirect(ctx, '/account/email');
    // A repeat of a confirmation that has already happened (a double click): the same answer, no code checked.
    if (normaliseEmail(email) === account.emailNormalised) return redirect(ctx, '/account?done=email');
    if (!SECURITY_CODE_PATTERN.test(code)) return again('Enter the security code, like 123456');
    // The code must have been sent to exactly this address: a changed hidden field cannot work.
    const verdict = await codes.verify({ accountId: account.id, purpose: 'change-email', journeyId: binding, code, destination: email });
    if (verdict !== 'valid') return again(verdict === 'expired' ? 'This security code has expired. Start again to get a new one' : 'The security code is not correct');
    const changed = await dataSource
      .transaction(async (manager) => {
        const [holder] = await queryRows<{ id: string; confirmed: boolean }>(
          manager,
          `SELECT id, (email_verified_at IS NOT NULL) AS confirmed FROM account WHERE email_normalised = $1 AND id <> $2 FOR UPDATE`,
          [normaliseEmail(email), account.id],
        );
        if (holder?.confirmed) return false;
        if (holder) {
          // An unfinished registration of the address: replaced, never continued, so its journey is void.
          await manager.query(`DELETE FROM account WHERE id = $1 AND email_verified_at IS NULL`, [holder.id]);
          await audit.record('account.registration_replaced', { accountId: holder.id, ip: ctx.ip, detail: { route: 'email-change' } }, manager);
        }
        await manager.query(`UPDATE account SET email = $2, email_normalised = $3, email_verified_at = now(), updated_at = now() WHERE id = $1`, [account.id, email, normaliseEmail(email)]);
        // Links went to the old address, which may be the one that is no longer the patient's.
        await invalidateResetLinks(manager, account.id);
        await notifications.enqueue(manager, { template: 'email-changed', to: account.email, data: {}, accountId: account.id });
        await audit.record('email.changed', { accountId: account.id, ip: ctx.ip }, manager);
        return true;
      })
      // Two accounts confirming the same address at once: the unique index lets one win (H1); the other is refused like any taken address.
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) return false;
        throw error;
      });
    if (!changed) return again('The security code is not correct');
    redirect(ctx, '/account?done=email');
  });

  // Slice 4: change mobile (a code to the new number; notices to the email and the old number).
  router.get('/mobile', requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, '/account/mobile')) return;
    page(ctx, 'mobile', { title: 'Change your mobile phone number', csrfToken: csrfToken(ctx) });
  });

  router.post('/mobile', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/mobile')) return;
    const { account, binding } = me(ctx);
    const raw = typeof formBody(ctx).mobile === 'string' ? String(formBody(ctx).mobile) : '';
    const parsed = parseUkMobile(raw);
    const mobile = parsed.ok ? parsed.e164 : undefined;
    let error: string | undefined;
    if (!parsed.ok) error = parsed.problem === 'missing' ? 'Enter your new mobile phone number' : parsed.message;
    else if (mobile === account.mobileNumber) error = 'This is already your mobile phone number. Enter a different one';
    if (error || !mobile) {
      page(ctx, 'mobile', { title: 'Change your mobile phone number', mobile: raw, errors: [{ field: 'mobile', text: error }], csrfToken: csrfToken(ctx) }, 400);
      return;
    }
    const sent = await dataSource.transaction(async (manager) => {
      const issued = await codes.issue(manager, { accountId: account.id, purpose: 'change-mobile', journeyId: binding, channel: 'sms', destination: mobile, ip: ctx.ip });
      if (!issued.ok) return undefined;
      const messageId = await notifications.enqueue(manager, { template: 'mobile-confirmation-code', to: mobile, data: { code: issued.code }, accountId: account.id, deliverBefore: issued.expiresAt, deliverAtOnce: true });
      return { codeId: issued.id, journeyId: binding, purpose: 'change-mobile' as const, messageId, accountId: account.id, ip: ctx.ip };
    });
    if (!sent) {
      page(ctx, 'mobile', { title: 'Change your mobile phone number', mobile: raw, errors: [{ field: 'mobile', text: 'You have asked for too many security codes. Wait a few minutes and try again' }], csrfToken: csrfToken(ctx) }, 429);
      return;
    }
    // Tried now, so the page can say whether it went (security-bar G3); the form stays filled in to try again.
    if (!(await textCodeAtOnce({ notifications, codes, audit }, sent))) {
      page(ctx, 'mobile', { title: 'Change your mobile phone number', mobile: raw, errors: [{ field: 'mobile', text: 'Sorry, we could not send a text message to this number. This is a problem with our service. Try again now or in a few minutes' }], reference: ERROR_REFERENCES.securityCodeNotSent, csrfToken: csrfToken(ctx) }, 503);
      return;
    }
    page(ctx, 'check-mobile', { title: 'Check your mobile phone', mobile, mobileEnding: mobile.slice(-4), expiresIn: minutesText(config.ttl.securityCode), csrfToken: csrfToken(ctx) });
  });

  router.post('/mobile/confirm', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/mobile')) return;
    const { account, binding } = me(ctx);
    const body = formBody(ctx);
    const parsed = parseUkMobile(body.mobile);
    const mobile = parsed.ok ? parsed.e164 : undefined;
    const code = normaliseSecurityCode(body.code);
    if (!mobile) return redirect(ctx, '/account/mobile');
    // A repeat of a confirmation that has already happened (a double click): the same answer, no code checked.
    if (mobile === account.mobileNumber) return redirect(ctx, '/account?done=mobile');
    const again = (text: string): void =>
      page(ctx, 'check-mobile', { title: 'Check your mobile phone', mobile, mobileEnding: mobile.slice(-4), expiresIn: minutesText(config.ttl.securityCode), errors: [{ field: 'code', text }], csrfToken: csrfToken(ctx) }, 400);
    if (!SECURITY_CODE_PATTERN.test(code)) return again('Enter the security code, like 123456');
    const verdict = await codes.verify({ accountId: account.id, purpose: 'change-mobile', journeyId: binding, code, destination: mobile });
    if (verdict !== 'valid') return again(verdict === 'expired' ? 'This security code has expired. Start again to get a new one' : 'The security code is not correct');
    await dataSource.transaction(async (manager) => {
      // Read the number being replaced in this transaction: the account object may be stale.
      const [current]: { mobile_number: string | null }[] = await manager.query('SELECT mobile_number FROM account WHERE id = $1 FOR UPDATE', [account.id]);
      const oldMobile = current?.mobile_number ?? null;
      await manager.query(`UPDATE account SET mobile_number = $2, mobile_verified_at = now(), phone_number_pds_matched = false, updated_at = now() WHERE id = $1`, [account.id, mobile]);
      await notifications.enqueue(manager, { template: 'mobile-changed', to: account.email, data: { mobileEnding: mobile.slice(-4) }, accountId: account.id });
      if (oldMobile && oldMobile !== mobile) await notifications.enqueue(manager, { template: 'mobile-changed-sms', to: oldMobile, data: {}, accountId: account.id });
      // A new second factor: devices remembered against the old one are forgotten (X2, B9), as on the "cannot access my mobile" route.
      const removed = await devices.removeAllDevices(account.id, manager);
      // The patient signed in here with a code to the current number (Your account needs Cd) and proved the
      // new one: a change held from "I cannot access my mobile" is set aside.
      await supersedeHeldChange(manager, account.id);
      await audit.record('mobile.changed', { accountId: account.id, ip: ctx.ip, detail: { route: 'account', devicesRemoved: removed } }, manager);
    });
    redirect(ctx, '/account?done=mobile');
  });

  // Slice 5: delete the account.
  router.get('/delete', requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, '/account/delete')) return;
    page(ctx, 'delete', { title: 'Delete your carelogin account', csrfToken: csrfToken(ctx) });
  });

  router.post('/delete', requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, '/account/delete')) return;
    const { account } = me(ctx);
    const password = typeof formBody(ctx).password === 'string' ? String(formBody(ctx).password) : '';
    const refused = await passwordProblem(ctx, password, 'delete');
    if (refused) {
      page(ctx, 'delete', { title: 'Delete your carelogin account', errors: [refused.error], csrfToken: csrfToken(ctx) }, refused.status);
      return;
    }
    const logouts = await dataSource.transaction(async (manager) => {
      // The notice is written first and kept (without the account id) so it is still delivered.
      await notifications.enqueue(manager, { template: 'account-deleted', to: account.email, data: {}, accountId: null });
      const signedIn = await logoutTargets(manager, account.id, {}, { everyService: true });
      await deleteAccountRows(manager, account.id, services.digest);
      await audit.record('account.deleted', { accountId: account.id, ip: ctx.ip }, manager);
      // The logout tokens name the account by `sub` (their own column), so they outlive it.
      return backchannelLogout.enqueue(manager, account.id, signedIn);
    });
    await backchannelLogout.deliverNow(logouts);
    clearSessionCookie(ctx);
    redirect(ctx, '/account/deleted');
  });

  const kit = { requireSignIn, forms, checkForm, recentlySignedIn, page, redirect, me, csrfToken, formBody };
  addAuthenticatorAppRoutes(router, services, kit);
  addPasskeyRoutes(router, services, kit);
  addRecoveryCodeRoutes(router, services, kit);
  return router;
}

/** "Ending in 982": enough to recognise the number, not enough to learn it from a shoulder or a screenshot. */
function maskMobile(e164: string): string {
  return `Ending in ${e164.slice(-4)}`;
}


/** Only our own account pages are places to return to (no open redirect). */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/account(\/[a-z-]*)?$/.test(value) ? value : '/account';
}

/** The parsed form, as plain string fields (repeated fields arrive as arrays and fail validation). */
function formBody(ctx: Context): Record<string, unknown> {
  const body: unknown = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
