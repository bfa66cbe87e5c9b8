import { expect } from 'chai';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import type { PatientRecord } from '../../src/demographics/patient-demographics.js';
import { pdsFhirEnv, pdsKeyFiles, startFakePdsFhir, type FakePdsFhir } from '../helpers/fake-pds-fhir.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createAccount, signInThroughCode } from '../interactions/support.js';
import { captureLogs, type LogCapture } from '../notifications/helpers.js';

/** A register record the tests change, as PDS's records change. */
type ChangingRecord = { -readonly [K in keyof PatientRecord]: PatientRecord[K] };

/**
 * The register sync (decisions D32) against the PDS FHIR stand-in, through the real pds-fhir
 * adapter: proofed accounts' details follow the register's, a move of GP practice drops the old
 * practice's GP online credentials, and a record that is gone or records a death is flagged, never
 * acted on. The stand-in's patients are copies the tests change, as PDS's records change.
 */
describe('register sync: proofed accounts keep the register\'s details (D32)', () => {
  const keys = pdsKeyFiles();
  const patients: ChangingRecord[] = FAKE_PDS_PATIENTS.filter((p) => !p.deceased).slice(0, 6).map((p) => ({ ...p, givenNames: [...p.givenNames] }));
  let pds: FakePdsFhir;
  let test: TestIdp;
  let logs: LogCapture;

  before(async () => {
    pds = await startFakePdsFhir({ patients, publicKey: keys.publicKey, keyId: 'carelogin-int-1' });
    logs = captureLogs('info');
    test = await startTestIdp({ logger: logs.logger, env: { ...pdsFhirEnv(pds, keys), REGISTER_SYNC_BATCH: '3' } });
  });
  after(async () => {
    await test?.close();
    await pds?.close();
  });
  beforeEach(async () => {
    pds.mode = 'ok';
    // Only this test's accounts are due: earlier tests' accounts are stamped as just checked.
    await test.idp.db.dataSource.query(`UPDATE account SET demographics_checked_at = now() WHERE nhs_number IS NOT NULL`);
  });

  /** A P9 account holding `patient`'s details as the register had them, last read `daysAgo` days ago. */
  async function proofed(patient: PatientRecord, daysAgo: number | null, gpOnline = false): Promise<string> {
    const account = await createAccount(test, { proofingLevel: 'P9' });
    await test.idp.db.dataSource.query(
      `UPDATE account SET nhs_number = $2, given_name = $3, family_name = $4, birthdate = $5::date, postcode = $6, gp_ods_code = $7,
              gp_user_id = $8, gp_linkage_key = $9,
              demographics_checked_at = CASE WHEN $10::int IS NULL THEN NULL ELSE now() - $10::int * interval '1 day' END
        WHERE id = $1`,
      [account.id, patient.nhsNumber, patient.givenNames.join(' '), patient.familyName, patient.birthdate, patient.postcode, patient.gpOdsCode, gpOnline ? '5100234871' : null, gpOnline ? 'Kq7RmT2xWp9Ld' : null, daysAgo],
    );
    return account.id;
  }

  async function row(accountId: string): Promise<Record<string, unknown>> {
    const [found]: Record<string, unknown>[] = await test.idp.db.dataSource.query(
      `SELECT nhs_number, given_name, family_name, birthdate::text AS birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key, proofing_level, demographics_checked_at FROM account WHERE id = $1`,
      [accountId],
    );
    return found!;
  }

  async function audits(accountId: string, type: string): Promise<{ detail: Record<string, unknown> }[]> {
    return test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = $2`, [accountId, type]);
  }

  it('follows the register when a name and postcode change: the account, its audit (field names only) and the next ID token', async () => {
    const patient = patients[0]!;
    const accountId = await proofed(patient, 31);
    patient.familyName = `${patient.familyName}-Okoro`;
    patient.postcode = 'M1 1AE';

    const summary = await test.idp.services.registerSync.syncDue();
    expect(summary).to.include({ checked: 1, refreshed: 1, flagged: 0, unavailable: 0 });
    const after = await row(accountId);
    expect(after).to.include({ family_name: patient.familyName, postcode: 'M1 1AE', proofing_level: 'P9' });
    const [refreshed] = await audits(accountId, 'identity.details_refreshed');
    expect(refreshed!.detail).to.deep.include({ fields: ['familyName', 'postcode'], gpOnlineCleared: false, source: 'pds-fhir' });
    expect(JSON.stringify(refreshed)).not.to.include('M1 1AE');

    const account = (await test.idp.services.accounts.findById(accountId))!;
    const { journey, page } = await signInThroughCode(test, account, { params: { vtr: '["P9.Cp.Cd"]', scope: 'openid profile' } });
    let done = page;
    if (!done.callbackUrl) done = await journey.browser.submit(done, {}, { button: 'Continue' });
    const claims = (await test.rp.exchange(done.callbackUrl!, journey.request)).claims()!;
    expect(claims).to.include({ family_name: patient.familyName, nhs_number: patient.nhsNumber });

    // Read again only when due: nothing changes in between, and the register is not asked.
    const asked = pds.requests.length;
    expect(await test.idp.services.registerSync.syncDue()).to.include({ checked: 0 });
    expect(pds.requests.length).to.equal(asked);
  });

  it('reads the oldest first, a batch at a time, and leaves unchanged details (and test personas) alone', async () => {
    const ids = [await proofed(patients[1]!, 40), await proofed(patients[2]!, null), await proofed(patients[3]!, 35), await proofed(patients[4]!, 32)];
    const first = await test.idp.services.registerSync.syncDue();
    expect(first).to.include({ checked: 3, unchanged: 3, refreshed: 0 });
    const stamps = await Promise.all(ids.map(async (id) => (await row(id)).demographics_checked_at as Date));
    const recent = (date: Date) => Date.now() - new Date(date).getTime() < 60_000;
    expect(stamps.map(recent), 'never-checked first, then oldest: the 32-day one waits').to.deep.equal([true, true, true, false]);
    expect(await test.idp.services.registerSync.syncDue()).to.include({ checked: 1, unchanged: 1 });
    const personas: { n: string }[] = await test.idp.db.dataSource.query(`SELECT count(*)::text AS n FROM audit_event WHERE type LIKE 'identity.%' AND account_id IN (SELECT id FROM account WHERE test_persona IS NOT NULL) AND at > now() - interval '1 minute'`);
    expect(personas[0]!.n).to.equal('0');
  });

  it('drops the GP online credentials when the register moves the patient to another practice; the level stays', async () => {
    const patient = patients[5]!;
    const accountId = await proofed(patient, 31, true);
    patient.gpOdsCode = 'Y02002';
    expect(await test.idp.services.registerSync.syncDue()).to.include({ refreshed: 1 });
    expect(await row(accountId)).to.include({ gp_ods_code: 'Y02002', gp_user_id: null, gp_linkage_key: null, proofing_level: 'P9' });
    const [refreshed] = await audits(accountId, 'identity.details_refreshed');
    expect(refreshed!.detail).to.deep.include({ fields: ['gpOdsCode'], gpOnlineCleared: true });
  });

  it('flags a record that is gone or records a death for the support desk, and changes nothing', async () => {
    const gone = await proofed({ ...patients[0]!, nhsNumber: '9990001234' }, 31);
    const deceased = FAKE_PDS_PATIENTS.find((p) => p.deceased)!;
    patients.push(deceased);
    const died = await proofed(deceased, 31);
    const before = [await row(gone), await row(died)];
    const summary = await test.idp.services.registerSync.syncDue();
    expect(summary).to.include({ checked: 2, flagged: 2, refreshed: 0 });
    expect([await row(gone), await row(died)].map((r) => ({ ...r, demographics_checked_at: null }))).to.deep.equal(before.map((r) => ({ ...r, demographics_checked_at: null })));
    expect((await audits(gone, 'identity.register_flagged'))[0]!.detail).to.include({ why: 'no-record' });
    expect((await audits(died, 'identity.register_flagged'))[0]!.detail).to.include({ why: 'deceased' });
    const alerts = logs.lines.filter((line) => line.alert === 'register_record_flagged');
    expect(alerts.map((line) => line.accountId)).to.include.members([gone, died]);
    expect(JSON.stringify(alerts)).not.to.include(deceased.nhsNumber);
  });

  it('while the register is down, asks once, changes nothing, and keeps the accounts due for the next run', async () => {
    // Any due account: the register will not answer for it.
    const accountId = await proofed({ ...patients[1]!, nhsNumber: '9990001242' }, 45);
    const before = (await row(accountId)).demographics_checked_at as Date;
    pds.mode = 'down';
    const asked = pds.requests.length;
    const summary = await test.idp.services.registerSync.syncDue();
    expect(summary).to.include({ checked: 0, unavailable: 1 });
    expect(pds.requests.length - asked, 'one try, not one per account').to.be.at.most(2);
    expect(new Date((await row(accountId)).demographics_checked_at as Date).getTime()).to.equal(new Date(before).getTime());
    pds.mode = 'ok';
    expect(await test.idp.services.registerSync.syncDue()).to.include({ checked: 1 });
  });
});
