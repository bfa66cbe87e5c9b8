import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/index.js';
import { FAKE_PDS_PATIENTS } from '../demographics/fake-pds-patients.js';
import { nameKey, type PatientRecord } from '../demographics/patient-demographics.js';
import type { TestUserRegister } from '../test-users/register.js';
import type { GpOnlineRegistration, GpRegistrationResult, GpRegistrationQuery } from './gp-online-registration.js';

/** A registration for GP online services, as the surgery's letter gives it. */
export interface FakeGpRegistration {
  readonly nhsNumber: string;
  readonly odsCode: string;
  readonly accountId: string;
  readonly linkageKey: string;
}

/**
 * Registrations for some of the fake register's patients (docs/personas.md "Test patients"; keep
 * the two in step). Each is at the practice the register gives for the patient.
 */
export const FAKE_GP_REGISTRATIONS: readonly FakeGpRegistration[] = Object.freeze([
  { nhsNumber: '9910113716', odsCode: 'S10002', accountId: '5100234871', linkageKey: 'Kq7RmT2xWp9Ld' },
  { nhsNumber: '9910000016', odsCode: 'P84012', accountId: '5100381142', linkageKey: 'Vb4NcH8sZe3Qy' },
  { nhsNumber: '9910068230', odsCode: 'W94011', accountId: '5100472290', linkageKey: 'Jw2FtY6kMa5Rn' },
  { nhsNumber: '9910079607', odsCode: 'M85001', accountId: '5100518863', linkageKey: 'Gx9DpL3vQc7Hs' },
].map((registration) => Object.freeze(registration)));

/**
 * The linkage check: the practice and account ID find the registration, the linkage key must be
 * exactly the letter's (compared in constant time), and the last name and date of birth must be the
 * patient's on the register (nhs-login.md §5.3: "enter your name and date of birth when prompted").
 */
export function verifyRegistration(registrations: readonly FakeGpRegistration[], patients: readonly PatientRecord[], query: GpRegistrationQuery): GpRegistrationResult {
  const registration = registrations.find((r) => r.odsCode === query.odsCode.toUpperCase() && r.accountId === query.accountId);
  if (!registration || !sameSecret(registration.linkageKey, query.linkageKey)) return { kind: 'not-matched', why: 'no-registration' };
  const patient = patients.find((p) => p.nhsNumber === registration.nhsNumber);
  if (!patient || patient.deceased || nameKey(patient.familyName) !== nameKey(query.familyName) || patient.birthdate !== query.birthdate) {
    return { kind: 'not-matched', why: 'details-differ' };
  }
  return { kind: 'matched', patient, accountId: registration.accountId, linkageKey: registration.linkageKey };
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The adapter GP_ONLINE_SOURCE selects. `testUsers`: the GP online registrations of test users made in
 * register (D27), which `fake-im1` knows as well as its own.
 */
export function createGpOnlineRegistration(config: Config, patients: readonly PatientRecord[] = FAKE_PDS_PATIENTS, testUsers?: TestUserRegister): GpOnlineRegistration {
  switch (config.identityChecks.gpOnline.source) {
    case 'fake-im1':
      return {
        source: 'fake-im1',
        enabled: true,
        async verify(query) {
          const testUser = await testUsers?.registration(query.odsCode, query.accountId);
          return testUser ? verifyRegistration([testUser.registration], [testUser.patient], query) : verifyRegistration(FAKE_GP_REGISTRATIONS, patients, query);
        },
      };
    case 'unavailable':
      return { source: 'unavailable', enabled: true, verify: async () => ({ kind: 'unavailable' }) };
    case 'none':
      return { source: 'none', enabled: false, verify: async () => ({ kind: 'unavailable' }) };
  }
}
