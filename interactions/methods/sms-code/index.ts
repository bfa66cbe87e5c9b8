import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import type { Account } from '../../../entities/account.js';
import { acceptsFixedCode } from '../../../src/accounts/personas.js';
import { lockoutKeys } from '../../../src/security/attempt-counters.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { recoveryCodeOffered, wouldComplete } from '../../engine/guards.js';
import { lockedView, minutesText } from '../pages.js';
import { deviceRemembered, rememberThisDevice } from '../remembered-device.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';
import { codeCheckOutcome, codeTextView, MESSAGES, mobileEnding, resendOutcome, sendSecurityCode, type CodeAlternative, type SendResult } from '../security-code-step.js';

/**
 * The sign-in security code sent by text message (Cd, amr "sms"). A code is sent once when the
 * journey arrives at this step (not on every page view) and again only when asked for. Codes are
 * bound to the account, the purpose and this interaction (B1); SecurityCodes owns expiry, single
 * use, the wrong-answer count that a new code never resets, and the lock (X4, X8, B2, B3).
 */

export const PURPOSE = 'sign-in';
export { MESSAGES, mobileEnding };

/** A 6-digit security code field, shared by every page that asks for one. */
export const codeField = z
  .string({ error: MESSAGES.missing })
  // People copy codes with spaces ("190 696") or type them in groups; the digits are what count.
  .transform((value) => value.replace(/[\s-]+/g, ''))
  .pipe(z.string().min(1, MESSAGES.missing).regex(/^\d{6}$/, MESSAGES.format));

export const codeSchema = z.object({ code: codeField });

const schema = z.object({
  /** "Remember this device and stop sending security codes" (X2): the checkbox's value when ticked. */
  rememberDevice: z.literal('yes').optional().catch(undefined),
  code: codeField,
});

type SmsCodeEvent = 'verified' | 'mobileUnavailable' | 'authenticatorAppRequested' | 'recoveryCodeRequested';

function mobileOf(ctx: StepContext): { account: Account; mobile: string } {
  const account = ctx.account;
  // The journeys only come here for an account with a verified mobile (guard hasVerifiedMobile).
  if (!account?.mobileNumber || !account.mobileVerifiedAt) throw new JourneyInvariantError('sms-code step reached without an account that has a verified mobile number');
  return { account, mobile: account.mobileNumber };
}

/** Test personas (and test users made with --fixed-code) get the documented fixed code, never in production and never for real accounts. */
function fixedCodeFor(ctx: StepContext, account: Account): string | undefined {
  const { config } = ctx.services;
  return config.mode !== 'production' && acceptsFixedCode(account.testPersona) && config.personas.securityCode ? config.personas.securityCode : undefined;
}

function sendCode(ctx: StepContext, manager: EntityManager): Promise<SendResult> {
  const { account, mobile } = mobileOf(ctx);
  return sendSecurityCode(ctx, manager, { accountId: account.id, purpose: PURPOSE, channel: 'sms', to: mobile, template: 'sign-in-security-code', fixedCode: fixedCodeFor(ctx, account), testPersona: account.testPersona });
}

/**
 * The account has an authenticator app that is not turned off (X8 hard cap), and a code from it
 * would meet a vector the service asked for.
 */
async function appCompletes(ctx: StepContext): Promise<boolean> {
  if (ctx.facts.hasAuthenticatorApp !== true || !wouldComplete(ctx.facts, 'Ck') || !ctx.account) return false;
  return !(await ctx.services.counters.status(lockoutKeys.authenticatorApp(ctx.account.id))).disabled;
}

async function lockStatus(ctx: StepContext, accountId: string): Promise<{ locked: boolean; disabled: boolean; retryAfterSeconds: number }> {
  return ctx.services.counters.status(lockoutKeys.securityCode(accountId, PURPOSE));
}

/** The ways on when the text could not be sent (G3): the same ones the code page offers. */
async function alternatives(ctx: StepContext): Promise<CodeAlternative[]> {
  return [
    ...((await appCompletes(ctx)) ? [{ action: 'use-authenticator-app', heading: 'Use your authenticator app', text: 'You can enter the security code your authenticator app shows instead.', button: 'Use your authenticator app instead' }] : []),
    ...(recoveryCodeOffered(ctx.facts) ? [{ action: 'use-recovery-code', heading: 'If you have recovery codes', text: 'You can sign in with one of the recovery codes you saved when you set them up.', button: 'Use a recovery code' }] : []),
    { action: 'cannot-access-mobile', heading: 'Get a code by email instead', text: 'We can send a security code to your email address, then you can add a mobile number again.', button: 'I cannot access my mobile' },
  ];
}

