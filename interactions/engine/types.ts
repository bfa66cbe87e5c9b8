import type { CredentialComponent, ProofingLevel } from '../../src/provider/vectors.js';

/**
 * Journeys are data: a set of named steps joined by transitions. A step is served by an
 * authentication method (it rests there until the method emits an event), or it is a decision
 * (no method: the engine fires `next` at once and the first transition whose guard holds wins),
 * or it ends the journey. Step ids are stable names, not URL paths, so copy changes never move
 * the state machine.
 */

/** Every journey carelogin runs; one per oidc-provider prompt it handles. */
export type JourneyId = 'sign-in' | 'step-up' | 'create-account';

/** Authentication method references (RFC 8176 where one exists); AMR_CREDENTIAL maps each to Cp/Cd/Ck/Cm. */
export type Amr = 'pwd' | 'sms' | 'remembered_device' | 'otp' | 'hwk';

/** The event a decision step fires on itself. */
export const DECISION_EVENT = 'next';

/**
 * What a journey has established so far, persisted in journey_state.facts. Kept small and
 * never secret: no passwords, no codes. `email` is personal data, so facts are never logged.
 */
export interface JourneyFacts {
  /** The email address as typed on enter-email, for the password step to look up. */
  readonly email?: string;
  /** What was proven in this journey (step-up also carries what the session had already proven). */
  readonly amr?: readonly Amr[];
  /** Set when the account is known: a verified mobile can receive a sign-in security code. */
  readonly hasVerifiedMobile?: boolean;
  /** Set when the account is known: an account whose email address is unconfirmed must confirm it before anything else. */
  readonly hasVerifiedEmail?: boolean;
  /** "I cannot access my mobile": the new number (E.164) being confirmed by a code; dropped when the journey ends. */
  readonly newMobile?: string;
  /** Set when the account is known: it has an authenticator app (Ck). */
  readonly hasAuthenticatorApp?: boolean;
  /** When this sign-in's recovery code was used (epoch seconds): a new set may be made on the next page within the re-authentication window (A7). */
  readonly recoveryCodeUsedAt?: number;
  /** Set when the account is known: it has unused saved recovery codes (D21), which sign-in offers as a way in without the usual second factor. */
  readonly hasRecoveryCodes?: boolean;
  /** Set when the account is known: its identity proofing level (step-up compares it with stepUp.level). */
  readonly identityLevel?: ProofingLevel;
  /** Step-up only: the proofing routes (method ids) this instance can run, by configuration. */
  readonly proofingRoutes?: readonly string[];
  /** Step-up only: the account has at least one passkey (Cm). */
  readonly hasPasskey?: boolean;
  /** Step-up only, when a P5 account is asked for P9: it already has a photo ID case awaiting review. */
  readonly photoIdCaseAwaitingReview?: boolean;
  /** The photo ID step's four random digits, which the person says in their video; made when the step is entered. */
  readonly photoIdDigits?: string;
  /** The passkey step's WebAuthn challenge (base64url, 256 bits), made when the step is entered; not a secret. */
  readonly passkeyChallenge?: string;
  /**
   * The credentials of each vector of trust the service asked for (on step-up, only those the
   * account's identity level meets), so a journey offers the second factor that will do. Absent: any.
   */
  readonly requestedCredentials?: readonly (readonly CredentialComponent[])[];
  /** Step-up only: the account has a new mobile number on hold (X1), which cannot give Cd yet. */
  readonly mobileChangeHeld?: boolean;
  /** Step-up only: why the session does not meet the requested vector of trust. */
  readonly stepUp?: {
    readonly reason: 'credentials' | 'proofing';
    /** Credential components the session still lacks for the vector oidc-provider picked. */
    readonly missing: readonly CredentialComponent[];
    /** For `proofing`: the identity level that vector needs. */
    readonly level?: ProofingLevel;
  };
}

/** Names of the pure predicates in guards.ts; a transition's `when` refers to one of them. */
export type GuardId =
  | 'hasVerifiedMobile'
  | 'hasVerifiedEmail'
  | 'identityVerificationRequired'
  | 'demographicsMatchNeeded'
  | 'gpLinkageNeeded'
  | 'photoIdNeeded'
  | 'photoIdCaseAwaitingReview'
  | 'stepUpComplete'
  | 'mobileChangeHeld'
  | 'securityCodeCompletesStepUp'
  | 'authenticatorAppFirst'
  | 'authenticatorCodeCompletesStepUp'
  | 'passkeyCompletesStepUp';

export interface Transition<S extends string = string> {
  readonly to: S;
  /** Taken only when this guard holds; a transition without one always matches. */
  readonly when?: GuardId;
}

