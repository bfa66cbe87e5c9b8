import { defineJourney } from '../engine/types.js';

/**
 * Creating an account (NHS login's help 004 and nhs-login.md §5.1), entered from the sign-in
 * journey's email page ("Create an account") in the same interaction, unless the service sent
 * allow_registration=false:
 *
 * 1. email address, password and the terms of use: the account row is created here, unconfirmed
 *    (src/accounts/registration.ts); an address that already has an account sees the same pages;
 * 2. the 6-digit code emailed to the address confirms it;
 * 3. a UK mobile number and the 6-digit code texted to it.
 *
 * The account is then P0 with its email and mobile verified, and the login carries amr
 * pwd (password chosen here) and sms (mobile proven here), so the service gets P0.Cp.Cd, or, if it
 * asked for P5/P9, the provider's honest access_denied. Leaving at any step and coming back
 * resumes there (journey_state); an unconfirmed account never reaches a login.
 */
export const createAccountJourney = defineJourney({
  id: 'create-account',
  start: 'enter-account-details',
  entry: {
    from: 'sign-in',
    steps: ['enter-email'],
    action: 'create-account',
    unlessParam: { name: 'allow_registration', value: 'false' },
    // Whatever was typed on the email page is already filled in (and on the way back).
    keep: ['email'],
    // "Sign in instead", before anything has been created.
    back: { steps: ['enter-account-details'], action: 'sign-in' },
  },
  // "Change email address" on "Check your email": the first page again, the address filled in to correct.
  restart: { steps: ['confirm-email'], action: 'change-email', keep: ['email'] },
  steps: {
    'enter-account-details': { method: 'new-account', on: { registered: { to: 'confirm-email' } } },
    'confirm-email': { method: 'confirm-email', on: { confirmed: { to: 'enter-mobile-number' } } },
    'enter-mobile-number': { method: 'mobile-number', on: { submitted: { to: 'confirm-mobile' } } },
    'confirm-mobile': { method: 'confirm-mobile', on: { verified: { to: 'account-created' }, changeNumberRequested: { to: 'enter-mobile-number' }, back: { to: 'enter-mobile-number' } } },
    'account-created': { end: 'login' },
  },
});
