import type { EntityManager } from 'typeorm';
import type { Account } from '../../../entities/account.js';
import { securityCodeCounterKey } from '../../../src/security/security-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { lockedView, minutesText } from '../pages.js';
import { codeSchema } from '../sms-code/index.js';
import { codeCheckOutcome, resendOutcome, sendSecurityCode, type SendResult } from '../security-code-step.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * "I cannot access my mobile", first step: prove the account's email address with a code sent to
 * it (purpose change-mobile). This proves no credential (X1: email is never Cd); it only lets the
 * patient name a new mobile number, which must then be proven by a code texted to it.
 */

export const PURPOSE = 'change-mobile';

type EmailCodeEvent = 'verified';

function accountOf(ctx: StepContext): Account {
  // The journey comes here only after the password, so the account is known.
  if (!ctx.account) throw new JourneyInvariantError('change-mobile-email-code reached without an account');
  return ctx.account;
}

function sendCode(ctx: StepContext, manager: EntityManager): Promise<SendResult> {
  const account = accountOf(ctx);
  return sendSecurityCode(ctx, manager, { accountId: account.id, purpose: PURPOSE, channel: 'email', to: account.email, template: 'sign-in-email-code' });
}

async function lockStatus(ctx: StepContext): Promise<{ locked: boolean; disabled: boolean; retryAfterSeconds: number }> {
  return ctx.services.counters.status(securityCodeCounterKey(accountOf(ctx).id, ctx.uid, PURPOSE));
}

export const changeMobileEmailCodeMethod = defineMethod({
  id: 'change-mobile-email-code',
  events: ['verified'] satisfies EmailCodeEvent[],
  schema: codeSchema,
  redisplay: [],

  async enter(ctx, manager) {
    const sent = await sendCode(ctx, manager);
    if (!sent.ok) ctx.log.info({ reason: sent.reason }, 'change-mobile email code not sent on arrival');
  },

  async present(ctx, presentation) {
    const status = await lockStatus(ctx);
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'security-code' });
    return {
      template: 'confirm-email-code.njk',
      data: { errors: presentation.errors, notice: presentation.notice, email: accountOf(ctx).email, expiresIn: minutesText(ctx.services.config.ttl.securityCode) },
    };
  },

  async submit(ctx, body): Promise<Outcome<EmailCodeEvent>> {
    const account = accountOf(ctx);
    const result = await ctx.services.codes.verify({ accountId: account.id, purpose: PURPOSE, journeyId: ctx.uid, code: body.code, destination: account.email });
    return codeCheckOutcome<EmailCodeEvent>(ctx, result, { accountId: account.id, purpose: PURPOSE }, async () => ({ kind: 'event', event: 'verified' }), async () =>
      lockedView({ ...(await lockStatus(ctx)), what: 'security-code' }));
  },

  actions: {
    resend: {
      async run(ctx) {
        const sent = await ctx.services.dataSource.transaction((manager) => sendCode(ctx, manager));
        return resendOutcome(sent, 'We have sent a new security code to your email address.', async () => lockedView({ ...(await lockStatus(ctx)), what: 'security-code' }));
      },
    },
  },
});
