import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createJourneyRunner, type InteractionDetails, type JourneyRunner } from '../../interactions/runner.js';
import { createLogger } from '../../src/logger.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import { FAKE_GP_REGISTRATIONS } from '../../src/gp-online/fake-gp-online.js';
import { CHECK_UNAVAILABLE } from '../../interactions/methods/identity-check-step.js';
import type { PatientRecord } from '../../src/demographics/patient-demographics.js';
import { createAccount, heading, signInThroughCode, submit } from './support.js';

/** A register patient's details as the form takes them (by NHS number, or by name with `byName`). */
function detailsOf(familyName: string, byName = false): { patient: PatientRecord; body: Record<string, string> } {
  const patient = FAKE_PDS_PATIENTS.find((p) => p.familyName === familyName)!;
  const [year, month, day] = patient.birthdate.split('-') as [string, string, string];
  const who: Record<string, string> = byName ? { 'given-name': patient.givenNames[0]!, 'family-name': patient.familyName } : { 'nhs-number': patient.nhsNumber };
  return { patient, body: { ...who, 'birthdate-day': day, 'birthdate-month': month, 'birthdate-year': year, postcode: patient.postcode } };
}

/**
 * The identity check is an oracle for the patient register (does a person with these details
 * exist?), so guessing is bounded however the guesses arrive (B3), a patient can be linked to
 * one account only however two accounts race for it, and what was typed never reaches the logs (F4).
 */
