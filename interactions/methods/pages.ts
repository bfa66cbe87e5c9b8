import { minutesText } from '../../src/web/durations.js';
import { ERROR_REFERENCES } from '../../src/web/error-references.js';
import type { View } from './types.js';

const LOCKED_REFERENCES = {
  'security-code': { locked: ERROR_REFERENCES.securityCodeLocked, off: ERROR_REFERENCES.securityCodesTurnedOff },
  'authenticator-app': { locked: ERROR_REFERENCES.authenticatorAppLocked, off: ERROR_REFERENCES.authenticatorAppTurnedOff },
  'recovery-code': { locked: ERROR_REFERENCES.recoveryCodeLocked, off: ERROR_REFERENCES.recoveryCodesTurnedOff },
} as const;

/** Pages several methods show when a person has to wait. Copy lives in the templates. */

export { minutesText };

/**
 * 429: too many failed attempts from this network across accounts (per-IP throttle, A4), or too
 * many texts to this network or number block (B4), which the page words differently.
 */
export function tooManyRequestsView(retryAfterSeconds: number, reason: 'attempts' | 'texts' | 'uploads' = 'attempts', extra: Record<string, unknown> = {}): View {
  const reference = reason === 'texts' ? ERROR_REFERENCES.textsThrottled : reason === 'uploads' ? ERROR_REFERENCES.photoIdUploadsThrottled : ERROR_REFERENCES.networkThrottled;
  return { template: 'too-many-requests.njk', data: { wait: minutesText(retryAfterSeconds), retryAfterSeconds, reason, reference, ...extra }, status: 429 };
}

/** A step locked after too many wrong answers (X8), or disabled at the hard cap (no time ends that). */
export function lockedView(options: { retryAfterSeconds: number; disabled: boolean; what: 'security-code' | 'authenticator-app' | 'recovery-code'; canUseTextMessage?: boolean; canUseRecoveryCode?: boolean }): View {
  return {
    template: 'locked.njk',
    data: {
      wait: minutesText(options.retryAfterSeconds),
      retryAfterSeconds: options.retryAfterSeconds,
      disabled: options.disabled,
      what: options.what,
      canUseTextMessage: options.canUseTextMessage === true,
      // A locked app or text message step in sign-in still lets an account with saved codes in (D21).
      canUseRecoveryCode: options.canUseRecoveryCode === true && options.what !== 'recovery-code',
      reference: LOCKED_REFERENCES[options.what][options.disabled ? 'off' : 'locked'],
    },
    status: 429,
  };
}

/**
 * 403: the account was disabled by the support desk (NHS login's CID2012). Shown only after the
 * right password or the account's passkey, so it tells nothing to someone who has neither.
 */
export function accountDisabledView(): View {
  return { template: 'account-disabled.njk', data: { reference: ERROR_REFERENCES.accountDisabled }, status: 403 };
}

/** Identity checks locked after too many sets of details the register did not find (identityCheckPolicy). */
export function identityCheckLockedView(retryAfterSeconds: number): View {
  return { template: 'identity-check-locked.njk', data: { wait: minutesText(retryAfterSeconds), retryAfterSeconds, reference: ERROR_REFERENCES.identityCheckLocked }, status: 429 };
}
