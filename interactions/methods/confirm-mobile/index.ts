import type { EntityManager } from 'typeorm';
import type { Account } from '../../../entities/account.js';
import { setVerifiedMobile } from '../../../src/accounts/registration.js';
import { securityCodeCounterKey } from '../../../src/security/security-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { lockedView, minutesText } from '../pages.js';
import { codeSchema, MESSAGES, mobileEnding } from '../sms-code/index.js';
import { defineMethod, type Outcome, type StepContext, type View } from '../types.js';
import { CHANGE_NUMBER, codeTextView, resendOutcome, sendSecurityCode, type SendResult } from '../security-code-step.js';

/**
 * "Check your mobile phone" for a number being ADDED to an account that has none (creating an
 * account, or signing in without a verified mobile). A code is texted to the number once on
 * arrival (purpose verify-mobile, bound to the account, this journey and this number: B1) and
 * again on "Send a new code" (limited per journey, B4); wrong answers lock the step (X4, X8).
 * A right code proves Cd (amr sms): the number is recorded as verified in the same transaction.
 * "Change number" goes back to the number page, showing what was typed.
 */

export const PURPOSE = 'verify-mobile';

type ConfirmMobileEvent = 'verified' | 'changeNumberRequested';

function stateOf(ctx: StepContext): { account: Account; mobile: string } {
  const { account } = ctx;
  const mobile = ctx.facts.newMobile;
  if (!account?.emailVerifiedAt || !mobile) throw new JourneyInvariantError('confirm-mobile reached without a confirmed account and a mobile number');
  return { account, mobile };
}

function sendCode(ctx: StepContext, manager: EntityManager): Promise<SendResult> {
  const { account, mobile } = stateOf(ctx);
  return sendSecurityCode(ctx, manager, { accountId: account.id, purpose: PURPOSE, channel: 'sms', to: mobile, template: 'mobile-confirmation-code' });
}

async function locked(ctx: StepContext): Promise<View> {
  const status = await ctx.services.counters.status(securityCodeCounterKey(stateOf(ctx).account.id, ctx.uid, PURPOSE));
  return lockedView({ ...status, what: 'security-code' });
}

export const confirmMobileMethod = defineMethod({
  id: 'confirm-mobile',
  proves: { credential: 'Cd', amr: 'sms', event: 'verified' },
  events: ['verified', 'changeNumberRequested'] satisfies ConfirmMobileEvent[],
  schema: codeSchema,
  redisplay: [],

  async enter(ctx, manager) {
    const sent = await sendCode(ctx, manager);
    // Not an error here: the page explains a lock or the send limit when shown.
    if (!sent.ok) ctx.log.info({ reason: sent.reason }, 'mobile confirmation code not sent on arrival');
  },

  async present(ctx, presentation) {
    const { account, mobile } = stateOf(ctx);
    const status = await ctx.services.counters.status(securityCodeCounterKey(account.id, ctx.uid, PURPOSE));
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'security-code' });
    const instead = await codeTextView(ctx, { destination: mobile, purpose: PURPOSE }, async () => [CHANGE_NUMBER]);
    if (instead) return instead;
    return {
      template: 'confirm-mobile.njk',
      data: { errors: presentation.errors, notice: presentation.notice, mobileEnding: mobileEnding(mobile), expiresIn: minutesText(ctx.services.config.ttl.securityCode) },
    };
  },

  async submit(ctx, body): Promise<Outcome<ConfirmMobileEvent>> {
    const { account, mobile } = stateOf(ctx);
    const { audit, codes, dataSource, notifications } = ctx.services;
    const result = await codes.verify({ accountId: account.id, purpose: PURPOSE, journeyId: ctx.uid, code: body.code, destination: mobile });
    if (result === 'valid') {
      const saved = await dataSource.transaction(async (manager) => {
        if (!(await setVerifiedMobile(manager, account.id, mobile))) return false;
        // Signing in and adding a number is how a takeover would look: the address's owner is told.
        if (ctx.journey !== 'create-account') {
          await notifications.enqueue(manager, { template: 'mobile-changed', to: account.email, data: { mobileEnding: mobileEnding(mobile) }, accountId: account.id });
        }
        await audit.record('mobile.added', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { journey: ctx.journey } }, manager);
        return true;
      });
      if (!saved) throw new JourneyInvariantError('the account being given a mobile number has gone or is unconfirmed');
      return { kind: 'event', event: 'verified' };
    }
    if (result === 'locked') {
      await audit.record('security_code.locked', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: PURPOSE } });
      return { kind: 'page', view: await locked(ctx) };
    }
    await audit.record('security_code.failed', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: PURPOSE, reason: result } });
    return { kind: 'retry', errors: [{ field: 'code', text: result === 'expired' ? MESSAGES.expired : MESSAGES.incorrect }] };
  },

  actions: {
    /** "Send a new code". The wrong-answer count carries over to the new code (B2). */
    resend: {
      async run(ctx): Promise<Outcome<ConfirmMobileEvent>> {
        const { mobile } = stateOf(ctx);
        const sent = await ctx.services.dataSource.transaction((manager) => sendCode(ctx, manager));
        return resendOutcome(sent, `We have sent a new security code to your mobile phone number ending in ${mobileEnding(mobile)}.`, () => locked(ctx));
      },
    },
    /** "Change number": back to the number page, which shows the number typed. */
    'change-number': {
      async run(): Promise<Outcome<ConfirmMobileEvent>> {
        return { kind: 'event', event: 'changeNumberRequested' };
      },
    },
  },
});
