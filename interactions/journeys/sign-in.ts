import { defineJourney } from '../engine/types.js';

/**
 * Signing in (oidc-provider prompt `login`): email address, password, then a security code to the
 * account's verified mobile. An account with no verified mobile cannot finish signing in yet:
 * adding one is the next issue, and a login must never claim a second factor it did not check.
 */
export const signInJourney = defineJourney({
  id: 'sign-in',
  start: 'enter-email',
  steps: {
    'enter-email': { method: 'email', on: { submitted: { to: 'enter-password' } } },
    'enter-password': {
      method: 'password',
      on: { verified: { to: 'choose-second-factor' }, emailChangeRequested: { to: 'enter-email' } },
    },
    'choose-second-factor': {
      on: {
        next: [
          { to: 'enter-security-code', when: 'hasVerifiedMobile' },
          { to: 'mobile-number-required' },
        ],
      },
    },
    'enter-security-code': { method: 'sms-code', on: { verified: { to: 'signed-in' } } },
    'mobile-number-required': {
      end: 'abort',
      page: 'mobile-number-required',
      error: 'access_denied',
      description: 'authentication method not available',
    },
    'signed-in': { end: 'login' },
  },
});
