import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { emailAddressField } from '../accounts/email-address.js';
import { createPasswordReset } from '../accounts/password-reset.js';
import { isLinkTokenShaped, linkTokenHash } from '../security/link-token.js';
import { durationText } from '../notifications/templates.js';
import { PASSWORD_MESSAGES } from '../accounts/password-policy.js';
import type { AppServices } from '../services.js';
import { createLinkPages } from './link-pages.js';
import { ERROR_REFERENCES } from './error-references.js';
import type { FieldError } from './renderer.js';

/**
 * "Forgotten your password?" outside /interaction, because the emailed link must work in any
 * browser (oidc-provider pitfall 4: an interaction is bound to the browser that started it).
 *
 * GET  /forgotten-password[?interaction=uid]  enter your email address
 * POST /forgotten-password                    always the same "check your email" page (F2)
 * GET  /reset-password/:token                 "Create a new password", or "this link has expired"
 * POST /reset-password/:token                 sets it; back to the sign-in in the browser that asked, else "go back to the service"
 *
 * The browser that asked gets a cookie naming its sign-in (an interaction uid, nothing personal),
 * so the same browser can be sent back to the password step; any other browser cannot.
 */

const UID = /^[A-Za-z0-9_-]{1,255}$/;

/** The browser's own sign-in, for after the reset. `__Host-` needs Secure, which http://localhost cannot keep. */
export function resetCookieName(issuer: string): string {
  return issuer.startsWith('https://') ? '__Host-carelogin-reset' : 'carelogin-reset';
}

const emailSchema = z.object({
  // The one email address rule (src/accounts/email-address.ts): no NUL or other character the database or the outbox refuses.
  email: emailAddressField(),
  interaction: z.string().regex(UID).optional().catch(undefined),
});

const MISMATCH = 'The passwords do not match. Enter the same password twice';

const newPasswordSchema = z.object({
  // Never trimmed: spaces are part of a password (X3).
  password: z.string({ error: PASSWORD_MESSAGES.missing }).min(1, PASSWORD_MESSAGES.missing),
  confirmPassword: z.string({ error: 'Re-enter your new password' }).min(1, 'Re-enter your new password'),
});

function firstErrors(error: z.ZodError): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    if (!errors.some((e) => e.field === field)) errors.push({ field, text: issue.message });
  }
  return errors;
}

