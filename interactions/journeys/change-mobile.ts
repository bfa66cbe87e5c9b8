/**
 * "I cannot access my mobile" (from the security code page), as steps shared by the sign-in and
 * step-up journeys: confirm the email address with a code (proves nothing, X1), enter a new UK
 * mobile, prove it with a code texted to it (Cd, amr sms). The account's mobile changes only at
 * that last step, so the login claims exactly what was proven: pwd (sign-in) + sms.
 *
 * A fragment rather than a journey of its own: an interaction runs one journey, and this one
 * must carry on into the same login. Each journey that spreads these steps needs the
 * `enter-security-code` and `signed-in` steps they lead back to.
 */
export const changeMobileSteps = {
  'change-mobile-confirm-email': { method: 'change-mobile-email-code', on: { verified: { to: 'change-mobile-enter-number' } } },
  'change-mobile-enter-number': { method: 'change-mobile-number', on: { submitted: { to: 'change-mobile-confirm-number' } } },
  'change-mobile-confirm-number': {
    method: 'change-mobile-code',
    on: { verified: { to: 'signed-in' }, numberChangeRequested: { to: 'change-mobile-enter-number' } },
  },
} as const;
