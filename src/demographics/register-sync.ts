import type { DataSource } from 'typeorm';
import type { RegisterSyncSettings } from '../config/index.js';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Audit } from '../security/audit.js';
import type { PatientDemographics, PatientRecord } from './patient-demographics.js';

/**
 * Keeps proofed accounts' details current with the patient register (decisions D32). NHS login
 * shares PDS's name, date of birth and GP practice, not a copy frozen on the day someone proved who
 * they are: its test-data template even has a "Disable PDS Trace" flag to stop PDS sync overwriting
 * test data. So an account whose details were last read more than REGISTER_SYNC_DAYS ago is read
 * again by NHS number (PDS's "retrieve patient") and its details follow the register's.
 *
 * - Runs on the server's 5-minute timer, REGISTER_SYNC_BATCH accounts at a time, oldest first. A
 *   batch is claimed by stamping it in one statement (`FOR UPDATE SKIP LOCKED`), so instances never
 *   read the same account together; an account the register could not answer for gets its old
 *   stamp back and the batch stops there (a register that is down is not asked 50 times).
 * - Test personas and test users are left alone (their `test_persona` mark): their details are what
 *   a developer chose, the "Disable PDS Trace" of NHS login's template.
 * - What changes is written and audited (`identity.details_refreshed`, with which fields, never
 *   their values). A move to another GP practice drops the GP online (IM1) credentials, which
 *   belonged to the old practice's system; the identity level stays.
 * - A superseded NHS number (PDS answers under the number the records were merged into) is replaced,
 *   unless another account holds the new one (then nothing changes and an alert is logged).
 * - A record that is gone, or that records a death, changes nothing by itself: a register mistake
 *   must not lock a living person out. It is audited and logged at error level for the support desk,
 *   which can disable the account (D25).
 */
export interface RegisterSync {
  readonly enabled: boolean;
  /** Reads one batch of due accounts from the register; what happened, by outcome. */
  syncDue(): Promise<RegisterSyncSummary>;
}

export interface RegisterSyncSummary {
  readonly checked: number;
  readonly unchanged: number;
  readonly refreshed: number;
  /** No record, a death, or a superseded number already held: audited and alerted, nothing changed. */
  readonly flagged: number;
  /** The register could not be asked; the account is due again next run. */
  readonly unavailable: number;
}

interface DueAccount {
  id: string;
  nhs_number: string;
  given_name: string | null;
  family_name: string | null;
  birthdate: string | null;
  postcode: string | null;
  gp_ods_code: string | null;
  previous: Date | string | null;
}

/** The account columns a register record sets, and what each is called in the audit trail. */
const FIELDS = [
  ['nhs_number', 'nhsNumber'],
  ['given_name', 'givenName'],
  ['family_name', 'familyName'],
  ['birthdate', 'birthdate'],
  ['postcode', 'postcode'],
  ['gp_ods_code', 'gpOdsCode'],
] as const;

type Column = (typeof FIELDS)[number][0];

function registerValues(patient: PatientRecord): Record<Column, string | null> {
  return {
    nhs_number: patient.nhsNumber,
    given_name: patient.givenNames.join(' '),
    family_name: patient.familyName,
    birthdate: patient.birthdate,
    postcode: patient.postcode,
    gp_ods_code: patient.gpOdsCode,
  };
}