export function createPasswordResetRouter(services: AppServices): Router {
  const { config, csrf, provider } = services;
  const https = config.issuer.startsWith('https://');
  const cookieName = resetCookieName(config.issuer);
  const resets = createPasswordReset(services);
  const linkLifetime = durationText(Math.max(1, Math.round(config.ttl.resetLink / 60)));
  const router = new Router();
  const { page, body, forms, guard, checkForm } = createLinkPages(services, { what: 'password reset', defaults: { linkLifetime } });

  function setResetCookie(ctx: Context, value: string, maxAge: number): void {
    ctx.append('Set-Cookie', `${cookieName}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax${https ? '; Secure' : ''}`);
  }

  const requestBinding = (): string => 'forgotten-password';
  const linkBinding = (ctx: Context): string => `reset-password:${linkTokenHash(String(ctx.params.token))}`;

  router.use(['/forgotten-password', '/reset-password'], guard);

  router.get('/forgotten-password', (ctx) => {
    const interaction = typeof ctx.query.interaction === 'string' && UID.test(ctx.query.interaction) ? ctx.query.interaction : undefined;
    page(ctx, 200, 'password-reset/forgotten-password.njk', {
      formAction: '/forgotten-password',
      csrfToken: csrf.token(requestBinding()),
      interaction,
      backHref: interaction ? `/interaction/${encodeURIComponent(interaction)}` : undefined,
    });
  });

  router.post('/forgotten-password', forms, checkForm(requestBinding), async (ctx) => {
    const parsed = emailSchema.safeParse(body(ctx));
    if (!parsed.success) {
      const email = body(ctx).email;
      const interaction = body(ctx).interaction;
      page(ctx, 400, 'password-reset/forgotten-password.njk', {
        formAction: '/forgotten-password',
        csrfToken: csrf.token(requestBinding()),
        errors: firstErrors(parsed.error),
        values: { email: typeof email === 'string' ? email : '' },
        interaction: typeof interaction === 'string' && UID.test(interaction) ? interaction : undefined,
      });
      return;
    }
    await resets.request(parsed.data.email, { interactionUid: parsed.data.interaction, ip: ctx.ip });
    // Set whether or not the address has an account, so the answer does not differ (F2).
    if (parsed.data.interaction) setResetCookie(ctx, parsed.data.interaction, config.ttl.resetLink);
    ctx.status = 303;
    ctx.redirect('/forgotten-password/check-your-email');
  });

  /** "Ask for a new link" keeps this browser's sign-in (the reset cookie names it), so the new link brings it back too. */
  function newLinkHref(ctx: Context): string {
    const started = ctx.cookies.get(cookieName, { signed: false });
    return started && UID.test(started) ? `/forgotten-password?interaction=${encodeURIComponent(started)}` : '/forgotten-password';
  }

  router.get('/forgotten-password/check-your-email', (ctx) => {
    page(ctx, 200, 'password-reset/check-your-email.njk', { expiresIn: linkLifetime, newLinkHref: newLinkHref(ctx) });
  });

  async function showNewPassword(ctx: Context, status: number, errors?: FieldError[]): Promise<void> {
    page(ctx, status, 'password-reset/create-new-password.njk', {
      formAction: `/reset-password/${String(ctx.params.token)}`,
      csrfToken: csrf.token(linkBinding(ctx)),
      errors,
    });
  }

  /** The page for a link that does not work, saying why (expired, used or broken) with NHS login's reference. */
  async function deadLink(ctx: Context, token: string): Promise<void> {
    const reason = await resets.deadLinkReason(token);
    const reference = { expired: ERROR_REFERENCES.resetLinkExpired, used: ERROR_REFERENCES.resetLinkUsed, broken: ERROR_REFERENCES.resetLinkBroken }[reason];
    page(ctx, reason === 'broken' ? 404 : 400, 'password-reset/link-expired.njk', { newLinkHref: newLinkHref(ctx), reason, reference });
  }

  router.get('/reset-password/:token', async (ctx) => {
    const token = String(ctx.params.token);
    if (!isLinkTokenShaped(token) || !(await resets.find(token))) return deadLink(ctx, token);
    await showNewPassword(ctx, 200);
  });

  router.post('/reset-password/:token', forms, checkForm(linkBinding), async (ctx) => {
    const token = String(ctx.params.token);
    const parsed = newPasswordSchema.safeParse(body(ctx));
    if (!(await resets.find(token))) return deadLink(ctx, token);
    if (!parsed.success) return showNewPassword(ctx, 400, firstErrors(parsed.error));
    if (parsed.data.password !== parsed.data.confirmPassword) return showNewPassword(ctx, 400, [{ field: 'confirmPassword', text: MISMATCH }]);
    const outcome = await resets.complete(token, parsed.data.password, { ip: ctx.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'policy') return showNewPassword(ctx, 400, [{ field: 'password', text: PASSWORD_MESSAGES[outcome.problem] }]);
      return deadLink(ctx, token);
    }
    const started = ctx.cookies.get(cookieName, { signed: false });
    setResetCookie(ctx, '', 0);
    // Only the browser that asked, and only while its sign-in is still running, goes back to it
    // (at the password step: the new password AND the security code are still needed, A6).
    if (started && outcome.interactionUid && started === outcome.interactionUid && (await provider.Interaction.find(started))) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${encodeURIComponent(started)}`);
      return;
    }
    page(ctx, 200, 'password-reset/password-changed.njk');
  });

  return router;
}
