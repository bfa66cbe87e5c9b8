import { z } from 'zod';
import { JourneyInvariantError } from '../../engine/errors.js';
import { accountDisabledView, tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * Signing in with a passkey (Cm, amr "hwk"): no email address, password or security code. The
 * browser offers the person's passkeys for this site (a discoverable credential) and the one they
 * choose signs this step's challenge after checking their fingerprint, face or screen lock; the
 * signature names the account (src/accounts/passkeys.ts). The challenge is made once per arrival,
 * in the moving transaction, and kept in the journey, so a signature is good for this step only
 * and the journey moving on spends it.
 *
 * Needs JavaScript (WebAuthn is a browser API): without it the page says so and offers the way back.
 */

export const PASSKEY_MESSAGES = {
  missing: 'Use your passkey, or go back and sign in with your email address and password',
  failed: 'We could not sign you in with that passkey. Try again, or go back and sign in with your email address and password',
} as const;

const schema = z.object({
  // The JSON of the browser's answer (PublicKeyCredential), put in the form by /assets/passkey.js.
  credential: z.string({ error: PASSKEY_MESSAGES.missing }).min(2, PASSKEY_MESSAGES.missing).max(20_000, PASSKEY_MESSAGES.failed),
});

type PasskeyEvent = 'verified';

function challengeOf(ctx: StepContext): string {
  // Made by enter(), which runs whenever a journey arrives here.
  if (!ctx.facts.passkeyChallenge) throw new JourneyInvariantError('passkey step without its challenge');
  return ctx.facts.passkeyChallenge;
}

export const passkeyMethod = defineMethod({
  id: 'passkey',
  proves: { credential: 'Cm', amr: 'hwk', event: 'verified' },
  events: ['verified'] satisfies PasskeyEvent[],
  schema,
  redisplay: [],

  async enter(ctx) {
    return { passkeyChallenge: ctx.services.passkeys.newChallenge() };
  },

  async present(ctx, presentation) {
    const options = await ctx.services.passkeys.authenticationOptions(challengeOf(ctx));
    return {
      template: 'use-passkey.njk',
      data: { errors: presentation.errors, options },
    };
  },

  async submit(ctx, body): Promise<Outcome<PasskeyEvent>> {
    const { counters, audit, passkeys, accounts } = ctx.services;
    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    let response: unknown;
    try {
      response = JSON.parse(body.credential);
    } catch {
      response = undefined;
    }
    const signedIn = response === undefined ? undefined : await passkeys.authenticate(challengeOf(ctx), response);
    const account = signedIn ? await accounts.findById(signedIn.accountId) : null;
    if (account && account.status !== 'active') {
      // A passkey proves as much as the right password does: the owner is told (CID2012), nothing signs in.
      await audit.record('sign_in.account_disabled', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { method: 'passkey' } });
      return { kind: 'page', view: accountDisabledView() };
    }
    if (!account) {
      await counters.recordIpFailure(ctx.ip);
      await audit.record('passkey.failed', { clientId: ctx.clientId, ip: ctx.ip });
      return { kind: 'retry', errors: [{ field: 'passkey', text: PASSKEY_MESSAGES.failed }] };
    }
    await audit.record('passkey.verified', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip });
    return { kind: 'event', event: 'verified', accountId: account.id, account };
  },
});