export function createRegisterSync(deps: { dataSource: DataSource; demographics: PatientDemographics; audit: Audit; logger: Logger; settings: RegisterSyncSettings }): RegisterSync {
  const { dataSource, demographics, audit, settings } = deps;
  const log = deps.logger.child({ component: 'register-sync' });
  const enabled = settings.days > 0 && demographics.enabled;

  /** Stamps the oldest due accounts as checked now and returns them with their previous stamp. */
  function claim(): Promise<DueAccount[]> {
    return queryRows<DueAccount>(
      dataSource,
      `UPDATE account a SET demographics_checked_at = now()
         FROM (SELECT id, demographics_checked_at AS previous FROM account
                WHERE nhs_number IS NOT NULL AND test_persona IS NULL AND status = 'active' AND proofing_level IN ('P5', 'P9')
                  AND (demographics_checked_at IS NULL OR demographics_checked_at < now() - $1::int * interval '1 day')
                ORDER BY demographics_checked_at NULLS FIRST
                LIMIT $2
                FOR UPDATE SKIP LOCKED) due
        WHERE a.id = due.id
        RETURNING a.id, a.nhs_number, a.given_name, a.family_name, a.birthdate::text AS birthdate, a.postcode, a.gp_ods_code, due.previous`,
      [settings.days, settings.batch],
    );
  }

  async function flag(account: DueAccount, why: 'no-record' | 'deceased' | 'number-held-elsewhere'): Promise<void> {
    await audit.record('identity.register_flagged', { accountId: account.id, detail: { why, source: demographics.source } });
    // Error level, so someone looks: the support desk decides (D25), nothing is changed here.
    log.error({ alert: 'register_record_flagged', accountId: account.id, why }, 'the patient register no longer supports an account\'s identity: for the support desk');
  }

  /** Writes what differs; true when something did. */
  async function refresh(account: DueAccount, patient: PatientRecord): Promise<boolean> {
    const wanted = registerValues(patient);
    const changed = FIELDS.filter(([column]) => (account[column] ?? null) !== wanted[column]);
    if (changed.length === 0) return false;
    const practiceMoved = account.gp_ods_code !== wanted.gp_ods_code;
    await dataSource.transaction(async (manager) => {
      await queryRows(
        manager,
        `UPDATE account SET nhs_number = $2, given_name = $3, family_name = $4, birthdate = $5::date, postcode = $6, gp_ods_code = $7,
                gp_user_id = CASE WHEN $8::boolean THEN NULL ELSE gp_user_id END,
                gp_linkage_key = CASE WHEN $8::boolean THEN NULL ELSE gp_linkage_key END,
                updated_at = now()
          WHERE id = $1 AND status = 'active'`,
        [account.id, wanted.nhs_number, wanted.given_name, wanted.family_name, wanted.birthdate, wanted.postcode, wanted.gp_ods_code, practiceMoved],
      );
      await audit.record('identity.details_refreshed', { accountId: account.id, detail: { fields: changed.map(([, name]) => name), gpOnlineCleared: practiceMoved, source: demographics.source } }, manager);
    });
    return true;
  }

  return {
    enabled,
    async syncDue() {
      const summary = { checked: 0, unchanged: 0, refreshed: 0, flagged: 0, unavailable: 0 };
      if (!enabled) return summary;
      const due = await claim();
      for (const [index, account] of due.entries()) {
        const answer = await demographics.retrieve(account.nhs_number);
        if (answer.kind === 'unavailable') {
          // This one and the rest of the batch are due again next run: the register is not asked 50 times while down.
          const unasked = due.slice(index);
          await queryRows(dataSource, `UPDATE account SET demographics_checked_at = u.previous::timestamptz FROM unnest($1::uuid[], $2::text[]) AS u(id, previous) WHERE account.id = u.id`, [
            unasked.map((a) => a.id),
            unasked.map((a) => (a.previous === null ? null : new Date(a.previous).toISOString())),
          ]);
          summary.unavailable += unasked.length;
          log.warn({ event: 'register_sync.unavailable', accounts: unasked.length }, 'the patient register did not answer; the register sync will try again');
          break;
        }
        summary.checked += 1;
        if (answer.kind === 'no-record') await flag(account, 'no-record');
        else if (answer.patient.deceased) await flag(account, 'deceased');
        else {
          try {
            if (await refresh(account, answer.patient)) summary.refreshed += 1;
            else summary.unchanged += 1;
            continue;
          } catch (error) {
            if (!isUniqueViolation(error)) throw error;
            // The register merged this record into a number another account already holds.
            await flag(account, 'number-held-elsewhere');
          }
        }
        summary.flagged += 1;
      }
      if (summary.checked + summary.unavailable > 0) log.info({ event: 'register_sync.run', ...summary }, 'register sync run');
      return summary;
    },
  };
}
