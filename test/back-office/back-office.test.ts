import { expect } from 'chai';
import { disableAccount } from '../../src/accounts/account-status.js';
import { DECLINE_REASONS } from '../../src/photo-id/cases.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { ageSignIn, completeSignIn, csrfOf, newBrowser } from '../account/support.js';
import { TEST_PASSWORD, addAuthenticatorApp, createAccount, errorSummary, heading } from '../interactions/support.js';
import { formatNhsNumber, patientWithCase, signedInReviewer, startNextCheck } from './support.js';

describe('back office: identity checks (reviewers compare photo ID and video, then approve or decline)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('sends a signed-out person to sign in through carelogin as carelogin-back-office, asking for an app or a passkey', async () => {
    const browser = newBrowser(test);
    const page = await browser.get(`${test.url}/back-office/cases/00000000-0000-4000-8000-000000000000`);
    expect(page.url).to.include('/interaction/');
    const raw = await fetch(`${test.url}/back-office`, { redirect: 'manual' });
    expect(raw.status).to.equal(303);
    expect(raw.headers.get('location')).to.equal('/back-office/signin?return=%2Fback-office');
    const authorize = await fetch(`${test.url}/back-office/signin`, { redirect: 'manual' });
    const location = new URL(authorize.headers.get('location')!, test.url);
    expect(location.pathname).to.equal('/authorize');
    expect(location.searchParams.get('client_id')).to.equal('carelogin-back-office');
    expect(JSON.parse(location.searchParams.get('vtr')!)).to.deep.equal(['P0.Cp.Ck', 'P0.Cm']);
  });

  it('lists cases awaiting review oldest first, with how long each has waited and its document, uncached', async () => {
    const older = await patientWithCase(test);
    const newer = await patientWithCase(test);
    const { page } = await signedInReviewer(test);
    expect(page.headers.get('cache-control')).to.equal('no-store');
    const ids = [...page.html.matchAll(/href="\/back-office\/cases\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(ids.indexOf(older.caseId)).to.be.at.least(0).and.below(ids.indexOf(newer.caseId));
    expect(pageText(page)).to.include('UK driving licence (full or provisional)').and.include('1 minute').and.include('Start next check');
    // Start next check assigns a case, so it is a form (POST with the CSRF token), never a link.
    expect(page.html).to.match(/<form method="post" action="\/back-office\/next"/).and.not.include('href="/back-office/next"');
  });

  it('shows the next case with the account details, the photo, the video and the digits; approving raises the account to P9 and emails the person', async () => {
    const { account: reviewer, browser } = await signedInReviewer(test);
    // Nothing older may be left in the queue from other tests: decide them first.
    for (const c of await test.idp.services.photoIdCases.queue(500)) await test.idp.services.photoIdCases.decide({ caseId: c.id, reviewerAccountId: reviewer.id, decision: 'declined', reason: 'image-blurred' });
    const patient = await patientWithCase(test);
    const casePage = await startNextCheck(browser, test);
    expect(casePage.url).to.equal(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(heading(casePage)).to.equal('Check this identity');
    const text = pageText(casePage);
    expect(text).to.include('Ada Lovelace').and.include('10 December 1985').and.include(formatNhsNumber(patient.nhsNumber!)).and.include('UK driving licence');
    expect(text).to.include('Can you clearly see and hear the numbers 7 1 5 6?');
    expect(casePage.html).to.match(/<img[^>]+src="\/back-office\/cases\/[^"]+\/evidence\/photo\?expires=/);
    expect(casePage.html).to.match(/<video[^>]* controls[^>]+src="\/back-office\/cases\/[^"]+\/evidence\/video\?expires=/);
    for (const reason of Object.values(DECLINE_REASONS)) expect(text).to.include(reason.text);
    expect(text).to.include('Image quality').and.include('Document');

    const done = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(casePage), decision: 'approve', approveNote: 'ticket 42' }, { origin: test.url });
    expect(done.status, pageText(done).slice(0, 300)).to.equal(200);
    expect(heading(done)).to.equal('Identity check approved');
    expect((await test.idp.services.accounts.findById(patient.accountId))!.proofingLevel).to.equal('P9');
    // The outcome email, as a developer reads it in the dev outbox.
    const outbox = await fetch(`${test.url}/dev/outbox/latest?to=${encodeURIComponent(patient.email)}&template=identity-check-outcome`);
    expect(outbox.status).to.equal(200);
    expect(JSON.stringify(await outbox.json())).to.include('We have confirmed who you are');

    // Decided: read-only, no form.
    const again = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(heading(again)).to.equal('Identity check decided');
    expect(pageText(again)).to.include('Approved');
    expect(again.html).to.not.include('<form method="post" action="/back-office/cases/');
  });

  it('a decline needs a reason from the list; the person is told why in plain words', async () => {
    const { browser } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    // Two forms post to the same action: approve, then decline with its reasons.
    expect([...casePage.html.matchAll(/name="decision" value="(\w+)"/g)].map((m) => m[1])).to.deep.equal(['approve', 'decline']);
    const token = csrfOf(casePage);
    const noReason = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: token, decision: 'decline', declineNote: '' }, { origin: test.url });
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Select why you are declining this check']);
    expect(noReason.html).to.include('id="reason"');
    const bogus = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: token, decision: 'decline', reason: 'not-a-reason' }, { origin: test.url });
    expect(bogus.status).to.equal(400);
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');

    const declined = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: token, decision: 'decline', reason: 'document-expired', declineNote: 'ticket 7' }, { origin: test.url });
    expect(declined.status).to.equal(200);
    expect(heading(declined)).to.equal('Identity check declined');
    expect(await test.idp.services.photoIdCases.get(patient.caseId)).to.deep.include({ status: 'declined', decisionReason: 'document-expired' });
    expect((await test.idp.services.accounts.findById(patient.accountId))!.proofingLevel).to.equal('P5');
    const [email]: { body: string }[] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'identity-check-outcome'`, [patient.email]);
    expect(email!.body).to.include(DECLINE_REASONS['document-expired'].text).and.not.include('ticket 7');
  });

  it('the case of an account the support desk disabled says so, and approving it is refused with a 409 that changes nothing', async () => {
    const { browser, account: reviewer } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    await disableAccount(test.idp.services, { accountId: patient.accountId, supportAccountId: reviewer.id, reason: 'INC-42' });
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect(pageText(casePage)).to.include('The support desk has disabled this account');
    const refused = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(casePage), decision: 'approve', approveNote: '' }, { origin: test.url });
    expect(refused.status).to.equal(409);
    expect(heading(refused)).to.equal('This account has been disabled');
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');
    expect((await test.idp.services.accounts.findById(patient.accountId))!.proofingLevel).to.equal('P5');
  });

  it('a reviewer signed in more than 15 minutes ago signs in again before deciding, and nothing is decided meanwhile', async () => {
    const { account, browser } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    await ageSignIn(test, account.id);
    const stale = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(casePage), decision: 'approve' }, { origin: test.url });
    // Sent to sign in again (prompt=login): the journey starts over with the password.
    expect(stale.url).to.include('/interaction/');
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');
  });

  it('an account without the reviewer role is refused: "You do not have access to the back office"', async () => {
    const patient = await createAccount(test);
    const browser = newBrowser(test);
    // A patient with an app can complete the sign-in; the role is what is missing.
    const secret = await addAuthenticatorApp(test, patient);
    const page = await completeSignIn(test, patient, browser, await browser.get(`${test.url}/back-office`), TEST_PASSWORD, secret);
    expect(page.status).to.equal(403);
    expect(heading(page)).to.equal('You do not have access to the back office');
    const queue = await browser.get(`${test.url}/back-office`);
    expect(queue.status).to.equal(403);
  });
});
