import { defineJourney } from '../engine/types.js';
import { changeMobileSteps } from './change-mobile.js';

/**
 * Signing in (oidc-provider prompt `login`): email address, password, then a code from the account's
 * authenticator app or a security code to its verified mobile, or a saved recovery code (which proves no second factor, D21). An account with no verified mobile adds one (a code texted to it
 * proves it) before it can finish: a login never claims a second factor it did not check.
 */
export const signInJourney = defineJourney({
  id: 'sign-in',
  start: 'enter-email',
  steps: {
    'enter-email': { method: 'email', on: { submitted: { to: 'enter-password' }, passkeyChosen: { to: 'use-passkey' } } },
    // A passkey is both factors (Cm): no password, no code. Offered when the service accepts Cm.
    'use-passkey': { method: 'passkey', on: { verified: { to: 'signed-in' }, back: { to: 'enter-email' } } },
    'enter-password': {
      method: 'password',
      on: { verified: { to: 'choose-second-factor' }, emailChangeRequested: { to: 'enter-email' }, back: { to: 'enter-email' } },
    },
    'choose-second-factor': {
      on: {
        next: [
          { to: 'enter-authenticator-code', when: 'authenticatorAppFirst' },
          { to: 'enter-security-code', when: 'hasVerifiedMobile' },
          { to: 'mobile-number-required' },
        ],
      },
    },
    // An app code (Ck). A remembered browser, or "Use a text message instead", goes to the text
    // message step, which the method offers only when a code by text would do for the service.
    'enter-authenticator-code': {
      method: 'authenticator-code',
      on: {
        verified: { to: 'signed-in' },
        textMessageRequested: { to: 'enter-security-code' },
        deviceRemembered: { to: 'enter-security-code' },
        recoveryCodeRequested: { to: 'enter-recovery-code' },
      },
    },
    // A remembered device also ends here with `verified` (amr remembered_device, Cd) without a page.
    'enter-security-code': {
      method: 'sms-code',
      on: {
        verified: { to: 'signed-in' },
        mobileUnavailable: { to: 'change-mobile-confirm-email' },
        authenticatorAppRequested: { to: 'enter-authenticator-code' },
        recoveryCodeRequested: { to: 'enter-recovery-code' },
      },
    },
    // "Use a recovery code" (D21), offered to an account with unused codes. A recovery code proves no
    // credential: the login reports Cp alone, and the next page offers a new set (NIST §4.2.1.1).
    'enter-recovery-code': {
      method: 'recovery-code',
      on: { used: { to: 'recovery-code-used' }, authenticatorAppRequested: { to: 'enter-authenticator-code' }, textMessageRequested: { to: 'enter-security-code' } },
    },
    'recovery-code-used': { method: 'new-recovery-codes', on: { continued: { to: 'signed-in' }, authenticatorAppSetUpRequested: { to: 'set-up-authenticator-app' } } },
    // The way back for a person who lost the phone their app was on: a new app, proved by its code (Ck).
    'set-up-authenticator-app': { method: 'set-up-authenticator-app', on: { added: { to: 'signed-in' }, skipped: { to: 'signed-in' } } },
    ...changeMobileSteps('signed-in'),
    // No verified mobile (NHS login help 002 §2.2): add one and prove it with a code, then sign in.
    // An account whose registration was never confirmed confirms its email address first.
    'mobile-number-required': {
      on: {
        next: [
          { to: 'add-mobile-number', when: 'hasVerifiedEmail' },
          { to: 'confirm-email' },
        ],
      },
    },
    'confirm-email': { method: 'confirm-email', on: { confirmed: { to: 'add-mobile-number' } } },
    'add-mobile-number': { method: 'mobile-number', on: { submitted: { to: 'confirm-mobile' } } },
    'confirm-mobile': { method: 'confirm-mobile', on: { verified: { to: 'mobile-added' }, changeNumberRequested: { to: 'add-mobile-number' }, back: { to: 'add-mobile-number' } } },
    // A login end of its own, so the log and the lint test tell "signed in with a new mobile" apart.
    'mobile-added': { end: 'login' },
    'signed-in': { end: 'login' },
  },
});
