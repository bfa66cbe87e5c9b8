import type { DataSource } from 'typeorm';
import { queryRows } from '../db/sql.js';
import type { PatientRecord, TraceQuery } from '../demographics/patient-demographics.js';
import type { FakeGpRegistration } from '../gp-online/fake-gp-online.js';

/**
 * Test users in the fake patient register and the fake GP system (decisions D27): a test user made
 * at P5 or P9, or at P0 with --in-register, is a patient `fake-pds` can trace and retrieve, and with
 * GP online credentials a registration `fake-im1` knows, so the identity-check journeys work for them
 * as for the built-in patients. Only the fake adapters consult this; `pds-fhir` never does.
 */
export interface TestUserRegister {
  /** In-register test users a trace could match: the one with the NHS number, or those born that day. */
  candidates(query: Pick<TraceQuery, 'nhsNumber' | 'birthdate'>): Promise<PatientRecord[]>;
  /** The in-register test user with this NHS number. */
  patient(nhsNumber: string): Promise<PatientRecord | undefined>;
  /** The GP online registration (and its patient) of an in-register test user at this practice with this account ID. */
  registration(odsCode: string, accountId: string): Promise<{ registration: FakeGpRegistration; patient: PatientRecord } | undefined>;
}

interface RegisterRow {
  nhs_number: string;
  given_name: string;
  family_name: string;
  birthdate: string | Date;
  postcode: string;
  gp_ods_code: string;
  gp_user_id: string | null;
  gp_linkage_key: string | null;
}

const COLUMNS = `nhs_number, given_name, family_name, to_char(birthdate, 'YYYY-MM-DD') AS birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key`;

function toPatient(row: RegisterRow): PatientRecord {
  return {
    nhsNumber: row.nhs_number,
    givenNames: row.given_name.split(/\s+/).filter(Boolean),
    familyName: row.family_name,
    birthdate: String(row.birthdate),
    postcode: row.postcode,
    gpOdsCode: row.gp_ods_code,
  };
}

export function createTestUserRegister(dataSource: DataSource): TestUserRegister {
  return {
    async candidates(query) {
      const rows = await queryRows<RegisterRow>(
        dataSource,
        `SELECT ${COLUMNS} FROM test_user WHERE in_register AND (nhs_number = $1::varchar OR ($1::varchar IS NULL AND birthdate = $2::date))`,
        [query.nhsNumber ?? null, query.birthdate],
      );
      return rows.map(toPatient);
    },
    async patient(nhsNumber) {
      const [row] = await queryRows<RegisterRow>(dataSource, `SELECT ${COLUMNS} FROM test_user WHERE in_register AND nhs_number = $1`, [nhsNumber]);
      return row ? toPatient(row) : undefined;
    },
    async registration(odsCode, accountId) {
      const [row] = await queryRows<RegisterRow>(
        dataSource,
        `SELECT ${COLUMNS} FROM test_user WHERE in_register AND gp_ods_code = upper($1) AND gp_user_id = $2 AND gp_linkage_key IS NOT NULL`,
        [odsCode, accountId],
      );
      if (!row) return undefined;
      return { registration: { nhsNumber: row.nhs_number, odsCode: row.gp_ods_code, accountId: row.gp_user_id!, linkageKey: row.gp_linkage_key! }, patient: toPatient(row) };
    },
  };
}
