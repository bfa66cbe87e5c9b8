import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { normaliseEmail } from '../../../entities/account.js';
import { lockoutKeys, passwordPolicy } from '../../../src/security/attempt-counters.js';
import type { KeyedDigest } from '../../../src/security/keyed-digest.js';
import { accountDisabledView, tooManyRequestsView } from '../pages.js';
import { defineMethod, type MethodServices, type Outcome } from '../types.js';

/**
 * The password step (Cp). Enumeration-resistant (F1) and brute-force-resistant (X8, A3, A4, B3):
 *
 * - the per-IP throttle is checked first, before anything about the account is looked at;
 * - every attempt is counted BEFORE the password is checked (reserveAttempt), so concurrent
 *   guesses can never overrun the limit, and a locked account's correct password is never checked;
 * - an unknown address is counted under its own key and verified against the dummy hash, so it
 *   gets exactly the delays, lock and timing a known account gets;
 * - wrong, unknown, locked and disabled all get the same page, message, status and delay; only the
 *   right password of a disabled account gets "Your account has been disabled" (CID2012), which
 *   someone without the password can never reach, so it is no way to learn which accounts exist.
 */

export const WRONG_CREDENTIALS = 'Enter the correct email address and password';

const schema = z.object({
  // Never trimmed or otherwise changed: spaces are part of a password.
  password: z.string({ error: 'Enter your password' }).min(1, 'Enter your password'),
});

type PasswordEvent = 'verified' | 'emailChangeRequested';

/**
 * The counter key for an address with no account. A keyed digest (HMAC with a server secret), not
 * the address and not a plain hash: someone with database access cannot test guesses against it.
 */
function unknownAccountKey(digest: KeyedDigest, email: string): string {
  return lockoutKeys.password(`unknown:${digest('password-unknown-account', normaliseEmail(email))}`);
}

/**
 * After the right password: clears the account's password counter and, when it showed failures
 * since the last success (someone else's guesses, or a lock someone else caused that has since run
 * out), tells the owner with the `signed-in-after-failures` email (A4, ASVS 6.3.5), in the same
 * transaction as the clearing, so the message and the cleared count commit together and of two
 * racing sign-ins exactly one tells. `reserved` is the count reserveAttempt returned, this attempt
 * included: a clean sign-in (reserved 1, the usual case) stays one statement with no transaction.
 * Returns the failed attempts the owner was told about.
 */
async function clearFailures(services: MethodServices, key: string, account: { id: string; email: string }, reserved: number): Promise<number> {
  const { counters, dataSource, notifications } = services;
  // The counter's count includes this (right) attempt, which reserveAttempt counted up front.
  if (reserved <= 1) {
    await counters.recordSuccess(key);
    return 0;
  }
  return dataSource.transaction(async (manager) => {
    const failedAttempts = Math.max(0, (await counters.recordSuccess(key, manager)) - 1);
    if (failedAttempts > 0) {
      await notifications.enqueue(manager, { template: 'signed-in-after-failures', to: account.email, data: { failedAttempts }, accountId: account.id });
    }
    return failedAttempts;
  });
}

export const passwordMethod = defineMethod({
  id: 'password',
  proves: { credential: 'Cp', amr: 'pwd', event: 'verified' },
  events: ['verified', 'emailChangeRequested'] satisfies PasswordEvent[],
  schema,
  redisplay: [],

  async present(ctx, presentation) {
    return { template: 'enter-password.njk', data: { errors: presentation.errors, email: ctx.facts.email ?? '' } };
  },

  async submit(ctx, body): Promise<Outcome<PasswordEvent>> {
    const { accounts, audit, config, counters, hasher } = ctx.services;
    const email = ctx.facts.email;
    // The journey always records an address before this step; without one, ask for it again.
    if (!email) return { kind: 'event', event: 'emailChangeRequested' };

    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) {
      await audit.record('sign_in.throttled', { clientId: ctx.clientId, ip: ctx.ip });
      return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    }

    const account = await accounts.findByEmail(email);
    const key = account ? lockoutKeys.password(account.id) : unknownAccountKey(ctx.services.digest, email);
    const attempt = await counters.reserveAttempt(key, passwordPolicy(config));
    const checkable = account !== null && attempt.allowed;
    // Always one Argon2 verification: against the real hash, or the dummy one (same cost).
    const correct = await hasher.verify(checkable ? account.passwordHash : null, body.password);

    if (correct && account && account.status !== 'active') {
      // The owner (or whoever has the password) is told, and nothing signs in; no failure is counted.
      await counters.recordSuccess(key);
      await audit.record('sign_in.account_disabled', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { method: 'password' } });
      return { kind: 'page', view: accountDisabledView() };
    }

    if (correct && account) {
      const failedAttempts = await clearFailures(ctx.services, key, account, attempt.consecutiveFailures);
      await audit.record('password.verified', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, ...(failedAttempts > 0 ? { detail: { failedAttempts, ownerTold: true } } : {}) });
      return { kind: 'event', event: 'verified', accountId: account.id, account };
    }

    await counters.recordIpFailure(ctx.ip);
    const reason = !account ? 'unknown_account' : attempt.disabled ? 'hard_cap' : !attempt.allowed ? 'locked' : 'wrong_password';
    await audit.record('password.failed', { accountId: account?.id, clientId: ctx.clientId, ip: ctx.ip, detail: { reason, failures: attempt.failures, locked: attempt.locked } });
    ctx.log.info({ event: 'password.failed', locked: attempt.locked }, 'password not accepted');
    // Growing delays from the 3rd failure; a locked answer carries the delay a wrong one would.
    if (attempt.delayMs > 0) await sleep(attempt.delayMs);
    return { kind: 'retry', errors: [{ field: 'password', text: WRONG_CREDENTIALS }] };
  },

  actions: {
    /** "Change email address": back to the first step, which shows what was typed. */
    'change-email': {
      async run() {
        return { kind: 'event', event: 'emailChangeRequested' };
      },
    },
  },
});
