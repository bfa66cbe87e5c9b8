import type { Account } from '../../entities/account.js';
import { nameKey, postcodeKey, type PatientRecord } from '../demographics/patient-demographics.js';

/**
 * A reviewer's re-check of the NHS record behind a case (NHS login's ID checker re-runs the PDS
 * trace with the NHS number; nhs-login.md §5.4): does the register still hold the details the
 * account was matched to at P5, and is the person recorded as having died? Only whether each detail
 * matches is kept and shown, never the register's values (data minimisation).
 */
export type RecordCheck =
  | { readonly found: false }
  | { readonly found: true; readonly name: boolean; readonly birthdate: boolean; readonly postcode: boolean; readonly deceased: boolean };

export function compareRecord(account: Pick<Account, 'givenName' | 'familyName' | 'birthdate' | 'postcode'>, patient: PatientRecord): RecordCheck {
  return {
    found: true,
    name: nameKey(account.givenName ?? '') === nameKey(patient.givenNames.join(' ')) && nameKey(account.familyName ?? '') === nameKey(patient.familyName),
    birthdate: isoDate(account.birthdate) === patient.birthdate,
    postcode: postcodeKey(account.postcode ?? '') === postcodeKey(patient.postcode),
    deceased: Boolean(patient.deceased),
  };
}

/** Anything but "found, every detail matches, alive" makes Approve ask for a deliberate confirmation. */
export function needsConfirmation(check: RecordCheck | undefined): boolean {
  return Boolean(check) && (!check!.found || !check!.name || !check!.birthdate || !check!.postcode || check!.deceased);
}

/** The date column as YYYY-MM-DD: a driver may give a string, or a Date at local midnight (pg's own parser). */
function isoDate(value: string | Date | null): string {
  if (!value) return '';
  if (value instanceof Date) return `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`;
  return String(value).slice(0, 10);
}
