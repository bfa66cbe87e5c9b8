import type Router from '@koa/router';
import type { Context } from 'koa';
import { NotFoundError } from '../errors.js';
import type { AppServices } from '../services.js';
import type { FieldError } from '../web/renderer.js';
import type { AccountRouteKit } from './route-kit.js';

const PATH = '/passkeys';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MESSAGES = {
  missing: 'Your passkey was not created. Select "Create a passkey" and follow what your device asks',
  invalid: 'We could not create your passkey. Try again, or use another device',
  expired: 'This page timed out. Select "Create a passkey" again',
  duplicate: 'This passkey is already saved to your account',
} as const;

/**
 * Your account's passkeys (Cm): list them, create one, remove one. Creating and removing need a
 * sign-in from the last 15 minutes, and each emails the owner (`sign-in-method-changed`). Creating
 * needs JavaScript (WebAuthn is a browser API); without it the page says so and lists what is there.
 */
export function addPasskeyRoutes(router: Router, services: AppServices, kit: AccountRouteKit): void {
  const { passkeys } = services;
  const { requireSignIn, forms, checkForm, recentlySignedIn, page, redirect, me, csrfToken } = kit;

  async function show(ctx: Context, errors?: FieldError[], status = 200): Promise<void> {
    const { account, binding } = me(ctx);
    const { options, token } = await passkeys.registrationOptions(account, binding);
    page(ctx, 'passkeys', {
      title: 'Passkeys',
      passkeys: await passkeys.list(account.id),
      options,
      registration: token,
      errors,
      csrfToken: csrfToken(ctx),
    }, status);
  }

  router.get(PATH, requireSignIn, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${PATH}`)) return;
    await show(ctx);
  });

  router.post(PATH, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${PATH}`)) return;
    const { account, binding } = me(ctx);
    const body = kit.formBody(ctx);
    const credential = typeof body.credential === 'string' ? body.credential : '';
    const token = typeof body.registration === 'string' ? body.registration : '';
    if (!credential) return show(ctx, [{ field: 'passkey', text: MESSAGES.missing }], 400);
    let response: unknown;
    try {
      response = JSON.parse(credential);
    } catch {
      response = undefined;
    }
    const result = await passkeys.register(account, binding, token, response, ctx.get('user-agent'), { ip: ctx.ip });
    if (result !== 'added') {
      await services.audit.record('passkey.add_failed', { accountId: account.id, ip: ctx.ip, detail: { reason: result } });
      return show(ctx, [{ field: 'passkey', text: MESSAGES[result] }], 400);
    }
    redirect(ctx, '/account?done=passkey');
  });

  router.post(`${PATH}/:id/remove`, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${PATH}`)) return;
    const id = String(ctx.params.id);
    if (!UUID.test(id) || !(await passkeys.remove(me(ctx).account, id, { ip: ctx.ip }))) throw new NotFoundError();
    redirect(ctx, '/account?done=passkey-removed');
  });
}
