import type { GuardId, JourneyFacts } from './types.js';

/**
 * Guards: named, pure predicates over journey facts. Transitions refer to them by name so
 * journeys stay plain data and every decision can be unit-tested without I/O.
 */
export const GUARDS: Readonly<Record<GuardId, (facts: JourneyFacts) => boolean>> = {
  /** The account has a mobile number it has confirmed, so a sign-in security code can be sent. */
  hasVerifiedMobile: (facts) => facts.hasVerifiedMobile === true,

  /** The account's email address is confirmed (an account created but never confirmed is not). */
  hasVerifiedEmail: (facts) => facts.hasVerifiedEmail === true,

  /** Step-up: the account's identity level is below the one asked for; no sign-in method can fix that. */
  identityVerificationRequired: (facts) => facts.stepUp?.reason === 'proofing',

  /**
   * Step-up: the session lacks Cd and the account's new mobile number is still on hold (X1). Only
   * a sign-in through "I cannot access my mobile" ends without Cd, so this is that person: a code
   * to the old number would not reach them, and the new one cannot give Cd until the hold ends.
   */
  mobileChangeHeld: (facts) => facts.stepUp?.reason === 'credentials' && facts.stepUp.missing.includes('Cd') && facts.mobileChangeHeld === true,

  /**
   * Step-up: a security code to the verified mobile (Cd) is exactly what the session lacks.
   * Anything else missing (Cp, Ck, Cm) needs a method this journey does not offer.
   */
  securityCodeCompletesStepUp: (facts) =>
    facts.stepUp?.reason === 'credentials' &&
    facts.stepUp.missing.length === 1 &&
    facts.stepUp.missing[0] === 'Cd' &&
    facts.hasVerifiedMobile === true,
};

export function evaluateGuard(guard: GuardId, facts: JourneyFacts): boolean {
  return GUARDS[guard](facts);
}
