import { z } from 'zod';
import type { Account } from '../../../entities/account.js';
import { groupedSecret } from '../../../src/accounts/authenticator-app.js';
import { normaliseSecurityCode, SECURITY_CODE_PATTERN } from '../../../src/security/security-codes.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { APP_STALE_NOTICE, recoveryCodeUsedRecently } from '../new-recovery-codes/index.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * A new authenticator app, set up during the sign-in that used a recovery code (D21): the way back
 * for a person who lost the phone their app was on. NIST SP 800-63B §4.2.2.2 counts a password and
 * a saved recovery code as recovery at AAL2, after which a new authenticator may be bound; the app
 * then proves itself with a code like any other (Ck, amr "otp"), so the sign-in reports `Cp.Ck`
 * from here on, and Your account (which needs a second factor) opens to the person again.
 *
 * The secret is made here and travels in the form sealed for this account and this interaction, as
 * in Your account; nothing is stored until a code from the app proves it. Binding a new app replaces
 * any old one and is told to the owner by email (the service's `add`). Like getting new recovery
 * codes, it is offered only within 15 minutes of the recovery code's use (A7). A wrong code guesses
 * nothing (the person on the page is shown the secret), so it is not counted.
 */

export const SET_UP_MESSAGES = {
  missing: 'Enter the security code',
  format: 'The security code must be 6 numbers',
  incorrect: 'The security code is not correct. Check the code your authenticator app shows and try again',
  expired: 'This page timed out. Scan the new QR code, or enter the new secret key, then enter the code your app shows',
} as const;

const schema = z.object({
  setup: z.string().max(2000).default(''),
  code: z
    .string({ error: SET_UP_MESSAGES.missing })
    .transform((value) => normaliseSecurityCode(value))
    .pipe(z.string().min(1, SET_UP_MESSAGES.missing).regex(SECURITY_CODE_PATTERN, SET_UP_MESSAGES.format)),
});

type SetUpEvent = 'added' | 'skipped';

function accountOf(ctx: StepContext): Account {
  if (!ctx.account) throw new JourneyInvariantError('set-up-authenticator-app step reached without an account');
  return ctx.account;
}

export const setUpAuthenticatorAppMethod = defineMethod({
  id: 'set-up-authenticator-app',
  proves: { credential: 'Ck', amr: 'otp', event: 'added' },
  events: ['added', 'skipped'] satisfies SetUpEvent[],
  schema,
  // The sealed setup token, so a mistyped code keeps the QR code the person already scanned.
  redisplay: ['setup'],

  async present(ctx, presentation) {
    const account = accountOf(ctx);
    const { authenticatorApps } = ctx.services;
    const kept = presentation.values?.setup;
    const secret = kept ? authenticatorApps.pending(kept, account.id, ctx.uid) : undefined;
    const pending = kept && secret ? { token: kept, secret } : authenticatorApps.begin(account.id, ctx.uid);
    return {
      template: 'set-up-authenticator-app.njk',
      data: {
        errors: presentation.errors,
        notice: presentation.notice,
        canSetUp: recoveryCodeUsedRecently(ctx),
        qrSvg: authenticatorApps.enrolment(pending.secret, account.email).qrSvg,
        secretKey: groupedSecret(pending.secret),
        setup: pending.token,
        replacing: account.authenticatorAddedAt !== null,
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<SetUpEvent>> {
    const account = accountOf(ctx);
    const { authenticatorApps, audit } = ctx.services;
    if (!recoveryCodeUsedRecently(ctx)) return { kind: 'retry', notice: APP_STALE_NOTICE };
    const secret = authenticatorApps.pending(body.setup, account.id, ctx.uid);
    // A page left open too long: a new secret, and say why.
    if (!secret) return { kind: 'retry', errors: [{ field: 'code', text: SET_UP_MESSAGES.expired }] };
    if (!(await authenticatorApps.add(account, secret, body.code, { ip: ctx.ip }))) {
      await audit.record('authenticator_app.setup_failed', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip });
      return { kind: 'retry', errors: [{ field: 'code', text: SET_UP_MESSAGES.incorrect }], values: { setup: body.setup } };
    }
    return { kind: 'event', event: 'added' };
  },

  actions: {
    /** "Continue without an authenticator app": on to the service with what the sign-in proved (Cp). */
    skip: {
      async run() {
        return { kind: 'event', event: 'skipped' };
      },
    },
  },
});
