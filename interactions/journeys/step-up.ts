import { defineJourney } from '../engine/types.js';
import { changeMobileSteps } from './change-mobile.js';

/** The second factor that completes the step-up, first match wins (the same after an identity check). */
const CREDENTIAL_STEPS = [
  { to: 'enter-authenticator-code', when: 'authenticatorCodeCompletesStepUp' },
  { to: 'use-passkey', when: 'passkeyCompletesStepUp' },
  { to: 'mobile-change-held', when: 'mobileChangeHeld' },
  { to: 'enter-security-code', when: 'securityCodeCompletesStepUp' },
  { to: 'method-not-available' },
] as const;

/**
 * A P5 account still short of P9 whose photo ID case awaits review is told so; otherwise it goes on
 * to its GP online details (with photo ID offered there as the way without a GP letter), or to photo
 * ID when that is the only P9 route; otherwise on to the credentials.
 */
const AFTER_IDENTITY_CHECK = [
  { to: 'identity-check-pending', when: 'photoIdCaseAwaitingReview' },
  { to: 'enter-gp-details', when: 'gpLinkageNeeded' },
  { to: 'provide-photo-id', when: 'photoIdNeeded' },
  { to: 'identity-verification-required', when: 'identityVerificationRequired' },
  ...CREDENTIAL_STEPS,
] as const;

/**
 * Stepping up (oidc-provider prompt `vtr`): the session is signed in but does not meet the vector
 * of trust the service asked for. A missing authenticator app code (Ck) or security code (Cd) is
 * asked for here, for the session's own account. A higher identity level is reached by proofing
 * routes: a demographics match (enter-your-details) gives P5, and GP online registration details
 * (enter-gp-details) take a P5 account to P9; after each, identity-checked decides what is left.
 * Photo ID (provide-photo-id) also aims at P9 but proves nothing now: the journey ends on
 * identity-check-pending (access_denied, "identity verification pending") until a reviewer approves.
 * Everything else gets an honest page and `access_denied`, because a login must never claim more than was done.
 */
export const stepUpJourney = defineJourney({
  id: 'step-up',
  start: 'assess',
  steps: {
    assess: {
      on: {
        next: [
          { to: 'enter-your-details', when: 'demographicsMatchNeeded' },
          ...AFTER_IDENTITY_CHECK,
        ],
      },
    },
    // After an identity check: done, or on to the credentials the vector still needs.
    'identity-checked': {
      on: { next: [{ to: 'signed-in', when: 'stepUpComplete' }, ...AFTER_IDENTITY_CHECK] },
    },
    'enter-authenticator-code': {
      method: 'authenticator-code',
      on: {
        verified: { to: 'signed-in' },
        // Offered only when a code by text meets a vector asked for (textMessageCompletes).
        textMessageRequested: { to: 'enter-security-code' },
        deviceRemembered: { to: 'enter-security-code' },
        // Never offered here (recoveryCodeOffered): a recovery code adds no credential, so it cannot complete a step-up.
        recoveryCodeRequested: { to: 'method-not-available' },
      },
    },
    'use-passkey': { method: 'passkey', on: { verified: { to: 'signed-in' } } },
    'enter-your-details': {
      method: 'demographics-match',
      on: {
        matched: { to: 'identity-checked' },
        alreadyLinked: { to: 'identity-already-linked' },
      },
    },
    'enter-gp-details': {
      method: 'gp-linkage',
      on: {
        matched: { to: 'identity-checked' },
        alreadyLinked: { to: 'identity-already-linked' },
        // "I do not have these details: use photo ID instead" (offered only when photo ID is on).
        photoIdChosen: { to: 'provide-photo-id' },
      },
    },
    // Nothing is proven here: a reviewer decides later and the person is emailed (D19).
    'provide-photo-id': {
      method: 'photo-id',
      on: { submitted: { to: 'identity-check-pending' } },
    },
    'identity-check-pending': {
      end: 'abort',
      page: 'identity-check-pending',
      error: 'access_denied',
      description: 'identity verification pending',
    },
    'identity-already-linked': {
      end: 'abort',
      page: 'identity-already-linked',
      error: 'access_denied',
      description: 'identity verification failed',
    },
    'enter-security-code': {
      method: 'sms-code',
      on: {
        verified: { to: 'signed-in' },
        mobileUnavailable: { to: 'change-mobile-confirm-email' },
        authenticatorAppRequested: { to: 'enter-authenticator-code' },
        // As on the app step: never offered in a step-up.
        recoveryCodeRequested: { to: 'method-not-available' },
      },
    },
    ...changeMobileSteps('mobile-change-held'),
    'mobile-change-held': {
      end: 'abort',
      page: 'mobile-change-held',
      error: 'access_denied',
      description: 'authentication method not available',
    },
    'identity-verification-required': {
      end: 'abort',
      page: 'identity-verification-required',
      error: 'access_denied',
      description: 'identity verification required',
    },
    'method-not-available': {
      end: 'abort',
      page: 'authentication-method-not-available',
      error: 'access_denied',
      description: 'authentication method not available',
    },
    'signed-in': { end: 'login' },
  },
});
