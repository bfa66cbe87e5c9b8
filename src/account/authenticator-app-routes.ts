import type Router from '@koa/router';
import type { Context } from 'koa';
import { groupedSecret } from '../accounts/authenticator-app.js';
import { normaliseSecurityCode, SECURITY_CODE_PATTERN } from '../security/security-codes.js';
import type { AppServices } from '../services.js';
import { nhsDate } from '../web/dates.js';
import type { FieldError } from '../web/renderer.js';
import type { AccountRouteKit } from './route-kit.js';

const SETUP_PATH = '/authenticator-app';
const REMOVE_PATH = '/remove-authenticator-app';

const MESSAGES = {
  missing: 'Enter the security code',
  format: 'The security code must be 6 numbers',
  incorrect: 'The security code is not correct. Check the code your authenticator app shows and try again',
  expired: 'This page timed out. Scan the new QR code, or enter the new secret key, then enter the code your app shows',
} as const;

/**
 * Your account's authenticator app (Ck): set one up (or replace it) and remove it. Both need a
 * sign-in from the last 15 minutes (security-bar "Sessions"), as every change to how a person
 * signs in does, and both email the owner (`sign-in-method-changed`).
 *
 * Setting up shows a new secret as a QR code and as text; nothing is stored until a code from the
 * app proves it holds the secret. Between the two, the secret travels in the form sealed for this
 * account and this sign-in (src/accounts/authenticator-app.ts), so a setup page cannot be finished
 * in another session or after 30 minutes.
 */
export function addAuthenticatorAppRoutes(router: Router, services: AppServices, kit: AccountRouteKit): void {
  const { authenticatorApps } = services;
  const { requireSignIn, forms, checkForm, recentlySignedIn, page, redirect, me, csrfToken } = kit;

  function showSetup(ctx: Context, options: { token?: string; secret?: string; errors?: FieldError[] } = {}, status = 200): void {
    const { account, binding } = me(ctx);
    const pending = options.token && options.secret ? { token: options.token, secret: options.secret } : authenticatorApps.begin(account.id, binding);
    const { qrSvg } = authenticatorApps.enrolment(pending.secret, account.email);
    page(ctx, 'authenticator-app', {
      title: 'Set up an authenticator app',
      qrSvg,
      secretKey: groupedSecret(pending.secret),
      setup: pending.token,
      replacing: account.authenticatorAddedAt ? nhsDate(account.authenticatorAddedAt) : undefined,
      errors: options.errors,
      csrfToken: csrfToken(ctx),
    }, status);
  }

  router.get(SETUP_PATH, requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, `/account${SETUP_PATH}`)) return;
    showSetup(ctx);
  });

  router.post(SETUP_PATH, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${SETUP_PATH}`)) return;
    const { account, binding } = me(ctx);
    const body = kit.formBody(ctx);
    const token = typeof body.setup === 'string' ? body.setup : '';
    const secret = authenticatorApps.pending(token, account.id, binding);
    // A page left open too long (or from another sign-in): a new secret, and say why.
    if (!secret) return showSetup(ctx, { errors: [{ field: 'code', text: MESSAGES.expired }] }, 400);
    const code = typeof body.code === 'string' ? normaliseSecurityCode(body.code) : '';
    const problem = !code ? MESSAGES.missing : !SECURITY_CODE_PATTERN.test(code) ? MESSAGES.format : undefined;
    if (problem) return showSetup(ctx, { token, secret, errors: [{ field: 'code', text: problem }] }, 400);
    if (!(await authenticatorApps.add(account, secret, code, { ip: ctx.ip }))) {
      await services.audit.record('authenticator_app.setup_failed', { accountId: account.id, ip: ctx.ip });
      return showSetup(ctx, { token, secret, errors: [{ field: 'code', text: MESSAGES.incorrect }] }, 400);
    }
    redirect(ctx, '/account?done=authenticator-app');
  });

  router.get(REMOVE_PATH, requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, `/account${REMOVE_PATH}`)) return;
    const { account } = me(ctx);
    if (!account.authenticatorAddedAt) return redirect(ctx, '/account');
    page(ctx, 'remove-authenticator-app', {
      title: 'Remove your authenticator app',
      hasMobile: Boolean(account.mobileVerifiedAt),
      csrfToken: csrfToken(ctx),
    });
  });

  router.post(REMOVE_PATH, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${REMOVE_PATH}`)) return;
    const { account } = me(ctx);
    // Removed already (a double click, another tab): the outcome the person wanted.
    await authenticatorApps.remove(account, { ip: ctx.ip });
    redirect(ctx, '/account?done=authenticator-app-removed');
  });
}
