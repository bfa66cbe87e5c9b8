import type { EntityManager } from 'typeorm';
import type { Account } from '../../../entities/account.js';
import { createRememberedDevices } from '../../../src/accounts/remembered-devices.js';
import { securityCodeCounterKey } from '../../../src/security/security-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { lockedView, minutesText } from '../pages.js';
import { codeSchema, mobileEnding } from '../sms-code/index.js';
import { CHANGE_NUMBER, codeCheckOutcome, codeTextView, resendOutcome, sendSecurityCode, type SendResult } from '../security-code-step.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * "I cannot access my mobile", last step: a code texted to the NEW number (A7: changing the phone
 * is binding a new authenticator, proven by a code sent to it). A right code proves that the person
 * holds the phone they chose, and nothing about the account (X1), so it proves no credential. In one
 * transaction the new number is put on hold (src/accounts/mobile-change.ts: the email address and the
 * old number get a cancel link), remembered devices are forgotten (an authenticator change, B9).
 */

export const PURPOSE = 'verify-mobile';

type ChangeCodeEvent = 'verified' | 'numberChangeRequested';

function stateOf(ctx: StepContext): { account: Account; newMobile: string } {
  const { account } = ctx;
  const newMobile = ctx.facts.newMobile;
  if (!account || !newMobile) throw new JourneyInvariantError('change-mobile-code reached without an account and a new mobile number');
  return { account, newMobile };
}

function sendCode(ctx: StepContext, manager: EntityManager): Promise<SendResult> {
  const { account, newMobile } = stateOf(ctx);
  return sendSecurityCode(ctx, manager, { accountId: account.id, purpose: PURPOSE, channel: 'sms', to: newMobile, template: 'mobile-confirmation-code' });
}

async function lockStatus(ctx: StepContext): Promise<{ locked: boolean; disabled: boolean; retryAfterSeconds: number }> {
  return ctx.services.counters.status(securityCodeCounterKey(stateOf(ctx).account.id, ctx.uid, PURPOSE));
}

/** The change, on hold, after the right code. */
async function holdChange(ctx: StepContext, account: Account, newMobile: string): Promise<void> {
  const { dataSource, audit, mobileChanges } = ctx.services;
  await dataSource.transaction(async (manager) => {
    // Read the number being replaced in this transaction: the account object may be stale.
    const [current]: { mobile_number: string | null; email: string }[] = await manager.query('SELECT mobile_number, email FROM account WHERE id = $1 FOR UPDATE', [account.id]);
    const held = await mobileChanges.hold(manager, { accountId: account.id, email: current?.email ?? account.email, oldMobile: current?.mobile_number ?? null, newMobile });
    const devices = await createRememberedDevices(dataSource, ctx.services.config).removeAllDevices(account.id, manager);
    await audit.record('mobile.change_held', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { route: 'cannot-access-mobile', devicesRemoved: devices, effectiveAt: held.effectiveAt.toISOString() } }, manager);
  });
}

export const changeMobileCodeMethod = defineMethod({
  id: 'change-mobile-code',
  events: ['verified', 'numberChangeRequested'] satisfies ChangeCodeEvent[],
  schema: codeSchema,
  redisplay: [],

  async enter(ctx, manager) {
    const sent = await sendCode(ctx, manager);
    if (!sent.ok) ctx.log.info({ reason: sent.reason }, 'new mobile confirmation code not sent on arrival');
  },

  async present(ctx, presentation) {
    const status = await lockStatus(ctx);
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'security-code' });
    const instead = await codeTextView(ctx, { destination: stateOf(ctx).newMobile, purpose: PURPOSE }, async () => [CHANGE_NUMBER]);
    if (instead) return instead;
    return {
      template: 'confirm-new-mobile.njk',
      data: { errors: presentation.errors, notice: presentation.notice, mobileEnding: mobileEnding(stateOf(ctx).newMobile), expiresIn: minutesText(ctx.services.config.ttl.securityCode) },
    };
  },

  async submit(ctx, body): Promise<Outcome<ChangeCodeEvent>> {
    const { account, newMobile } = stateOf(ctx);
    // Bound to the number it was sent to: a code for an earlier number typed here proves nothing.
    const result = await ctx.services.codes.verify({ accountId: account.id, purpose: PURPOSE, journeyId: ctx.uid, code: body.code, destination: newMobile });
    return codeCheckOutcome<ChangeCodeEvent>(ctx, result, { accountId: account.id, purpose: PURPOSE }, async () => {
      await holdChange(ctx, account, newMobile);
      return { kind: 'event', event: 'verified' };
    }, async () => lockedView({ ...(await lockStatus(ctx)), what: 'security-code' }));
  },

  actions: {
    resend: {
      async run(ctx) {
        const sent = await ctx.services.dataSource.transaction((manager) => sendCode(ctx, manager));
        return resendOutcome(sent, `We have sent a new security code to your mobile phone number ending in ${mobileEnding(stateOf(ctx).newMobile)}.`, async () =>
          lockedView({ ...(await lockStatus(ctx)), what: 'security-code' }));
      },
    },
    /** "Change the number": back to the number step. */
    'change-number': {
      async run() {
        return { kind: 'event', event: 'numberChangeRequested' };
      },
    },
  },
});
