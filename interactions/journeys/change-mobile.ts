/**
 * "I cannot access my mobile" (from the security code page), as steps shared by the sign-in and
 * step-up journeys: confirm the email address with a code, enter a new UK mobile, prove it with a
 * code texted to it. None of these proves a credential (security-bar X1): the text proves only that
 * the person holds the phone they chose. The new number is held (MOBILE_CHANGE_HOLD_SECONDS, 24
 * hours) before it replaces the old one, with a cancel link to the email address and the old
 * number (src/accounts/mobile-change.ts); the page after says so. A sign-in that went this way
 * reports `Cp` alone.
 *
 * A fragment rather than a journey of its own: an interaction runs one journey, and this one must
 * carry on into the same login. `afterHold` is where the journey goes from the "being changed" page:
 * the sign-in journey's login (Cp), or the step-up journey's honest end (the Cd it needs cannot be
 * had until the hold ends). A change cancelled before Continue ends the journey without a sign-in.
 */
export function changeMobileSteps<After extends string>(afterHold: After) {
  return {
    'change-mobile-confirm-email': { method: 'change-mobile-email-code', on: { verified: { to: 'change-mobile-enter-number' } } },
    'change-mobile-enter-number': { method: 'change-mobile-number', on: { submitted: { to: 'change-mobile-confirm-number' } } },
    'change-mobile-confirm-number': {
      method: 'change-mobile-code',
      on: { verified: { to: 'change-mobile-held' }, numberChangeRequested: { to: 'change-mobile-enter-number' }, back: { to: 'change-mobile-enter-number' } },
    },
    'change-mobile-held': { method: 'mobile-change-held', on: { continued: { to: afterHold }, cancelled: { to: 'mobile-change-cancelled' } } },
    // The owner cancelled the change (or a newer one replaced it) before Continue: no sign-in.
    'mobile-change-cancelled': {
      end: 'abort',
      page: 'mobile-change-cancelled',
      error: 'access_denied',
      description: 'mobile number change cancelled',
    },
  } as const;
}
