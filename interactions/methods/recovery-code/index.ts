import { z } from 'zod';
import type { Account } from '../../../entities/account.js';
import { normaliseRecoveryCode } from '../../../src/accounts/recovery-codes.js';
import { lockoutKeys, securityCodePolicy } from '../../../src/security/attempt-counters.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { textMessageCompletes, wouldComplete } from '../../engine/guards.js';
import { lockedView, tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * A saved recovery code (NIST SP 800-63B §4.2.1.1, security-bar B7, decisions D21), after the
 * password, for a person who cannot use their authenticator app or phone. It proves no credential
 * component: a recovery code is for getting back in, not a second factor the service can rely on,
 * so the login reports `Cp` alone (as the email code of X1 does) and the next step asks the person to
 * replace the code they used.
 *
 * Guessing is limited as security codes are (B2, X8): every attempt is reserved before it is checked,
 * 5 wrong lock the step for 15 minutes and 100 in a row make the codes unusable until a new set is
 * made; each wrong code also counts against the network (A4). Using a code is atomic
 * (src/accounts/recovery-codes.ts): of two sign-ins racing with one code, exactly one gets in.
 */

export const RECOVERY_CODE_MESSAGES = {
  missing: 'Enter a recovery code',
  format: 'Enter a recovery code in the right format: 16 letters and numbers, like 7KQ2 M9XD 4TRB H0WE',
  incorrect: 'The recovery code is not correct, or has already been used. Check the code and try again',
} as const;

const schema = z.object({
  code: z
    .string({ error: RECOVERY_CODE_MESSAGES.missing })
    .transform((value) => value.trim())
    .pipe(z.string().min(1, RECOVERY_CODE_MESSAGES.missing).max(64, RECOVERY_CODE_MESSAGES.format).refine((value) => normaliseRecoveryCode(value) !== undefined, RECOVERY_CODE_MESSAGES.format)),
});

type RecoveryCodeEvent = 'used' | 'authenticatorAppRequested' | 'textMessageRequested';

function codesAccount(ctx: StepContext): Account {
  // The journey comes here only for a known account (after the password) that had unused codes.
  if (!ctx.account) throw new JourneyInvariantError('recovery-code step reached without an account');
  return ctx.account;
}

/** The authenticator app would do for the service and is not turned off: "Use your authenticator app instead". */
async function appCompletes(ctx: StepContext, account: Account): Promise<boolean> {
  if (ctx.facts.hasAuthenticatorApp !== true || !wouldComplete(ctx.facts, 'Ck')) return false;
  return !(await ctx.services.counters.status(lockoutKeys.authenticatorApp(account.id))).disabled;
}

async function lockedPage(ctx: StepContext, accountId: string): Promise<Outcome<RecoveryCodeEvent>> {
  const status = await ctx.services.counters.status(lockoutKeys.recoveryCode(accountId));
  return { kind: 'page', view: lockedView({ ...status, what: 'recovery-code' }) };
}

export const recoveryCodeMethod = defineMethod({
  id: 'recovery-code',
  events: ['used', 'authenticatorAppRequested', 'textMessageRequested'] satisfies RecoveryCodeEvent[],
  schema,
  redisplay: [],

  async present(ctx, presentation) {
    const account = codesAccount(ctx);
    const status = await ctx.services.counters.status(lockoutKeys.recoveryCode(account.id));
    if (status.locked || status.disabled) return lockedView({ ...status, what: 'recovery-code' });
    return {
      template: 'enter-recovery-code.njk',
      data: {
        errors: presentation.errors,
        canUseAuthenticatorApp: await appCompletes(ctx, account),
        canUseTextMessage: textMessageCompletes(ctx.facts),
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<RecoveryCodeEvent>> {
    const account = codesAccount(ctx);
    const { counters, audit, recoveryCodes, config } = ctx.services;
    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    const key = lockoutKeys.recoveryCode(account.id);
    const attempt = await counters.reserveAttempt(key, securityCodePolicy(config));
    const event = { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip };
    if (!attempt.allowed) {
      await audit.record('recovery_code.locked', event);
      return lockedPage(ctx, account.id);
    }
    const result = await recoveryCodes.use(account, body.code, { ip: ctx.ip, clientId: ctx.clientId });
    if (result.used) {
      await counters.recordSuccess(key);
      // The next page may make a new set while this sign-in is recent (A7), not an hour later.
      return { kind: 'event', event: 'used', facts: { recoveryCodeUsedAt: Math.floor(Date.now() / 1000) } };
    }
    // Wrong, used before, or from a set since replaced: one answer for all, counted here and against the network.
    await counters.recordIpFailure(ctx.ip);
    await audit.record('recovery_code.failed', { ...event, detail: { failures: attempt.failures } });
    if (attempt.locked) return lockedPage(ctx, account.id);
    return { kind: 'retry', errors: [{ field: 'code', text: RECOVERY_CODE_MESSAGES.incorrect }] };
  },

  actions: {
    /** Back to the app, for a person who came here by mistake (when the app would do for the service). */
    'use-authenticator-app': {
      async run(ctx) {
        return (await appCompletes(ctx, codesAccount(ctx))) ? { kind: 'event', event: 'authenticatorAppRequested' } : { kind: 'retry' };
      },
    },
    /** Back to a text message, when one would do for the service. */
    'use-text-message': {
      async run(ctx) {
        return textMessageCompletes(ctx.facts) ? { kind: 'event', event: 'textMessageRequested' } : { kind: 'retry' };
      },
    },
  },
});
