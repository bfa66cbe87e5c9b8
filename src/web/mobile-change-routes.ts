import Router from '@koa/router';
import type { Context } from 'koa';
import { CANCEL_PATH } from '../accounts/mobile-change.js';
import { isLinkTokenShaped, linkTokenHash } from '../security/link-token.js';
import type { AppServices } from '../services.js';
import { nhsDateTime } from './dates.js';
import { createLinkPages } from './link-pages.js';

/**
 * The link that cancels a held change of mobile number (security-bar X1), sent to the email
 * address and to the number being replaced:
 *
 * GET  /cancel-mobile/:token   what the change is, and a "Cancel the change" button (a GET changes
 *                              nothing: mail scanners and link previews open links)
 * POST /cancel-mobile/:token   cancels it, once, and signs everyone out
 *
 * A link already used, too late (the change has taken effect) or not recognised each gets its own
 * page. Nothing here needs a sign-in: the owner may have lost both the phone and the password.
 */
export function createMobileChangeRouter(services: AppServices): Router {
  const { csrf, mobileChanges } = services;
  const router = new Router();
  const { page, forms, guard, checkForm } = createLinkPages(services, { what: 'cancel mobile change' });
  const binding = (ctx: Context): string => `cancel-mobile:${linkTokenHash(String(ctx.params.token))}`;
  const STATUS = { cancelled: 400, 'too-late': 400, unknown: 404 } as const;

  router.use(`${CANCEL_PATH}/:token`, guard);

  router.get(`${CANCEL_PATH}/:token`, async (ctx) => {
    const token = String(ctx.params.token);
    const link = await mobileChanges.inspect(token);
    if (link.state !== 'pending') {
      page(ctx, STATUS[link.state], 'mobile-change/cancel.njk', { state: link.state });
      return;
    }
    page(ctx, 200, 'mobile-change/cancel.njk', {
      state: 'pending',
      mobileEnding: link.newMobile.slice(-4),
      effective: nhsDateTime(link.effectiveAt),
      formAction: `${CANCEL_PATH}/${token}`,
      csrfToken: csrf.token(binding(ctx)),
    });
  });

  router.post(`${CANCEL_PATH}/:token`, forms, checkForm(binding), async (ctx) => {
    const token = String(ctx.params.token);
    if (!isLinkTokenShaped(token)) {
      page(ctx, 404, 'mobile-change/cancel.njk', { state: 'unknown' });
      return;
    }
    const outcome = await mobileChanges.cancel(token, { ip: ctx.ip });
    page(ctx, outcome === 'done' ? 200 : STATUS[outcome], 'mobile-change/cancel.njk', { state: outcome });
  });

  return router;
}
