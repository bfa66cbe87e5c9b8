import { z } from 'zod';
import type { Account } from '../../../entities/account.js';
import { lockoutKeys, securityCodePolicy } from '../../../src/security/attempt-counters.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { recoveryCodeOffered, textMessageCompletes } from '../../engine/guards.js';
import { lockedView, tooManyRequestsView } from '../pages.js';
import { deviceRemembered, rememberThisDevice } from '../remembered-device.js';
import { MESSAGES } from '../security-code-step.js';
import { codeField } from '../sms-code/index.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * A code from the account's authenticator app (TOTP; Ck, amr "otp"). Nothing is sent: the app
 * makes the code. Accepted for the current 30-second step or one either side, and once (X5, in
 * src/accounts/authenticator-app.ts). Wrong answers count like security codes: every attempt is
 * reserved before it is checked, 5 wrong lock the step for 15 minutes and 100 in a row turn the
 * app off until it is set up again (X8, B3), and each counts against the network (A4).
 *
 * "Use a text message instead" and a remembered browser hand over to the text message step, but
 * only when a code by text would meet what the service asked for.
 */

export const APP_MESSAGES = {
  ...MESSAGES,
  reused: 'That security code has already been used. Wait for your authenticator app to show a new code',
} as const;

const schema = z.object({
  rememberDevice: z.literal('yes').optional().catch(undefined),
  code: codeField,
});

type AuthenticatorCodeEvent = 'verified' | 'textMessageRequested' | 'deviceRemembered' | 'recoveryCodeRequested';

function appAccount(ctx: StepContext): Account {
  const account = ctx.account;
  // The journeys come here only for an account with an app (guards authenticatorApp…). One removed
  // meanwhile (in another browser) still reaches submit, where its codes are simply not right.
  if (!account) throw new JourneyInvariantError('authenticator-code step reached without an account');
  return account;
}

async function lockedPage(ctx: StepContext, accountId: string): Promise<Outcome<AuthenticatorCodeEvent>> {
  const status = await ctx.services.counters.status(lockoutKeys.authenticatorApp(accountId));
  return { kind: 'page', view: lockedView({ ...status, what: 'authenticator-app', canUseTextMessage: textMessageCompletes(ctx.facts), canUseRecoveryCode: recoveryCodeOffered(ctx.facts) }) };
}

export const authenticatorCodeMethod = defineMethod({
  id: 'authenticator-code',
  proves: { credential: 'Ck', amr: 'otp', event: 'verified' },
  events: ['verified', 'textMessageRequested', 'deviceRemembered', 'recoveryCodeRequested'] satisfies AuthenticatorCodeEvent[],
  schema,
  redisplay: [],

  async arrive(ctx): Promise<Outcome<AuthenticatorCodeEvent> | undefined> {
    if (!textMessageCompletes(ctx.facts)) return undefined;
    // A browser remembered for this account needs no code, as with text messages (X2): the text
    // message step completes it without sending one, and the login says remembered_device (Cd).
    if (await deviceRemembered(ctx, false)) return { kind: 'event', event: 'deviceRemembered' };
    // An app turned off at the hard cap cannot be used until it is set up again: a text message can.
    const account = appAccount(ctx);
    if ((await ctx.services.counters.status(lockoutKeys.authenticatorApp(account.id))).disabled) return { kind: 'event', event: 'textMessageRequested' };
    return undefined;
  },

  async present(ctx, presentation) {
    const account = appAccount(ctx);
    const status = await ctx.services.counters.status(lockoutKeys.authenticatorApp(account.id));
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'authenticator-app', canUseTextMessage: textMessageCompletes(ctx.facts), canUseRecoveryCode: recoveryCodeOffered(ctx.facts) });
    return {
      template: 'enter-authenticator-code.njk',
      data: {
        errors: presentation.errors,
        canRememberDevice: ctx.request !== undefined && textMessageCompletes(ctx.facts),
        canUseTextMessage: textMessageCompletes(ctx.facts),
        canUseRecoveryCode: recoveryCodeOffered(ctx.facts),
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<AuthenticatorCodeEvent>> {
    const account = appAccount(ctx);
    const { counters, audit, authenticatorApps, config } = ctx.services;
    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    const key = lockoutKeys.authenticatorApp(account.id);
    const attempt = await counters.reserveAttempt(key, securityCodePolicy(config));
    const event = { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip };
    if (!attempt.allowed) {
      await audit.record('authenticator_app.locked', event);
      return lockedPage(ctx, account.id);
    }
    const result = await authenticatorApps.check(account, body.code);
    if (result === 'valid') {
      await counters.recordSuccess(key);
      await audit.record('authenticator_app.verified', event);
      if (body.rememberDevice === 'yes' && ctx.request && textMessageCompletes(ctx.facts)) await rememberThisDevice(ctx, account.id, ctx.request);
      return { kind: 'event', event: 'verified' };
    }
    // The attempt was counted when it was reserved; the network's count goes up too.
    await counters.recordIpFailure(ctx.ip);
    await audit.record('authenticator_app.failed', { ...event, detail: { reason: result, failures: attempt.failures } });
    if (attempt.locked) return lockedPage(ctx, account.id);
    return { kind: 'retry', errors: [{ field: 'code', text: result === 'reused' ? APP_MESSAGES.reused : APP_MESSAGES.incorrect }] };
  },

  actions: {
    /** "Use a text message instead": a code to the verified mobile, when that would do for the service. */
    'use-text-message': {
      async run(ctx) {
        if (!textMessageCompletes(ctx.facts)) return { kind: 'retry' };
        return { kind: 'event', event: 'textMessageRequested' };
      },
    },
    /** "Use a recovery code": offered in sign-in to an account with unused codes (D21). */
    'use-recovery-code': {
      async run(ctx) {
        return recoveryCodeOffered(ctx.facts) ? { kind: 'event', event: 'recoveryCodeRequested' } : { kind: 'retry' };
      },
    },
  },
});
