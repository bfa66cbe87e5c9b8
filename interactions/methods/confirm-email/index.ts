import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { normaliseEmail } from '../../../entities/account.js';
import { CONFIRM_EMAIL_PURPOSE, confirmEmail, issueEmailConfirmationCode, mayEmailForRegistration, sendEmailConfirmationCode } from '../../../src/accounts/registration.js';
import { queryRows } from '../../../src/db/sql.js';
import { securityCodeCounterKey } from '../../../src/security/security-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { lockedView, minutesText, tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome, type StepContext, type View } from '../types.js';
import { resendOutcome } from '../security-code-step.js';

/**
 * "Check your email": the 6-digit code that confirms an account's email address (purpose
 * confirm-email, 10 minutes, X4/X8/B1–B4 through SecurityCodes).
 *
 * Codes are bound to this journey, the purpose and the address, never to an account id, so the
 * send limit and the wrong-answer lock behave the same whether or not the address had an account.
 * When registration found an existing account (the journey has no account), the page, messages,
 * limits and lock are identical, a code is issued for each send but never sent, and even a
 * guessed code confirms nothing: the person learns nothing about the address (F2, H1).
 *
 * Used by create-account (after the first page) and by sign-in, for an account whose registration
 * was never confirmed (the person signed in with its password, so it is theirs to confirm).
 */

export const CONFIRM_EMAIL_MESSAGES = {
  missing: 'Enter the security code',
  format: 'The security code must be 6 numbers',
  incorrect: 'The security code is not correct',
  expired: 'The security code has expired – request a new code',
} as const;

const schema = z.object({
  code: z
    .string({ error: CONFIRM_EMAIL_MESSAGES.missing })
    .transform((value) => value.replace(/[\s-]+/g, ''))
    .pipe(z.string().min(1, CONFIRM_EMAIL_MESSAGES.missing).regex(/^\d{6}$/, CONFIRM_EMAIL_MESSAGES.format)),
});

type ConfirmEmailEvent = 'confirmed';

/** The address being confirmed, as the person typed it. */
function addressOf(ctx: StepContext): string {
  const email = ctx.facts.email ?? ctx.account?.email;
  if (!email) throw new JourneyInvariantError('confirm-email step reached without an email address');
  return email;
}

/** The account whose address this journey confirms, or null when there is none to confirm. */
function pendingAccount(ctx: StepContext): { id: string; email: string } | null {
  const account = ctx.account;
  if (!account || account.emailVerifiedAt || account.status !== 'active') return null;
  // The journey's address and the account's must agree; anything else confirms nothing.
  if (account.emailNormalised !== normaliseEmail(addressOf(ctx))) return null;
  return { id: account.id, email: account.email };
}

/**
 * The journey's own account already has this address confirmed: the right code was used and
 * confirmEmail committed, but moving the journey on did not (an outage or a crash in between), or
 * another journey of the same person confirmed it. The code is spent and no new one is sent to a
 * confirmed address, so the step would otherwise be stuck; it is done, and moves on. Never true
 * for a registration that found an existing account (its journey has no account, F2).
 */
function alreadyConfirmed(ctx: StepContext): boolean {
  const account = ctx.account;
  return account !== null && account.emailVerifiedAt !== null && account.status === 'active' && account.emailNormalised === normaliseEmail(addressOf(ctx));
}

function movedOn(ctx: StepContext): Outcome<ConfirmEmailEvent> {
  ctx.log.info({ event: 'confirm_email.already_confirmed' }, 'email address already confirmed; the journey moves on');
  return { kind: 'event', event: 'confirmed' };
}

async function liveCodeExists(manager: EntityManager, journeyId: string): Promise<boolean> {
  const rows = await queryRows(
    manager,
    `SELECT 1 FROM security_code WHERE journey_id = $1 AND purpose = $2 AND consumed_at IS NULL AND invalidated_at IS NULL AND expires_at > now() LIMIT 1`,
    [journeyId, CONFIRM_EMAIL_PURPOSE],
  );
  return rows.length > 0;
}

type SendResult = { ok: true } | { ok: false; reason: 'too_many_sends' | 'locked'; retryAfterSeconds: number };

