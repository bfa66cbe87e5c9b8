import { ACCOUNT_CLIENT_ID } from '../../src/account/internal-client.js';
import type { PatientRecord } from '../../src/demographics/patient-demographics.js';
import { OutsideSystemTimeoutError } from '../../src/errors.js';
import type { ProofingLevel } from '../../src/provider/vectors.js';
import { identityCheckPolicy, identityTargetPolicy, lockoutKeys } from '../../src/security/attempt-counters.js';
import { withTimeout } from '../../src/with-timeout.js';
import { JourneyInvariantError } from '../engine/errors.js';
import { identityCheckLockedView, minutesText, tooManyRequestsView } from './pages.js';
import type { Outcome, SideAction, StepContext } from './types.js';

/**
 * What every proofing route does with an answer (as security-code-step.ts is for the code steps):
 * the network throttle first (A4), then one attempt reserved on the account's identity-check
 * counter before the outside system is asked (B3), so however many answers arrive at once at most
 * IDENTITY_CHECK_MAX_ATTEMPTS are checked; a miss says only "not found" with the tries left; a match
 * is written onto the account with its audit row, or stops at "already linked".
 */
export type IdentityCheckEvent = 'matched' | 'alreadyLinked';

export type CheckResult =
  | { readonly kind: 'matched'; readonly patient: PatientRecord; readonly gpOnline?: { readonly accountId: string; readonly linkageKey: string } }
  | { readonly kind: 'not-matched'; readonly why: string }
  | { readonly kind: 'unavailable' };

export interface IdentityCheck {
  /** The method id, for the audit trail. */
  readonly route: string;
  readonly level: Exclude<ProofingLevel, 'P0'>;
  /** Which outside system answered, for the logs ("fake-pds", "fake-im1"). */
  readonly source: string;
  /** The field the page's "not found" message is shown beside (its first field). */
  readonly firstField: string;
  readonly notFound: string;
  /** The answer as the form shows it again after a miss, so a typo can be put right. */
  readonly shownAgain: Readonly<Record<string, string>>;
  /**
   * Who or what the answer names (an NHS number, a name and date of birth, a GP registration), as
   * plain text that is only ever digested: wrong answers are counted against it across accounts (E1).
   */
  readonly target: string;
  check(): Promise<CheckResult>;
}

export const CHECK_UNAVAILABLE = 'Sorry, we cannot check your details at the moment. Try again in a few minutes';

export async function runIdentityCheck(ctx: StepContext, check: IdentityCheck): Promise<Outcome<IdentityCheckEvent>> {
  const { accounts, audit, config, counters, digest, identityProofing } = ctx.services;
  const account = ctx.account;
  if (!account) throw new JourneyInvariantError(`${check.route}: an identity check needs the session's account`);
  const who = { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip };

  const ip = await counters.ipBlocked(ctx.ip);
  if (ip.blocked) {
    await audit.record('identity.throttled', { ...who, detail: { route: check.route } });
    return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
  }
  const key = lockoutKeys.identityCheck(account.id);
  const attempt = await counters.reserveAttempt(key, identityCheckPolicy(config));
  if (!attempt.allowed) return { kind: 'page', view: identityCheckLockedView(attempt.retryAfterSeconds) };
  // E1: one patient or registration cannot be guessed at by spreading tries over fresh accounts. A
  // locked target is answered as a miss, so the lock says nothing about whether it exists.
  const targetKey = lockoutKeys.identityTarget(digest('identity-target', `${check.route}:${check.target}`));
  const targetAttempt = await counters.reserveAttempt(targetKey, identityTargetPolicy(config));

  // An outside system that does not answer in time is "unavailable" to the person (E2); what it
  // may still do afterwards is ignored, because nothing is written until an answer arrives in time.
  const result = !targetAttempt.allowed
    ? ({ kind: 'not-matched', why: 'target-locked' } as const)
    : await withTimeout(check.check(), config.identityChecks.timeoutMs, () => new OutsideSystemTimeoutError(check.source, config.identityChecks.timeoutMs)).catch((error: unknown) => {
    if (error instanceof OutsideSystemTimeoutError) return { kind: 'unavailable', timedOut: true } as const;
    throw error;
  });
  if (result.kind === 'unavailable') {
    const timedOut = 'timedOut' in result;
    // The attempt stays counted: an outage must not become a way round the limit.
    await audit.record('identity.unavailable', { ...who, detail: { route: check.route, source: check.source, ...(timedOut ? { timedOut } : {}) } });
    ctx.log.warn({ event: 'identity.unavailable', route: check.route, source: check.source, timedOut }, 'the identity check could not be made');
    return { kind: 'retry', errors: [{ field: check.firstField, text: CHECK_UNAVAILABLE }], values: check.shownAgain };
  }
  if (result.kind === 'not-matched') {
    await counters.recordIpFailure(ctx.ip);
    await audit.record('identity.not_matched', { ...who, detail: { route: check.route, why: result.why, failures: attempt.failures, locked: attempt.locked } });
    if (attempt.locked) return { kind: 'page', view: identityCheckLockedView(attempt.retryAfterSeconds) };
    const left = config.identityChecks.maxAttempts - attempt.failures;
    return {
      kind: 'retry',
      errors: [{ field: check.firstField, text: check.notFound }],
      values: check.shownAgain,
      notice: `You have ${left} more ${left === 1 ? 'try' : 'tries'} before you need to wait ${minutesText(config.ttl.lockout)}.`,
    };
  }

  await counters.recordSuccess(targetKey);
  const outcome = await identityProofing.record({ ...who, level: check.level, patient: result.patient, route: check.route, ...(result.gpOnline ? { gpOnline: result.gpOnline } : {}) });
  await counters.recordSuccess(key);
  if (outcome === 'already-linked') return { kind: 'event', event: 'alreadyLinked' };
  // The fresh account carries the new level into the journey's facts (identityLevel).
  const proofed = await accounts.findById(account.id);
  return { kind: 'event', event: 'matched', accountId: account.id, ...(proofed ? { account: proofed } : {}) };
}

/**
 * The page data every proofing route's template takes besides its own. `fromAccount`: the check was
 * started from Your account ("Prove who you are"), not by a service that needs it, and the copy says so.
 */
export function identityCheckPageData(ctx: StepContext): Record<string, unknown> {
  return { maxAttempts: ctx.services.config.identityChecks.maxAttempts, lockWait: minutesText(ctx.services.config.ttl.lockout), fromAccount: ctx.clientId === ACCOUNT_CLIENT_ID };
}

/**
 * "Go back to the service without proving who you are": for a person without their details to hand
 * (no GP letter, say). The service gets `access_denied` / `identity verification required`, the same
 * answer as when no check can be made, and the account keeps any level it has reached already.
 */
export const IDENTITY_CHECK_ACTIONS: Readonly<Record<string, SideAction<never>>> = {
  'return-to-service': {
    async run(ctx) {
      await ctx.services.audit.record('identity.abandoned', { accountId: ctx.account?.id, clientId: ctx.clientId, ip: ctx.ip, detail: { step: ctx.step } });
      return { kind: 'fail', error: 'access_denied', description: 'identity verification required' };
    },
  },
};
