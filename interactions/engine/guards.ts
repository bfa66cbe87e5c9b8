import { credentialsFromAmr, proofingAtLeast, type CredentialComponent } from '../../src/provider/vectors.js';
import type { GuardId, JourneyFacts } from './types.js';

/**
 * True when proving `credential` now would meet one of the vectors the service asked for, given
 * what this journey (or, on step-up, the session) has proven already. No vectors known: any will do.
 */
export function wouldComplete(facts: JourneyFacts, credential: CredentialComponent): boolean {
  if (!facts.requestedCredentials) return true;
  const proven = credentialsFromAmr(facts.amr);
  return facts.requestedCredentials.some((set) => set.every((c) => c === credential || proven.has(c)));
}

/** A text message code (or a remembered device) can finish this journey: a verified mobile that is not on hold, and a vector it meets. */
export function textMessageCompletes(facts: JourneyFacts): boolean {
  return facts.hasVerifiedMobile === true && facts.mobileChangeHeld !== true && wouldComplete(facts, 'Cd');
}

/**
 * "Use a recovery code" is offered: the account has unused codes and this is a sign-in. A recovery
 * code proves no credential of its own (D21: the login reports Cp alone), so it can never complete
 * a step-up, which exists to add a credential the session lacks.
 */
export function recoveryCodeOffered(facts: JourneyFacts): boolean {
  return facts.hasRecoveryCodes === true && facts.stepUp === undefined;
}

/**
 * Step-up: the identity level is settled, so what is left is credentials: the service's vector was
 * missing only credentials from the start, or identity checks have since raised the account to it.
 */
export function credentialsStage(facts: JourneyFacts): boolean {
  const stepUp = facts.stepUp;
  if (!stepUp) return false;
  if (stepUp.reason === 'credentials') return true;
  return stepUp.level !== undefined && facts.identityLevel !== undefined && proofingAtLeast(facts.identityLevel, stepUp.level);
}

/** Step-up: the identity level asked for is still above the account's. */
function proofingOutstanding(facts: JourneyFacts): boolean {
  return facts.stepUp?.reason === 'proofing' && !credentialsStage(facts);
}

const canRun = (facts: JourneyFacts, route: string): boolean => facts.proofingRoutes?.includes(route) === true;

/** The proofing routes that take a P5 account to P9. */
const P9_ROUTES = ['gp-linkage', 'photo-id'] as const;

/** Step-up: a P5 account is asked for P9. */
function p9Outstanding(facts: JourneyFacts): boolean {
  return proofingOutstanding(facts) && facts.identityLevel === 'P5' && facts.stepUp?.level === 'P9';
}

/** Photo ID is one of this instance's routes (the GP details page offers it as the way without a letter). */
export function photoIdRouteOn(facts: JourneyFacts): boolean {
  return canRun(facts, 'photo-id');
}

/**
 * Guards: named, pure predicates over journey facts. Transitions refer to them by name so
 * journeys stay plain data and every decision can be unit-tested without I/O.
 */
export const GUARDS: Readonly<Record<GuardId, (facts: JourneyFacts) => boolean>> = {
  /** The account has a mobile number it has confirmed, so a sign-in security code can be sent. */
  hasVerifiedMobile: (facts) => facts.hasVerifiedMobile === true,

  /** The account's email address is confirmed (an account created but never confirmed is not). */
  hasVerifiedEmail: (facts) => facts.hasVerifiedEmail === true,

  /** Step-up: the account's identity level is below the one asked for, and no identity check here reaches it. */
  identityVerificationRequired: (facts) => proofingOutstanding(facts),

  /**
   * Step-up: a P0 account is asked for P5, or for P9 where GP online details or photo ID can then
   * take it on (NHS login: P9 comes after P5). A demographics match (a trace against the register) gives P5.
   */
  demographicsMatchNeeded: (facts) =>
    proofingOutstanding(facts) &&
    facts.identityLevel === 'P0' &&
    canRun(facts, 'demographics-match') &&
    (facts.stepUp?.level === 'P5' || (facts.stepUp?.level === 'P9' && P9_ROUTES.some((route) => canRun(facts, route)))),

  /** Step-up: a P5 account is asked for P9, which GP online registration details give. */
  gpLinkageNeeded: (facts) => p9Outstanding(facts) && canRun(facts, 'gp-linkage'),

  /**
   * Step-up: a P5 account is asked for P9 and already has a photo ID case awaiting review: the
   * honest "we are checking your photo ID" page, before any route (a reviewer may yet approve it).
   */
  photoIdCaseAwaitingReview: (facts) => p9Outstanding(facts) && facts.photoIdCaseAwaitingReview === true,

  /** Step-up: a P5 account is asked for P9 and photo ID is the way (the GP route is off, or the person chose it). */
  photoIdNeeded: (facts) => p9Outstanding(facts) && canRun(facts, 'photo-id'),

  /**
   * Step-up: after an identity check, the session's credentials already meet one of the vectors the
   * service asked for (any of them, not only the one oidc-provider named: a passkey session asked
   * for NHS login's default vectors is done once the level is reached, though it has no Cd).
   */
  stepUpComplete: (facts) => {
    if (!credentialsStage(facts)) return false;
    if (!facts.requestedCredentials) return facts.stepUp!.missing.length === 0;
    const proven = credentialsFromAmr(facts.amr);
    return facts.requestedCredentials.some((set) => set.every((c) => proven.has(c)));
  },

  /**
   * Step-up: the session lacks Cd and the account's new mobile number is still on hold (X1). Only
   * a sign-in through "I cannot access my mobile" ends without Cd, so this is that person: a code
   * to the old number would not reach them, and the new one cannot give Cd until the hold ends.
   */
  mobileChangeHeld: (facts) => credentialsStage(facts) && facts.stepUp!.missing.includes('Cd') && facts.mobileChangeHeld === true,

  /**
   * Step-up: a security code to the verified mobile (Cd) is exactly what the session lacks.
   * Anything else missing (Cp, Ck, Cm) needs a method this journey does not offer.
   */
  securityCodeCompletesStepUp: (facts) =>
    credentialsStage(facts) &&
    facts.stepUp!.missing.length === 1 &&
    facts.stepUp!.missing[0] === 'Cd' &&
    facts.hasVerifiedMobile === true,

  /**
   * Sign-in: the account has an authenticator app and an app code meets a vector the service
   * asked for. The app comes first when it has one (as at GOV.UK One Login), with "Use a text
   * message instead"; a service that accepts only Cd gets the text message straight away.
   */
  authenticatorAppFirst: (facts) => facts.hasAuthenticatorApp === true && wouldComplete(facts, 'Ck'),

  /** Step-up: a code from the account's authenticator app would meet a vector the service asked for. */
  authenticatorCodeCompletesStepUp: (facts) => credentialsStage(facts) && facts.hasAuthenticatorApp === true && wouldComplete(facts, 'Ck'),

  /** Step-up: the account has a passkey and a passkey (Cm) would meet a vector the service asked for. */
  passkeyCompletesStepUp: (facts) => credentialsStage(facts) && facts.hasPasskey === true && wouldComplete(facts, 'Cm'),
};

export function evaluateGuard(guard: GuardId, facts: JourneyFacts): boolean {
  return GUARDS[guard](facts);
}