export const smsCodeMethod = defineMethod({
  id: 'sms-code',
  proves: { credential: 'Cd', amr: 'sms', event: 'verified' },
  events: ['verified', 'mobileUnavailable', 'authenticatorAppRequested', 'recoveryCodeRequested'] satisfies SmsCodeEvent[],
  schema,
  redisplay: [],

  async enter(ctx, manager) {
    // A remembered browser is not sent a code it will not need; arrive() moves it on.
    if (await deviceRemembered(ctx, false, manager)) return;
    // A refusal (locked, too many sends) is not an error here: the page explains it when shown.
    const sent = await sendCode(ctx, manager);
    if (!sent.ok) ctx.log.info({ reason: sent.reason }, 'sign-in security code not sent on arrival');
  },

  async arrive(ctx): Promise<Outcome<SmsCodeEvent> | undefined> {
    if (!(await deviceRemembered(ctx, true))) return undefined;
    const { account } = mobileOf(ctx);
    await ctx.services.audit.record('remembered_device.used', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip });
    // Cd by a remembered browser instead of a code: the login says so (amr remembered_device).
    return { kind: 'event', event: 'verified', amr: 'remembered_device' };
  },

  async present(ctx, presentation) {
    const { account, mobile } = mobileOf(ctx);
    const status = await lockStatus(ctx, account.id);
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'security-code', canUseRecoveryCode: recoveryCodeOffered(ctx.facts) });
    const instead = await codeTextView(ctx, { destination: mobile, purpose: PURPOSE }, () => alternatives(ctx));
    if (instead) return instead;
    return {
      template: 'enter-security-code.njk',
      data: {
        errors: presentation.errors,
        notice: presentation.notice,
        mobileEnding: mobileEnding(mobile),
        expiresIn: minutesText(ctx.services.config.ttl.securityCode),
        // Only where a cookie can be set (always, over HTTP).
        canRememberDevice: ctx.request !== undefined,
        canUseAuthenticatorApp: await appCompletes(ctx),
        canUseRecoveryCode: recoveryCodeOffered(ctx.facts),
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<SmsCodeEvent>> {
    const { account } = mobileOf(ctx);
    const result = await ctx.services.codes.verify({ accountId: account.id, purpose: PURPOSE, journeyId: ctx.uid, code: body.code });
    return codeCheckOutcome<SmsCodeEvent>(ctx, result, { accountId: account.id, purpose: PURPOSE }, async () => {
      if (body.rememberDevice === 'yes' && ctx.request) await rememberThisDevice(ctx, account.id, ctx.request);
      return { kind: 'event', event: 'verified' };
    }, async () => lockedView({ ...(await lockStatus(ctx, account.id)), what: 'security-code', canUseRecoveryCode: recoveryCodeOffered(ctx.facts) }));
  },

  actions: {
    /** "Use your authenticator app instead", for an account with one, when an app code would do for the service. */
    'use-authenticator-app': {
      async run(ctx) {
        return (await appCompletes(ctx)) ? { kind: 'event', event: 'authenticatorAppRequested' } : { kind: 'retry' };
      },
    },
    /** "Use a recovery code": offered in sign-in to an account with unused codes (D21). */
    'use-recovery-code': {
      async run(ctx) {
        return recoveryCodeOffered(ctx.facts) ? { kind: 'event', event: 'recoveryCodeRequested' } : { kind: 'retry' };
      },
    },
    /** "I cannot access my mobile": confirm the email address, then prove a new number (change-mobile steps). */
    'cannot-access-mobile': {
      async run() {
        return { kind: 'event', event: 'mobileUnavailable' };
      },
    },
    /** "Send a new code". The wrong-answer count carries over to the new code (B2). */
    resend: {
      async run(ctx) {
        const { account, mobile } = mobileOf(ctx);
        const sent = await ctx.services.dataSource.transaction((manager) => sendCode(ctx, manager));
        return resendOutcome(sent, `We have sent a new security code to your mobile phone number ending in ${mobileEnding(mobile)}.`, async () =>
          lockedView({ ...(await lockStatus(ctx, account.id)), what: 'security-code', canUseRecoveryCode: recoveryCodeOffered(ctx.facts) }));
      },
    },
  },
});
