import type { DataSource } from 'typeorm';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import type { PatientRecord } from '../demographics/patient-demographics.js';
import type { ProofingLevel } from '../provider/vectors.js';
import type { Audit } from '../security/audit.js';

/**
 * Writes the outcome of an identity check onto the account: the level reached and the register's
 * details (name, date of birth, postcode, GP practice, NHS number), which from then on are what
 * services receive, not what the person typed. One NHS number belongs to one account (NHS login's
 * CID7004/CID2012): the partial unique index on account.nhs_number decides a race between two.
 */
export interface IdentityProofing {
  record(input: {
    readonly accountId: string;
    readonly level: Exclude<ProofingLevel, 'P0'>;
    readonly patient: PatientRecord;
    /** Which proofing route established it (a method id), for the audit trail. */
    readonly route: string;
    /** GP online (IM1) credentials the route proved, released at P9 with the gp_integration_credentials scope. */
    readonly gpOnline?: { readonly accountId: string; readonly linkageKey: string };
    readonly clientId?: string;
    readonly ip?: string;
  }): Promise<'proofed' | 'already-linked'>;
}

export function createIdentityProofing(deps: { dataSource: DataSource; audit: Audit }): IdentityProofing {
  const { dataSource, audit } = deps;
  return {
    async record({ accountId, level, patient, route, gpOnline, clientId, ip }) {
      try {
        return await dataSource.transaction(async (manager) => {
          const [taken] = await queryRows(manager, 'SELECT 1 FROM account WHERE nhs_number = $1 AND id <> $2', [patient.nhsNumber, accountId]);
          if (taken) {
            await audit.record('identity.already_linked', { accountId, clientId, ip, detail: { route, level } }, manager);
            return 'already-linked' as const;
          }
          // Never lowers a level already reached (a P9 account checked again stays P9).
          const updated = await queryRows(
            manager,
            `UPDATE account SET
               proofing_level = CASE WHEN proofing_level = 'P9' THEN 'P9' ELSE $2::varchar END,
               nhs_number = $3, given_name = $4, family_name = $5, birthdate = $6::date, postcode = $7, gp_ods_code = $8,
               gp_user_id = COALESCE($9::varchar, gp_user_id), gp_linkage_key = COALESCE($10::varchar, gp_linkage_key),
               demographics_checked_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'active'
             RETURNING proofing_level`,
            [accountId, level, patient.nhsNumber, patient.givenNames.join(' '), patient.familyName, patient.birthdate, patient.postcode, patient.gpOdsCode, gpOnline?.accountId ?? null, gpOnline?.linkageKey ?? null],
          );
          if (updated.length === 0) throw new Error('identity proofing: the account is gone or no longer active');
          await audit.record('identity.proofed', { accountId, clientId, ip, detail: { route, level } }, manager);
          return 'proofed' as const;
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        await audit.record('identity.already_linked', { accountId, clientId, ip, detail: { route, level, race: true } });
        return 'already-linked';
      }
    },
  };
}
