import { defineJourney } from '../engine/types.js';
import { changeMobileSteps } from './change-mobile.js';

/**
 * Stepping up (oidc-provider prompt `vtr`): the session is signed in but does not meet the vector
 * of trust the service asked for. A missing authenticator app code (Ck) or security code (Cd) is
 * asked for here, for the session's own account; everything else gets an honest page and `access_denied`, because a
 * login must never claim more than was done. Identity verification arrives in a later issue.
 */
export const stepUpJourney = defineJourney({
  id: 'step-up',
  start: 'assess',
  steps: {
    assess: {
      on: {
        next: [
          { to: 'identity-verification-required', when: 'identityVerificationRequired' },
          { to: 'enter-authenticator-code', when: 'authenticatorCodeCompletesStepUp' },
          { to: 'use-passkey', when: 'passkeyCompletesStepUp' },
          { to: 'mobile-change-held', when: 'mobileChangeHeld' },
          { to: 'enter-security-code', when: 'securityCodeCompletesStepUp' },
          { to: 'method-not-available' },
        ],
      },
    },
    'enter-authenticator-code': {
      method: 'authenticator-code',
      on: {
        verified: { to: 'signed-in' },
        // Offered only when a code by text meets a vector asked for (textMessageCompletes).
        textMessageRequested: { to: 'enter-security-code' },
        deviceRemembered: { to: 'enter-security-code' },
      },
    },
    'use-passkey': { method: 'passkey', on: { verified: { to: 'signed-in' } } },
    'enter-security-code': {
      method: 'sms-code',
      on: { verified: { to: 'signed-in' }, mobileUnavailable: { to: 'change-mobile-confirm-email' }, authenticatorAppRequested: { to: 'enter-authenticator-code' } },
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