/** Issues a code for this journey and, when there is an account to confirm, queues it: one transaction. */
async function sendCode(ctx: StepContext, manager: EntityManager): Promise<SendResult> {
  const { codes, notifications, audit } = ctx.services;
  const issued = await issueEmailConfirmationCode(codes, manager, ctx.uid, addressOf(ctx));
  if (!issued.ok) return issued;
  const account = pendingAccount(ctx);
  // Counted for every address, sent only to a real unconfirmed account: both cases cost the same.
  const mayEmail = await mayEmailForRegistration(ctx.services, manager, addressOf(ctx));
  if (account && mayEmail) {
    await sendEmailConfirmationCode(notifications, manager, { accountId: account.id, email: account.email }, issued);
    await audit.record('security_code.sent', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: CONFIRM_EMAIL_PURPOSE, channel: 'email' } }, manager);
  }
  return { ok: true };
}

async function lockStatus(ctx: StepContext): Promise<{ locked: boolean; disabled: boolean; retryAfterSeconds: number }> {
  return ctx.services.counters.status(securityCodeCounterKey(null, ctx.uid, CONFIRM_EMAIL_PURPOSE));
}

async function locked(ctx: StepContext): Promise<View> {
  return lockedView({ ...(await lockStatus(ctx)), what: 'security-code' });
}

export const confirmEmailMethod = defineMethod({
  id: 'confirm-email',
  events: ['confirmed'] satisfies ConfirmEmailEvent[],
  schema,
  redisplay: [],

  async enter(ctx, manager) {
    // Registration issued (and queued) the first code in its own transaction; do not send a second.
    if (await liveCodeExists(manager, ctx.uid)) return;
    const sent = await sendCode(ctx, manager);
    if (!sent.ok) ctx.log.info({ reason: sent.reason }, 'email confirmation code not sent on arrival');
  },

  async arrive(ctx) {
    // Also on every view of the page, so a journey left behind by a failed move continues.
    return alreadyConfirmed(ctx) ? movedOn(ctx) : undefined;
  },

  async present(ctx, presentation) {
    const status = await lockStatus(ctx);
    if (status.locked || status.disabled) return locked(ctx);
    return {
      template: 'confirm-email.njk',
      data: { errors: presentation.errors, notice: presentation.notice, email: addressOf(ctx), expiresIn: minutesText(ctx.services.config.ttl.securityCode) },
    };
  },

  async submit(ctx, body): Promise<Outcome<ConfirmEmailEvent>> {
    const { audit, codes, counters, dataSource } = ctx.services;
    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    // The same code submitted again after its first submission confirmed the address but the move failed.
    if (alreadyConfirmed(ctx)) return movedOn(ctx);
    const account = pendingAccount(ctx);
    const result = await codes.verify({ accountId: null, purpose: CONFIRM_EMAIL_PURPOSE, journeyId: ctx.uid, code: body.code, destination: normaliseEmail(addressOf(ctx)) });
    // Only a right code for a real, unconfirmed account of this journey confirms anything.
    if (result === 'valid' && account && (await confirmEmail(dataSource, account.id))) {
      await audit.record('account.email_confirmed', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip });
      return { kind: 'event', event: 'confirmed' };
    }
    if (result === 'locked') {
      await audit.record('security_code.locked', { accountId: account?.id, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: CONFIRM_EMAIL_PURPOSE } });
      return { kind: 'page', view: await locked(ctx) };
    }
    // Wrong codes count across journeys from one network too, so new journeys do not buy new guesses (A4).
    await counters.recordIpFailure(ctx.ip);
    await audit.record('security_code.failed', { accountId: account?.id, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: CONFIRM_EMAIL_PURPOSE, reason: result } });
    return { kind: 'retry', errors: [{ field: 'code', text: result === 'expired' ? CONFIRM_EMAIL_MESSAGES.expired : CONFIRM_EMAIL_MESSAGES.incorrect }] };
  },

  actions: {
    /** "Send a new code": the wrong-answer count carries over (B2); sends are limited per journey (B4). */
    resend: {
      async run(ctx): Promise<Outcome<ConfirmEmailEvent>> {
        // Nothing is sent to a confirmed address; rather than say a code was sent, move on.
        if (alreadyConfirmed(ctx)) return movedOn(ctx);
        const sent = await ctx.services.dataSource.transaction((manager) => sendCode(ctx, manager));
        return resendOutcome(sent, `We have sent a new security code to ${addressOf(ctx)}.`, () => locked(ctx));
      },
    },
  },
});