export type Transitions<S extends string = string> = Transition<S> | readonly Transition<S>[];

/**
 * The event a page's Back link sends (a POST to `<step>/back`, so it works without JavaScript and a
 * GET never moves a journey). A step offers Back by handling it in `on`, like any event; the runner
 * fires it, never a method. journey-lint checks that it only leads to a step that leads here and
 * that sends nothing on arrival (no second code by going back).
 */
export const BACK_EVENT = 'back';

/** The person is asked something by an authentication method. */
export interface MethodStep<S extends string = string> {
  readonly method: string;
  readonly on: Readonly<Record<string, Transitions<S>>>;
}

/** No page: the engine fires `next` at once, and the first transition whose guard holds wins. */
export interface DecisionStep<S extends string = string> {
  readonly on: { readonly next: Transitions<S> };
}

/** oidc-provider is told the sign-in is complete: accountId plus the amr proven in the journey. */
export interface LoginEndStep {
  readonly end: 'login';
}

/** Pages explaining why the journey cannot continue; the copy lives in views/cannot-continue.njk. */
export type CannotContinuePage = 'identity-verification-required' | 'identity-already-linked' | 'authentication-method-not-available' | 'mobile-number-required' | 'mobile-change-held' | 'mobile-change-cancelled' | 'identity-check-pending';

/**
 * The journey cannot give the service what it asked for. The person reads an honest page, presses
 * Continue, and the relying party gets `error` / `error_description`.
 */
export interface AbortEndStep {
  readonly end: 'abort';
  readonly page: CannotContinuePage;
  readonly error: 'access_denied';
  readonly description: string;
}

export type Step<S extends string = string> = MethodStep<S> | DecisionStep<S> | LoginEndStep | AbortEndStep;

/**
 * Another journey's page can hand its interaction over to this one ("Create an account" on the
 * email page): a POST to `<step>/<action>` on one of `steps` of `from` replaces that journey with
 * this one, at its start, in the same interaction. Declared by the journey being entered, so the
 * journey handing over needs no step for it.
 */
export interface JourneyEntry {
  readonly from: JourneyId;
  readonly steps: readonly string[];
  readonly action: string;
  /** An authorization request parameter that, with exactly this value, withholds the entry (allow_registration=false). */
  readonly unlessParam?: { readonly name: string; readonly value: string };
  /** Facts of the journey handed over that the new one keeps (e.g. the email address typed), both ways. */
  readonly keep?: readonly (keyof JourneyFacts)[];
  /** The way back: a POST to `<step>/<action>` on one of `steps` of this journey restarts `from` ("Sign in instead"). */
  readonly back?: { readonly steps: readonly string[]; readonly action: string };
}

/**
 * Starting the journey again from a later page (a POST to `<step>/<action>` on one of `steps`), with
 * only the `keep` facts: "Change email address" on create-account's "Check your email". An account
 * the journey created and never confirmed is abandoned (deleted), so a mistyped address does not stay.
 */
export interface JourneyRestart {
  readonly steps: readonly string[];
  readonly action: string;
  readonly keep: readonly (keyof JourneyFacts)[];
}

export interface Journey {
  readonly id: JourneyId;
  readonly start: string;
  readonly steps: Readonly<Record<string, Step>>;
  readonly entry?: JourneyEntry;
  readonly restart?: JourneyRestart;
}

export function isEndStep(step: Step): step is LoginEndStep | AbortEndStep {
  return 'end' in step;
}

export function isMethodStep(step: Step): step is MethodStep {
  return 'method' in step;
}

export function isDecisionStep(step: Step): step is DecisionStep {
  return !isEndStep(step) && !isMethodStep(step);
}

export function transitionList<S extends string>(transitions: Transitions<S>): readonly Transition<S>[] {
  return Array.isArray(transitions) ? transitions : [transitions as Transition<S>];
}

/**
 * Declares a journey. The compiler checks that `start` and every transition target name a step
 * of the same journey; journey-lint.test.ts checks what types cannot (reachability, methods
 * registered, every event a method can emit handled).
 */
export function defineJourney<const Steps extends Record<string, Step<Extract<keyof Steps, string>>>>(journey: {
  readonly id: JourneyId;
  readonly start: NoInfer<Extract<keyof Steps, string>>;
  readonly steps: Steps;
  readonly entry?: JourneyEntry;
  readonly restart?: { readonly steps: readonly NoInfer<Extract<keyof Steps, string>>[]; readonly action: string; readonly keep: readonly (keyof JourneyFacts)[] };
}): Journey {
  return journey;
}