describe('identity check security', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let runner: JourneyRunner;
  let capture: LogCapture;
  const request = { ip: '192.0.2.44', log: createLogger({ level: 'silent' }) };

  before(async () => {
    capture = createLogCapture();
    test = await startTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
    runner = createJourneyRunner(test.idp.services);
  });
  after(async () => test?.close());

  function proofingPrompt(accountId: string, needed = 'P5.Cp.Cd'): InteractionDetails {
    return {
      uid: randomUUID(),
      prompt: { name: 'vtr', reasons: ['vtr_unmet'], details: { reason: 'proofing', needed } },
      session: { accountId, uid: randomUUID(), cookie: randomUUID(), amr: ['pwd', 'sms'] },
      params: { client_id: test.rp.clientId, scope: 'openid' },
      exp: Math.floor(Date.now() / 1000) + 600,
    } as unknown as InteractionDetails;
  }

  const patient = (n: number) => ({ 'given-name': `Guess${'abcdefghijklmnopqrst'[n]}`, 'family-name': 'Person', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1970', postcode: 'ZZ1 1ZZ' });

  it('B3: twenty guesses at once ask the register at most 3 times, and then not even the right details pass', async () => {
    const account = await createAccount(test);
    const details = proofingPrompt(account.id);
    await runner.show(details, request, undefined);
    await Promise.all(Array.from({ length: 20 }, (_, n) => runner.submit(details, { ...request, ip: `192.0.2.${100 + n}` }, 'enter-your-details', patient(n))));
    const asked: unknown[] = await test.idp.db.dataSource.query(`SELECT 1 FROM audit_event WHERE account_id = $1 AND type = 'identity.not_matched'`, [account.id]);
    expect(asked).to.have.length(3);
    const right = await runner.submit(details, request, 'enter-your-details', detailsOf('Reid').body);
    expect(right.kind).to.equal('render');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P0');
  });

  it('one account per patient: two accounts proving the same patient at once, exactly one is linked', async () => {
    const [first, second] = [await createAccount(test), await createAccount(test)];
    const { patient, body: aled } = detailsOf('Jones');
    const [a, b] = [proofingPrompt(first.id), proofingPrompt(second.id)];
    await Promise.all([runner.show(a, request, undefined), runner.show(b, request, undefined)]);
    await Promise.all([runner.submit(a, request, 'enter-your-details', aled), runner.submit(b, request, 'enter-your-details', aled)]);
    const linked: { id: string; proofing_level: string }[] = await test.idp.db.dataSource.query(`SELECT id, proofing_level FROM account WHERE nhs_number = $1`, [patient.nhsNumber]);
    expect(linked).to.have.length(1);
    expect(linked[0]!.proofing_level).to.equal('P5');
    const other = linked[0]!.id === first.id ? second : first;
    expect((await test.idp.services.accounts.findById(other.id))!).to.include({ proofingLevel: 'P0', nhsNumber: null });
  });

  it('F4: the details typed and the register\'s answer are not in the logs', async () => {
    const account = await createAccount(test);
    capture.clear();
    const { journey, page } = await signInThroughCode(test, account, { params: { vtr: '["P5.Cp.Cd"]', scope: 'openid profile' } });
    expect(heading(page)).to.equal('Prove who you are');
    const { patient, body } = detailsOf('Sharma-Lewis', true);
    await submit(journey, page, body);
    expect((await test.idp.services.accounts.findById(account.id))!.nhsNumber).to.equal(patient.nhsNumber);
    const text = capture.text();
    expect(capture.find(/audit identity\.proofed/)).to.have.length(1);
    for (const secret of [patient.nhsNumber, patient.familyName, patient.givenNames[0]!, patient.birthdate, patient.postcode, patient.postcode.replace(' ', '')]) expect(text, secret).to.not.include(secret);
  });

  /** A register patient's GP online registration as the form takes it, with `linkageKey` instead of the letter's. */
  function letterOf(familyName: string, linkageKey: string): Record<string, string> {
    const registration = FAKE_GP_REGISTRATIONS.find((r) => r.nhsNumber === detailsOf(familyName).patient.nhsNumber)!;
    const { body } = detailsOf(familyName, true);
    return { 'ods-code': registration.odsCode, 'gp-account-id': registration.accountId, 'linkage-key': linkageKey, 'family-name': body['family-name']!, 'birthdate-day': body['birthdate-day']!, 'birthdate-month': body['birthdate-month']!, 'birthdate-year': body['birthdate-year']! };
  }

  it('E1: guesses at one GP registration spread over many accounts lock it; the GP system is asked at most 5 times', async () => {
    let asked = 0;
    const gpOnline = { ...test.idp.services.gpOnline, verify: (query: Parameters<typeof test.idp.services.gpOnline.verify>[0]) => ((asked += 1), test.idp.services.gpOnline.verify(query)) };
    const counting = createJourneyRunner({ ...test.idp.services, gpOnline });
    const rightKey = FAKE_GP_REGISTRATIONS.find((r) => r.nhsNumber === detailsOf('Reid').patient.nhsNumber)!.linkageKey;
    for (let n = 0; n < 7; n++) {
      const account = await createAccount(test, { proofingLevel: 'P5' });
      const details = proofingPrompt(account.id, 'P9.Cp.Cd');
      await counting.show(details, { ...request, ip: `198.18.0.${n}` }, undefined);
      await counting.submit(details, { ...request, ip: `198.18.0.${n}` }, 'enter-gp-details', letterOf('Reid', `WrongGuess${n}xyz`));
    }
    expect(asked).to.equal(test.idp.config.identityChecks.targetAttempts);
    // Locked: the right letter from yet another account is not checked either, and says only "not found".
    const owner = await createAccount(test, { proofingLevel: 'P5' });
    const details = proofingPrompt(owner.id, 'P9.Cp.Cd');
    await counting.show(details, { ...request, ip: '198.18.1.1' }, undefined);
    const reply = await counting.submit(details, { ...request, ip: '198.18.1.1' }, 'enter-gp-details', letterOf('Reid', rightKey));
    expect(reply.kind).to.equal('render');
    expect(asked).to.equal(test.idp.config.identityChecks.targetAttempts);
    expect((await test.idp.services.accounts.findById(owner.id))!.proofingLevel).to.equal('P5');
    const [row]: { detail: { why: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'identity.not_matched'`, [owner.id]);
    expect(row!.detail.why).to.equal('target-locked');
  });

  it('E1: guesses at one patient\'s details spread over many accounts lock that patient, by NHS number', async () => {
    const { patient, body } = detailsOf('Hughes');
    for (let n = 0; n < 6; n++) {
      const account = await createAccount(test);
      const details = proofingPrompt(account.id);
      await runner.show(details, { ...request, ip: `198.18.3.${n}` }, undefined);
      await runner.submit(details, { ...request, ip: `198.18.3.${n}` }, 'enter-your-details', { ...body, postcode: `BS${n + 2} 4DJ` });
    }
    const owner = await createAccount(test);
    const details = proofingPrompt(owner.id);
    await runner.show(details, { ...request, ip: '198.18.4.1' }, undefined);
    await runner.submit(details, { ...request, ip: '198.18.4.1' }, 'enter-your-details', body);
    expect((await test.idp.services.accounts.findById(owner.id))!.nhsNumber, 'the right details do not pass while the patient is locked').to.equal(null);
    const [row]: { detail: { why: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'identity.not_matched'`, [owner.id]);
    expect(row!.detail.why).to.equal('target-locked');
    // Another patient's details are not affected.
    expect(patient.nhsNumber).to.not.equal(detailsOf('Jones').patient.nhsNumber);
  });

  it('E2: an outside system that does not answer is "try again later" within the time limit, and nothing changes', async () => {
    const hanging = { ...test.idp.services.gpOnline, verify: () => new Promise<never>(() => {}) };
    const config = { ...test.idp.config, identityChecks: { ...test.idp.config.identityChecks, timeoutMs: 300 } };
    const slow = createJourneyRunner({ ...test.idp.services, config, gpOnline: hanging });
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const details = proofingPrompt(account.id, 'P9.Cp.Cd');
    await slow.show(details, { ...request, ip: '198.18.2.1' }, undefined);
    const started = Date.now();
    // Another registration than E1's (which that test leaves locked).
    const reply = await slow.submit(details, { ...request, ip: '198.18.2.1' }, 'enter-gp-details', letterOf('Jones', 'Jw2FtY6kMa5Rn'));
    expect(Date.now() - started).to.be.below(3000);
    expect(reply.kind).to.equal('render');
    expect(JSON.stringify(reply)).to.contain(CHECK_UNAVAILABLE);
    expect((await test.idp.services.accounts.findById(account.id))!).to.include({ proofingLevel: 'P5', gpUserId: null });
    const [row]: { detail: { timedOut: boolean } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'identity.unavailable'`, [account.id]);
    expect(row!.detail.timedOut).to.equal(true);
  });
});
