import type { PatientRecord } from '../demographics/patient-demographics.js';

/**
 * The port to GP online services (IM1): a GP surgery registers a patient for online services and
 * gives them a letter with three details, the practice's ODS code, an account ID and a linkage key.
 * NHS login accepts those, with the patient's last name and date of birth, as proof at P9 ("POL",
 * nhs-login.md §5.3), because the surgery checked the patient's photo ID when it registered them.
 *
 * Adapters (GP_ONLINE_SOURCE, docs/configuration.md): `fake-im1` (fake-gp-online.ts, documented
 * registrations for the fake register's patients), `unavailable` (always down) and `none` (the
 * route is switched off). A real adapter would call the GP system supplier's linkage API.
 */
export interface GpRegistrationQuery {
  /** The practice's ODS code, upper case ("A12345"). */
  readonly odsCode: string;
  readonly accountId: string;
  readonly linkageKey: string;
  readonly familyName: string;
  /** YYYY-MM-DD. */
  readonly birthdate: string;
}

export type GpRegistrationResult =
  | { readonly kind: 'matched'; readonly patient: PatientRecord; readonly accountId: string; readonly linkageKey: string }
  /** Unknown details, or a last name or date of birth that differs: never said apart to the person. */
  | { readonly kind: 'not-matched'; readonly why: 'no-registration' | 'details-differ' }
  | { readonly kind: 'unavailable' };

export interface GpOnlineRegistration {
  readonly source: 'fake-im1' | 'unavailable' | 'none';
  readonly enabled: boolean;
  verify(query: GpRegistrationQuery): Promise<GpRegistrationResult>;
}
