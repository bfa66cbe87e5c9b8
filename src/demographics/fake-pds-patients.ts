import type { PatientRecord } from './patient-demographics.js';

/**
 * The fake register's fictional patients (docs/personas.md "Test patients" lists them; keep the two
 * in step). NHS numbers are checksum-valid and start 99, outside the ranges issued to real people;
 * postcodes are real-looking city-centre ones; ODS codes are shaped like GP practice codes.
 * test/demographics/fake-pds.test.ts checks every entry. The P5 and P9 personas' NHS numbers are
 * deliberately absent: persona seeding resets them on every start, and an account that had proven
 * itself as one of them would then collide with the persona (one account per NHS number).
 */
export const FAKE_PDS_PATIENTS: readonly PatientRecord[] = Object.freeze([
  // For the P0 persona (or any new account) to prove who they are.
  { nhsNumber: '9910113716', givenNames: ['Jordan'], familyName: 'Reid', birthdate: '1990-10-10', postcode: 'G1 1XQ', gpOdsCode: 'S10002' },
  { nhsNumber: '9910000016', givenNames: ['Amara'], familyName: 'Patel', birthdate: '1991-02-03', postcode: 'M1 1AE', gpOdsCode: 'P84012' },
  { nhsNumber: '9910011387', givenNames: ['Thomas', 'Patrick'], familyName: "O'Brien", birthdate: '1978-11-30', postcode: 'CF10 1EP', gpOdsCode: 'W97016' },
  { nhsNumber: '9910022753', givenNames: ['Zoë'], familyName: 'Hughes', birthdate: '2001-06-15', postcode: 'BS1 4DJ', gpOdsCode: 'L81010' },
  { nhsNumber: '9910068230', givenNames: ['Aled'], familyName: 'Jones', birthdate: '1995-12-01', postcode: 'LL57 2DG', gpOdsCode: 'W94011' },
  { nhsNumber: '9910079607', givenNames: ['Priya'], familyName: 'Sharma-Lewis', birthdate: '1983-05-22', postcode: 'B1 1BB', gpOdsCode: 'M85001' },
  // Two live records with the same name, birth date and postcode: without the NHS number, no match.
  { nhsNumber: '9910034123', givenNames: ['Sam'], familyName: 'Taylor', birthdate: '1988-09-09', postcode: 'EX1 1AA', gpOdsCode: 'L83001' },
  { nhsNumber: '9910045494', givenNames: ['Sam'], familyName: 'Taylor', birthdate: '1988-09-09', postcode: 'EX1 1AA', gpOdsCode: 'L83002' },
  // The register records a death: never matches.
  { nhsNumber: '9910056860', givenNames: ['Margaret'], familyName: 'Ellis', birthdate: '1931-04-12', postcode: 'SW1A 2AA', gpOdsCode: 'E87010', deceased: '2024-01-20' },
].map((patient) => Object.freeze(patient as PatientRecord)));
