import { z } from 'zod';
import type { Account } from '../../../entities/account.js';
import { REAUTH_WINDOW_SECONDS } from '../../../src/account/reauthentication.js';
import { groupedRecoveryCode } from '../../../src/accounts/recovery-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { defineMethod, type StepContext } from '../types.js';

/**
 * After a sign-in with a recovery code (D21): NIST SP 800-63B §4.2.1.1 says the CSP "SHALL issue a
 * new saved recovery code" once one is used. The page says how many codes are left and offers a new
 * set at once; the person has signed in with their password and a code moments ago, well inside the
 * 15-minute re-authentication window every change to sign-in details needs (A7).
 *
 * "Get new recovery codes" makes the set and shows it in the answer to that POST: the codes are never
 * stored in the clear, in the journey or anywhere else, so they cannot be shown again. "Continue"
 * goes on to the service either way. A page left open past the re-authentication window (the
 * interaction lives an hour) no longer makes codes: Your account, after a fresh sign-in, does.
 */

export const APP_STALE_NOTICE = 'It is more than 15 minutes since you used your recovery code, so you cannot set up an authenticator app here. Continue to the service, or sign in again with another recovery code';

export const STALE_NOTICE = 'It is more than 15 minutes since you signed in, so you cannot get new recovery codes here. Continue, then get them in your account settings';

/** This sign-in used its recovery code within the re-authentication window. */
export function recoveryCodeUsedRecently(ctx: StepContext): boolean {
  const usedAt = ctx.facts.recoveryCodeUsedAt;
  return usedAt !== undefined && Math.floor(Date.now() / 1000) - usedAt <= REAUTH_WINDOW_SECONDS;
}

const schema = z.object({});

function accountOf(ctx: StepContext): Account {
  if (!ctx.account) throw new JourneyInvariantError('new-recovery-codes step reached without an account');
  return ctx.account;
}

export const newRecoveryCodesMethod = defineMethod({
  id: 'new-recovery-codes',
  events: ['continued', 'authenticatorAppSetUpRequested'] satisfies ('continued' | 'authenticatorAppSetUpRequested')[],
  schema,
  redisplay: [],

  async present(ctx, presentation) {
    const account = accountOf(ctx);
    return { template: 'recovery-code-used.njk', data: { left: account.recoveryCodesLeft, canGenerate: recoveryCodeUsedRecently(ctx), notice: presentation.notice } };
  },

  async submit() {
    return { kind: 'event', event: 'continued' };
  },

  actions: {
    /** "Set up a new authenticator app": the way back for a person who lost the phone their app was on. */
    'set-up-authenticator-app': {
      async run(ctx) {
        return recoveryCodeUsedRecently(ctx) ? { kind: 'event', event: 'authenticatorAppSetUpRequested' } : { kind: 'retry', notice: APP_STALE_NOTICE };
      },
    },
    /** "Get new recovery codes": every old code dies, the owner is told, and the new ones are shown this once. */
    generate: {
      async run(ctx) {
        if (!recoveryCodeUsedRecently(ctx)) return { kind: 'retry', notice: STALE_NOTICE };
        const codes = await ctx.services.recoveryCodes.generate(accountOf(ctx), { ip: ctx.ip });
        return { kind: 'page', view: { template: 'new-recovery-codes.njk', data: { codes: codes.map(groupedRecoveryCode) } } };
      },
    },
  },
});
