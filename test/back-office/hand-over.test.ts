import { expect } from 'chai';
import { listReviewers } from '../../src/back-office/reviewers.js';
import { reviewerLine } from '../../src/cli/reviewers.js';
import type { Browser, Page } from '../helpers/browser.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfOf } from '../account/support.js';
import { errorSummary, heading } from '../interactions/support.js';
import { ageAssignment, auditTypes, caseIdOf, emptyQueue, patientWithCase, signedInReviewer, startNextCheck } from './support.js';

const ASSIGNMENT_SECONDS = 1800;

describe('back office: handing a check to a named reviewer, and returning it to the queue (D28)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ env: { BACK_OFFICE_ASSIGNMENT_SECONDS: String(ASSIGNMENT_SECONDS) } });
  });
  after(async () => test?.close());

  async function post(browser: Browser, page: Page, path: string, fields: Record<string, string>): Promise<Page> {
    return browser.post(`${test.url}${path}`, { _csrf: csrfOf(page), ...fields }, { origin: test.url });
  }

  /** The "Assigned to you" rows of the queue page. */
  function assignedToYou(page: Page): string[] {
    return [...page.html.matchAll(/<tr class="nhsuk-table__row" data-assigned-to-you>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
  }

  it('the holder hands a check to a named reviewer: it is theirs at the top of their queue with the full time, the case page says who handed it, audited with the note', async () => {
    const giver = await signedInReviewer(test);
    const taker = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(giver.browser, test);
    expect(caseIdOf(casePage)).to.equal(patient.caseId);
    // The form offers the other reviewers, never the holder themselves.
    expect(casePage.html).to.include(`action="/back-office/cases/${patient.caseId}/hand-over"`).and.include(`value="${taker.account.id}"`);
    expect(casePage.html).to.not.include(`value="${giver.account.id}"`);
    // Nearly lapsed: the hand-over restarts the clock for the new holder.
    await ageAssignment(test, patient.caseId, ASSIGNMENT_SECONDS - 60);

    const handed = await post(giver.browser, casePage, `/back-office/cases/${patient.caseId}/hand-over`, { handOverTo: taker.account.id, handOverNote: 'Needs someone who knows Irish licences' });
    expect(handed.url).to.equal(`${test.url}/back-office?done=handed-over`);
    expect(pageText(handed)).to.include('You handed the check to another reviewer');
    expect(assignedToYou(handed)).to.deep.equal([]);
    const [row]: { assigned_to: string; assigned_by: string; fresh: boolean }[] = await test.idp.db.dataSource.query(
      `SELECT assigned_to, assigned_by, assigned_at > now() - interval '1 minute' AS fresh FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(row).to.deep.equal({ assigned_to: taker.account.id, assigned_by: giver.account.id, fresh: true });

    const theirQueue = await taker.browser.get(`${test.url}/back-office`);
    const mine = assignedToYou(theirQueue);
    expect(pageText(theirQueue)).to.include('Assigned to you');
    expect(mine).to.have.length(1);
    expect(mine[0]).to.include(`/back-office/cases/${patient.caseId}`).and.include(`Handed to you by ${giver.account.email}`);
    expect((await giver.browser.get(`${test.url}/back-office`)).html).to.include(taker.account.email);
    const theirPage = await taker.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(pageText(theirPage)).to.include(`${giver.account.email} handed this check to you`).and.match(/You are working on this check until/);
    // "Start next check" gives them this one, not another.
    expect(caseIdOf(await startNextCheck(taker.browser, test))).to.equal(patient.caseId);

    // The giver can no longer act on it: the case is the new holder's (409, CL1040).
    const late = await post(giver.browser, casePage, `/back-office/cases/${patient.caseId}`, { decision: 'approve' });
    expect(late.status).to.equal(409);
    expect(heading(late)).to.equal('Another reviewer is working on this check');
    const decided = await post(taker.browser, theirPage, `/back-office/cases/${patient.caseId}`, { decision: 'decline', reason: 'video-unclear' });
    expect(decided.status).to.equal(200);

    expect((await auditTypes(test, giver.account.id)).filter((r) => r.type === 'back_office.case_handed_over').map((r) => r.detail))
      .to.deep.equal([{ caseId: patient.caseId, to: taker.account.id, note: 'Needs someone who knows Irish licences' }]);
  });

  it('the holder returns a check to the queue: nobody holds it, and the next "Start next check" takes it; audited', async () => {
    const first = await signedInReviewer(test);
    const second = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(first.browser, test);
    expect(casePage.html).to.include(`action="/back-office/cases/${patient.caseId}/return"`);
    const returned = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/return`, {});
    expect(returned.url).to.equal(`${test.url}/back-office?done=returned`);
    expect(pageText(returned)).to.include('You returned the check to the queue');
    const rows = [...returned.html.matchAll(/<tr class="nhsuk-table__row">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows.find((r) => r.includes(patient.caseId))).to.include('Nobody');
    expect(caseIdOf(await startNextCheck(second.browser, test))).to.equal(patient.caseId);
    // Returning it again, now that someone else has it, changes nothing (409, who has it).
    const again = await post(first.browser, casePage, `/back-office/cases/${patient.caseId}/return`, {});
    expect(again.status).to.equal(409);
    expect(heading(again)).to.equal('Another reviewer is working on this check');
    expect(pageText(again)).to.include(second.account.email);
    expect((await auditTypes(test, first.account.id)).filter((r) => r.type === 'back_office.case_returned').map((r) => r.detail)).to.deep.equal([{ caseId: patient.caseId }]);
  });

  it('a hand-over needs a reviewer chosen from the list (error summary), a note of 500 characters at most, and is only offered to the holder', async () => {
    const holder = await signedInReviewer(test);
    const other = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(holder.browser, test);
    const none = await post(holder.browser, casePage, `/back-office/cases/${patient.caseId}/hand-over`, { handOverTo: '' });
    expect(none.status).to.equal(400);
    expect(errorSummary(none)).to.deep.equal(['Select the reviewer to hand this check to']);
    expect(none.html).to.include('id="handOverTo"');
    const long = await post(holder.browser, casePage, `/back-office/cases/${patient.caseId}/hand-over`, { handOverTo: other.account.id, handOverNote: 'x'.repeat(501) });
    expect(long.status).to.equal(400);
    expect(errorSummary(long)).to.deep.equal(['The note must be 500 characters or fewer']);
    // Another reviewer looking at it sees no hand-over or return (read only), and cannot post one.
    const readOnly = await other.browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(readOnly.html).to.not.include('/hand-over"').and.not.include('/return"');
    const refused = await post(other.browser, readOnly, `/back-office/cases/${patient.caseId}/hand-over`, { handOverTo: holder.account.id });
    expect(refused.status).to.equal(409);
    expect(heading(refused)).to.equal('Another reviewer is working on this check');
    const [row]: { assigned_to: string }[] = await test.idp.db.dataSource.query(`SELECT assigned_to FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(row!.assigned_to).to.equal(holder.account.id);
  });

  it('npm run reviewers -- list shows a handed-over check under its new holder, and who handed it', async () => {
    const giver = await signedInReviewer(test);
    const taker = await signedInReviewer(test);
    await emptyQueue(test);
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(giver.browser, test);
    await post(giver.browser, casePage, `/back-office/cases/${patient.caseId}/hand-over`, { handOverTo: taker.account.id });
    const reviewers = await listReviewers(test.idp.db.dataSource, ASSIGNMENT_SECONDS);
    const listed = reviewers.find((r) => r.email === taker.account.email)!;
    expect(listed.assignments.map((a) => ({ caseId: a.caseId, handedOverBy: a.handedOverBy }))).to.deep.equal([{ caseId: patient.caseId, handedOverBy: giver.account.email }]);
    expect(reviewerLine(listed)).to.include(`check ${patient.caseId}: handed over by ${giver.account.email} `);
    expect(reviewerLine(reviewers.find((r) => r.email === giver.account.email)!)).to.include('no checks in progress');
  });
});
