import { expect } from 'chai';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import { createUnavailablePds } from '../../src/demographics/fake-pds.js';
import type { PatientDemographics } from '../../src/demographics/patient-demographics.js';
import { listReviewers } from '../../src/back-office/reviewers.js';
import { reviewerLine } from '../../src/cli/reviewers.js';
import type { Browser, Page } from '../helpers/browser.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfOf } from '../account/support.js';
import { errorSummary, heading } from '../interactions/support.js';
import { ageAssignment, auditTypes, caseIdOf, emptyQueue, patientWithCase, patientWithDetails, signedInReviewer, startNextCheck } from './support.js';

/** How long the register may take in these tests before the back office says it did not answer. */
const REGISTER_TIMEOUT_MS = 300;
const ASSIGNMENT_SECONDS = 1800;

describe('back office: the queue (assignment, the holding list, re-checking the NHS record, npm run reviewers)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ env: { IDENTITY_CHECK_TIMEOUT_MS: String(REGISTER_TIMEOUT_MS), BACK_OFFICE_ASSIGNMENT_SECONDS: String(ASSIGNMENT_SECONDS) } });
  });
  after(async () => test?.close());

  async function post(browser: Browser, page: Page, path: string, fields: Record<string, string>): Promise<Page> {
    return browser.post(`${test.url}${path}`, { _csrf: csrfOf(page), ...fields }, { origin: test.url });
  }

  /** The register the back office asks, replaced for one test by a fake of an edge we do not own. */
  async function withRegister<T>(register: PatientDemographics, run: () => Promise<T>): Promise<T> {
    const services = test.idp.services as unknown as { demographics: PatientDemographics };
    const real = services.demographics;
    services.demographics = register;
    try {
      return await run();
    } finally {
      services.demographics = real;
    }
  }

  it('Start next check assigns the oldest case to the reviewer; the queue shows who is working on each; pressing again brings back the same case', async () => {
    const first = await signedInReviewer(test);
    const second = await signedInReviewer(test);
    await emptyQueue(test);
    const older = await patientWithCase(test);
    const newer = await patientWithCase(test);

    const mine = await startNextCheck(first.browser, test);
    expect(caseIdOf(mine)).to.equal(older.caseId);
    expect(pageText(mine)).to.match(/You are working on this check until \d{1,2}:\d{2}[ap]m/);
    const again = await startNextCheck(first.browser, test);
    expect(caseIdOf(again), 'the same case, not a second one').to.equal(older.caseId);

    const queue = await first.browser.get(`${test.url}/back-office`);
    const rows = [...queue.html.matchAll(/<tr class="nhsuk-table__row">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows.find((r) => r.includes(older.caseId))).to.include('You').and.match(/until \d{1,2}:\d{2}[ap]m/);
    expect(rows.find((r) => r.includes(newer.caseId))).to.include('Nobody');
    const theirs = await second.browser.get(`${test.url}/back-office`);
    expect(theirs.html).to.include(first.account.email);

    const next = await startNextCheck(second.browser, test);
    expect(caseIdOf(next)).to.equal(newer.caseId);
    const secondAgain = await startNextCheck(second.browser, test);
    expect(caseIdOf(secondAgain)).to.equal(newer.caseId);
    const assigned = (await auditTypes(test, first.account.id)).filter((r) => r.type === 'back_office.case_assigned').map((r) => r.detail);
    expect(assigned).to.deep.equal([{ caseId: older.caseId }, { caseId: older.caseId, again: true }]);
  });

  it('a case another reviewer is working on opens read only; deciding, holding or re-checking it gets "Another reviewer is working on this check" (409, CL1040) and changes nothing', async () => {
    const holder = await signedInReviewer(test);
    const other = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    expect(caseIdOf(await startNextCheck(holder.browser, test))).to.equal(patient.caseId);

    const none = await startNextCheck(other.browser, test);
    expect(none.url).to.equal(`${test.url}/back-office?none=1`);
    expect(pageText(none)).to.include('There are no other identity checks waiting for you');

    const readOnly = await other.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(readOnly.status).to.equal(200);
    expect(pageText(readOnly)).to.include(`${holder.account.email} is working on this check until`);
    expect(readOnly.html).to.not.include('name="decision"').and.not.include('/hold"').and.not.include('/recheck"');
    for (const [path, fields] of [[`/back-office/cases/${patient.caseId}`, { decision: 'approve' }], [`/back-office/cases/${patient.caseId}`, { decision: 'decline', reason: 'face-mismatch' }], [`/back-office/cases/${patient.caseId}/hold`, { holdReason: 'second-opinion' }], [`/back-office/cases/${patient.caseId}/recheck`, {}]] as const) {
      const refused = await post(other.browser, readOnly, path, fields);
      expect(refused.status, `${path} ${JSON.stringify(fields)}`).to.equal(409);
      expect(heading(refused)).to.equal('Another reviewer is working on this check');
      expect(pageText(refused)).to.include(`Nothing has been saved. ${holder.account.email} is working on this check until`).and.include('Reference: CL1040');
    }
    const still = (await test.idp.services.photoIdCases.get(patient.caseId))!;
    expect(still.status).to.equal('awaiting_review');
    expect((await auditTypes(test, other.account.id)).filter((r) => r.type === 'back_office.assigned_elsewhere')).to.have.length(4);
    const [untouched]: Record<string, unknown>[] = await test.idp.db.dataSource.query(`SELECT held_at, record_check FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(untouched).to.deep.equal({ held_at: null, record_check: null });

    // The holder decides as usual.
    const casePage = await holder.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    const done = await post(holder.browser, casePage, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(done.status).to.equal(200);
    expect(heading(done)).to.equal('Identity check approved');
  });

  it('an assignment lapses after BACK_OFFICE_ASSIGNMENT_SECONDS: the case is back in the queue, the next reviewer gets it, and the first can no longer decide it', async () => {
    const first = await signedInReviewer(test);
    const second = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    expect(caseIdOf(await startNextCheck(first.browser, test))).to.equal(patient.caseId);
    const firstPage = await first.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);

    // A few seconds short of the lapse: still the first reviewer's.
    await ageAssignment(test, patient.caseId, ASSIGNMENT_SECONDS - 5);
    expect(caseIdOf(await startNextCheck(second.browser, test))).to.equal(undefined);
    // Past it: the queue shows nobody working on it, and the next reviewer takes it over.
    await ageAssignment(test, patient.caseId, 10);
    const queue = await second.browser.get(`${test.url}/back-office`);
    expect([...queue.html.matchAll(/<tr class="nhsuk-table__row">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!).find((r) => r.includes(patient.caseId))).to.include('Nobody');
    const lapsedPage = await first.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(pageText(lapsedPage)).to.include('Your time ran out at');
    const taken = await startNextCheck(second.browser, test);
    expect(caseIdOf(taken)).to.equal(patient.caseId);
    const [assignedRow] = (await auditTypes(test, second.account.id)).filter((r) => r.type === 'back_office.case_assigned' && r.detail.caseId === patient.caseId);
    expect(assignedRow!.detail).to.deep.equal({ caseId: patient.caseId, lapsedFrom: first.account.id });

    const late = await post(first.browser, firstPage, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(late.status).to.equal(409);
    expect(heading(late)).to.equal('Another reviewer is working on this check');
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');
    const decided = await post(second.browser, taken, `/back-office/cases/${patient.caseId}`, { decision: 'decline', reason: 'video-unclear' });
    expect(decided.status).to.equal(200);
  });

  it('a lapsed assignment nobody has taken is still the reviewer\'s to decide', async () => {
    const { browser } = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(browser, test);
    await ageAssignment(test, patient.caseId, ASSIGNMENT_SECONDS + 60);
    const done = await post(browser, casePage, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(done.status).to.equal(200);
    const decided = (await test.idp.services.photoIdCases.get(patient.caseId))!;
    expect(decided.status).to.equal('approved');
    const [row]: { assigned_to: string | null }[] = await test.idp.db.dataSource.query(`SELECT assigned_to FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(row!.assigned_to, 'a decided case is nobody\'s').to.equal(null);
  });

  it('puts a case on hold with a coded reason and a note: it leaves the queue for the "Checks on hold" list; another reviewer releases it; both audited', async () => {
    const first = await signedInReviewer(test);
    const second = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(first.browser, test);
    expect(casePage.html).to.include(`action="/back-office/cases/${patient.caseId}/hold"`);

    const noReason = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/hold`, { holdNote: '' });
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Select why you are putting this check on hold']);
    expect(noReason.html).to.include('id="holdReason"');
    const otherWithoutNote = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/hold`, { holdReason: 'other', holdNote: ' ' });
    expect(otherWithoutNote.status).to.equal(400);
    expect(errorSummary(otherWithoutNote)).to.deep.equal(['Enter a note saying why this check is on hold']);
    expect(otherWithoutNote.html).to.match(/value="other"[^>]*checked/);

    const held = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/hold`, { holdReason: 'senior-checker', holdNote: 'Licence photo looks edited, ticket 77' });
    expect(held.url).to.equal(`${test.url}/back-office/on-hold`);
    expect(heading(held)).to.equal('Checks on hold');
    expect(pageText(held)).to.include('Escalated to a senior checker').and.include('You');
    expect(held.html).to.include(`/back-office/cases/${patient.caseId}`);

    // Out of the queue and out of "Start next check"; the queue links to the holding list.
    const queue = await second.browser.get(`${test.url}/back-office`);
    expect(queue.html).to.not.include(patient.caseId);
    expect(pageText(queue)).to.include('Checks on hold (1)');
    expect(caseIdOf(await startNextCheck(second.browser, test))).to.equal(undefined);

    const heldPage = await second.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(pageText(heldPage)).to.include(`by ${first.account.email}: Escalated to a senior checker`).and.include('Their note: Licence photo looks edited, ticket 77');
    expect(heldPage.html).to.include(`action="/back-office/cases/${patient.caseId}/release"`).and.not.include(`action="/back-office/cases/${patient.caseId}/hold"`);
    const twice = await post(second.browser, heldPage, `/back-office/cases/${patient.caseId}/hold`, { holdReason: 'fraud' });
    expect(twice.status, 'already on hold: the hold stands').to.equal(200);
    expect(pageText(twice)).to.include('Escalated to a senior checker');

    const released = await post(second.browser, heldPage, `/back-office/cases/${patient.caseId}/release`, {});
    expect(released.url).to.equal(`${test.url}/back-office`);
    expect(released.html).to.include(patient.caseId);
    expect(caseIdOf(await startNextCheck(second.browser, test))).to.equal(patient.caseId);

    expect((await auditTypes(test, first.account.id)).filter((r) => r.type === 'back_office.case_held').map((r) => r.detail))
      .to.deep.equal([{ caseId: patient.caseId, reason: 'senior-checker', note: 'Licence photo looks edited, ticket 77' }]);
    expect((await auditTypes(test, second.account.id)).filter((r) => r.type === 'back_office.case_released').map((r) => r.detail))
      .to.deep.equal([{ caseId: patient.caseId, reason: 'senior-checker' }]);
  });

  it('a case on hold can still be decided from its page (a senior checker\'s call), which takes it off the holding list', async () => {
    const first = await signedInReviewer(test);
    const senior = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(first.browser, test);
    await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/hold`, { holdReason: 'second-opinion' });
    const heldPage = await senior.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    const done = await post(senior.browser, heldPage, `/back-office/cases/${patient.caseId}`, { decision: 'decline', reason: 'document-not-genuine' });
    expect(done.status).to.equal(200);
    expect((await senior.browser.get(`${test.url}/back-office/on-hold`)).html).to.not.include(patient.caseId);
    const late = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/release`, {});
    expect(late.status, 'releasing a decided case').to.equal(409);
  });

  const reid = FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Reid')!;
  const patel = FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Patel')!;
  const ellis = FAKE_PDS_PATIENTS.find((p) => p.deceased)!;
  const detailsOf = (p: typeof reid) => ({ nhsNumber: p.nhsNumber, givenName: p.givenNames.join(' '), familyName: p.familyName, birthdate: p.birthdate, postcode: p.postcode });

  it('re-checks the NHS record: every detail still matching needs nothing more to approve', async () => {
    const { account, browser } = await signedInReviewer(test);
    const patient = await patientWithDetails(test, detailsOf(reid));
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(casePage.html).to.include(`action="/back-office/cases/${patient.caseId}/recheck"`);
    const checked = await post(browser, casePage, `/back-office/cases/${patient.caseId}/recheck`, {});
    expect(checked.status).to.equal(200);
    const text = pageText(checked);
    expect(text).to.include('Name Matches the account').and.include('Date of birth Matches the account').and.include('Postcode Matches the account').and.include('Recorded as died No');
    expect(checked.html).to.not.include('nhsuk-warning-callout').and.not.include('name="confirmRecord"');
    const done = await post(browser, checked, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(done.status).to.equal(200);
    const [row] = (await auditTypes(test, account.id)).filter((r) => r.type === 'back_office.record_rechecked');
    expect(row!.detail).to.deep.equal({ caseId: patient.caseId, found: true, name: true, birthdate: true, postcode: true, deceased: false });
  });

  it('re-checks the NHS record: a changed postcode is shown, and Approve needs a deliberate confirmation', async () => {
    const { browser } = await signedInReviewer(test);
    const patient = await patientWithDetails(test, { ...detailsOf(patel), postcode: 'M2 5DB' });
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    const checked = await post(browser, casePage, `/back-office/cases/${patient.caseId}/recheck`, {});
    const text = pageText(checked);
    expect(text).to.include('The postcode on the NHS record does not match the account').and.include('Postcode Does not match the account').and.include('Name Matches the account');
    expect(text, 'the register\'s own values are not shown').to.not.include(patel.postcode);
    expect(checked.html).to.include('name="confirmRecord"');

    const unconfirmed = await post(browser, checked, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(unconfirmed.status).to.equal(400);
    expect(errorSummary(unconfirmed)).to.deep.equal(['Confirm that you have seen what the NHS record says, or do not approve this check']);
    expect(unconfirmed.html).to.include('id="confirmRecord"');
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');
    // Declining needs no confirmation; approving with it is the reviewer's deliberate call.
    const confirmed = await post(browser, checked, `/back-office/cases/${patient.caseId}`, { decision: 'approve', confirmRecord: 'yes' });
    expect(confirmed.status).to.equal(200);
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('approved');
  });

  it('re-checks the NHS record: a record that records a death, or no record at all, is shown and Approve needs the confirmation', async () => {
    const { account, browser } = await signedInReviewer(test);
    const deceased = await patientWithDetails(test, detailsOf(ellis));
    const casePage = await browser.get(`${test.url}/back-office/cases/${deceased.caseId}`);
    const checked = await post(browser, casePage, `/back-office/cases/${deceased.caseId}/recheck`, {});
    expect(pageText(checked)).to.include('The NHS record says this person has died').and.include('Recorded as died Yes');
    expect((await post(browser, checked, `/back-office/cases/${deceased.caseId}`, { decision: 'approve' })).status).to.equal(400);
    const declined = await post(browser, checked, `/back-office/cases/${deceased.caseId}`, { decision: 'decline', reason: 'details-mismatch' });
    expect(declined.status).to.equal(200);

    const unknown = await patientWithCase(test);
    const unknownPage = await browser.get(`${test.url}/back-office/cases/${unknown.caseId}`);
    const none = await post(browser, unknownPage, `/back-office/cases/${unknown.caseId}/recheck`, {});
    expect(pageText(none)).to.include('The patient register has no record for this NHS number').and.include('Record found No');
    expect(none.html).to.include('name="confirmRecord"');
    const rows = (await auditTypes(test, account.id)).filter((r) => r.type === 'back_office.record_rechecked').map((r) => r.detail);
    expect(rows).to.deep.equal([{ caseId: deceased.caseId, found: true, name: true, birthdate: true, postcode: true, deceased: true }, { caseId: unknown.caseId, found: false }]);
  });

  it('E2: the register down or too slow gives "could not be checked" within the time limit (503, CL1041); nothing is decided or stored', async () => {
    const { account, browser } = await signedInReviewer(test);
    const patient = await patientWithDetails(test, detailsOf(FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Jones')!));
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    const hanging: PatientDemographics = { source: 'fake-pds', enabled: true, trace: () => new Promise(() => {}), retrieve: () => new Promise(() => {}) };
    for (const [what, register] of [['down', createUnavailablePds()], ['too slow', hanging]] as const) {
      const started = Date.now();
      const page = await withRegister(register, () => post(browser, casePage, `/back-office/cases/${patient.caseId}/recheck`, {}));
      expect(Date.now() - started, what).to.be.below(REGISTER_TIMEOUT_MS + 3000);
      expect(page.status, what).to.equal(503);
      expect(errorSummary(page), what).to.deep.equal(['The NHS record could not be checked: the patient register did not answer. Nothing has been decided. Try again in a few minutes']);
      expect(page.html, 'the summary links to the button').to.include('id="recheck"');
      expect(pageText(page)).to.include('Reference: CL1041');
    }
    const [row]: { status: string; record_check: unknown }[] = await test.idp.db.dataSource.query(`SELECT status, record_check FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(row).to.deep.equal({ status: 'awaiting_review', record_check: null });
    const unavailable = (await auditTypes(test, account.id)).filter((r) => r.type === 'back_office.record_recheck_unavailable').map((r) => r.detail);
    expect(unavailable).to.deep.equal([{ caseId: patient.caseId, source: 'unavailable' }, { caseId: patient.caseId, source: 'fake-pds', timedOut: true }]);
  });

  it('npm run reviewers -- list shows each reviewer\'s checks in progress, and when a time ran out', async () => {
    const first = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    await startNextCheck(first.browser, test);
    let listed = (await listReviewers(test.idp.db.dataSource, ASSIGNMENT_SECONDS)).find((r) => r.email === first.account.email)!;
    expect(listed.assignments.map((a) => ({ caseId: a.caseId, lapsed: a.lapsed }))).to.deep.equal([{ caseId: patient.caseId, lapsed: false }]);
    expect(listed.assignments[0]!.lapsesAt.getTime() - listed.assignments[0]!.since.getTime()).to.equal(ASSIGNMENT_SECONDS * 1000);
    expect(reviewerLine(listed)).to.include(`check ${patient.caseId}: assigned `).and.include(' until ');
    await ageAssignment(test, patient.caseId, ASSIGNMENT_SECONDS + 1);
    listed = (await listReviewers(test.idp.db.dataSource, ASSIGNMENT_SECONDS)).find((r) => r.email === first.account.email)!;
    expect(reviewerLine(listed)).to.include('(back in the queue)');
    const idle = (await listReviewers(test.idp.db.dataSource, ASSIGNMENT_SECONDS)).find((r) => r.email === 'reviewer.persona@carelogin.test')!;
    expect(reviewerLine(idle)).to.include('no checks in progress');
  });
});
