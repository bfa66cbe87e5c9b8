/**
 * The reference codes NHS login shows on its error pages ("CID" codes, nhs-login.md: its help
 * centre tells people what each means, and support staff ask for them). carelogin uses NHS login's
 * code where it has the same situation, so a person or a helpdesk used to NHS login recognises it.
 * Pages show one through the `errorReference` macro in src/views/partials/reference.njk.
 */
export const ERROR_REFERENCES = {
  resetLinkExpired: 'CID2021',
  resetLinkUsed: 'CID2022',
  resetLinkBroken: 'CID2023',
  unknownClient: 'CID2024',
  // The support desk disabled the account (docs/back-office.md "Support desk").
  accountDisabled: 'CID2012',
  // carelogin's own (CL), for situations NHS login publishes no code for.
  securityCodeLocked: 'CL1001',
  securityCodesTurnedOff: 'CL1002',
  authenticatorAppLocked: 'CL1003',
  authenticatorAppTurnedOff: 'CL1004',
  recoveryCodeLocked: 'CL1033',
  recoveryCodesTurnedOff: 'CL1034',
  networkThrottled: 'CL1010',
  textsThrottled: 'CL1011',
  // The text message provider could not take a security code (security-bar G3, D29).
  securityCodeNotSent: 'CL1080',
  identityVerificationRequired: 'CL1020',
  identityCheckLocked: 'CL1025',
  identityAlreadyLinked: 'CL1027',
  identityCheckPending: 'CL1030',
  photoIdUploadsThrottled: 'CL1031',
  photoIdUploadTooLarge: 'CL1032',
  backOfficeAssignedElsewhere: 'CL1040',
  backOfficeRegisterUnavailable: 'CL1041',
  // The support desk's hourly cap on account look-ups per member of staff (D28).
  supportLookupsCapped: 'CL1070',
  methodNotAvailable: 'CL1021',
  mobileNumberRequired: 'CL1022',
  mobileChangeHeld: 'CL1023',
  mobileChangeCancelled: 'CL1024',
} as const;

/** The reference of each "cannot continue" page (interactions/engine/types.ts CannotContinuePage). */
export const CANNOT_CONTINUE_REFERENCES: Readonly<Record<string, ErrorReference>> = {
  'identity-verification-required': ERROR_REFERENCES.identityVerificationRequired,
  'identity-already-linked': ERROR_REFERENCES.identityAlreadyLinked,
  'identity-check-pending': ERROR_REFERENCES.identityCheckPending,
  'authentication-method-not-available': ERROR_REFERENCES.methodNotAvailable,
  'mobile-number-required': ERROR_REFERENCES.mobileNumberRequired,
  'mobile-change-held': ERROR_REFERENCES.mobileChangeHeld,
  'mobile-change-cancelled': ERROR_REFERENCES.mobileChangeCancelled,
};

export type ErrorReference = (typeof ERROR_REFERENCES)[keyof typeof ERROR_REFERENCES];
