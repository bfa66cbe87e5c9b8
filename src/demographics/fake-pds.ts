import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isValidNhsNumber } from '../accounts/nhs-number.js';
import { ConfigError } from '../errors.js';
import type { TestUserRegister } from '../test-users/register.js';
import { FAKE_PDS_PATIENTS } from './fake-pds-patients.js';
import { nameKey, postcodeKey, type PatientDemographics, type PatientRecord, type TraceQuery, type TraceResult } from './patient-demographics.js';

/**
 * A stand-in for PDS (nhs-login.md §5.2, §5.5): the fictional patients of fake-pds-patients.ts, or
 * an RP developer's own file (FAKE_PDS_FILE, docs/personas.md "Test patients"), traced the way PDS
 * traces for NHS login's P5 check:
 *
 * - with an NHS number: that record, and its date of birth and postcode must agree;
 * - without: family name, first given name, date of birth and postcode must all agree, and exactly
 *   one record may do so (two records is "several records", never a guess between them);
 * - a record with a date of death never matches.
 *
 * With `testUsers`, the register also holds the test users made in register (D27), as if they were
 * in the file.
 */
export function createFakePds(patients: readonly PatientRecord[] = FAKE_PDS_PATIENTS, testUsers?: TestUserRegister): PatientDemographics {
  return {
    source: 'fake-pds',
    enabled: true,
    async trace(query) {
      return tracePatients(testUsers ? [...patients, ...(await testUsers.candidates(query))] : patients, query);
    },
    async retrieve(nhsNumber) {
      const patient = patients.find((p) => p.nhsNumber === nhsNumber) ?? (await testUsers?.patient(nhsNumber));
      return patient ? { kind: 'found', patient } : { kind: 'no-record' };
    },
  };
}

export function tracePatients(patients: readonly PatientRecord[], query: TraceQuery): TraceResult {
  const sameBirthAndAddress = (p: PatientRecord): boolean => p.birthdate === query.birthdate && postcodeKey(p.postcode) === postcodeKey(query.postcode);
  let candidates: PatientRecord[];
  if (query.nhsNumber) {
    const record = patients.find((p) => p.nhsNumber === query.nhsNumber);
    if (!record) return { kind: 'not-matched', why: 'no-record' };
    if (!sameBirthAndAddress(record)) return { kind: 'not-matched', why: 'details-differ' };
    candidates = [record];
  } else {
    const family = nameKey(query.familyName ?? '');
    const given = nameKey(query.givenName ?? '');
    if (!family || !given) return { kind: 'not-matched', why: 'no-record' };
    candidates = patients.filter((p) => nameKey(p.familyName) === family && nameKey(p.givenNames[0] ?? '') === given && sameBirthAndAddress(p));
    if (candidates.length === 0) return { kind: 'not-matched', why: 'no-record' };
    if (candidates.length > 1) return { kind: 'not-matched', why: 'several-records' };
  }
  const patient = candidates[0]!;
  if (patient.deceased) return { kind: 'not-matched', why: 'deceased' };
  return { kind: 'matched', patient };
}

/** The register that is always down (DEMOGRAPHICS_SOURCE=unavailable), to try the "cannot check now" page. */
export function createUnavailablePds(): PatientDemographics {
  return { source: 'unavailable', enabled: true, trace: async () => ({ kind: 'unavailable' }), retrieve: async () => ({ kind: 'unavailable' }) };
}

/** Identity checks switched off (DEMOGRAPHICS_SOURCE=none): services asking for P5 get an honest refusal. */
export function createNoDemographics(): PatientDemographics {
  return { source: 'none', enabled: false, trace: async () => ({ kind: 'unavailable' }), retrieve: async () => ({ kind: 'unavailable' }) };
}

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'must be a real date');
const patientSchema = z.strictObject({
  nhsNumber: z.string().refine(isValidNhsNumber, 'must be a checksum-valid NHS number'),
  givenNames: z.array(z.string().trim().min(1).max(100)).min(1),
  familyName: z.string().trim().min(1).max(100),
  birthdate: isoDate,
  postcode: z.string().regex(/^[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}$/, 'must be a UK postcode'),
  gpOdsCode: z.string().regex(/^[A-Z0-9]{3,10}$/).nullable(),
  deceased: isoDate.optional(),
});

/** Reads and checks a FAKE_PDS_FILE: a JSON array of patients; a bad one stops the start, naming the entry and field. */
export function loadFakePdsFile(file: string): PatientRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`FAKE_PDS_FILE ${file} could not be read as JSON: ${(error as Error).message}`);
  }
  const result = z.array(patientSchema).safeParse(parsed);
  if (!result.success) throw new ConfigError(`FAKE_PDS_FILE ${file} is not valid: ${z.prettifyError(result.error)}`);
  const seen = new Set<string>();
  for (const patient of result.data) {
    if (seen.has(patient.nhsNumber)) throw new ConfigError(`FAKE_PDS_FILE ${file} lists NHS number ${patient.nhsNumber} twice`);
    seen.add(patient.nhsNumber);
  }
  return result.data;
}
