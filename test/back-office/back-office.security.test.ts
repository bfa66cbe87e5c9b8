import { expect } from 'chai';
import { createCaseQueue } from '../../src/back-office/case-queue.js';
import { createEvidenceLinks, EVIDENCE_LINK_SECONDS } from '../../src/back-office/evidence-links.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { completeSignIn, csrfOf, newBrowser } from '../account/support.js';
import { TEST_PASSWORD, addAuthenticatorApp, createAccount, heading } from '../interactions/support.js';
import { auditTypes, caseIdOf, createReviewer, emptyQueue, evidenceLinks, PHOTO, patientWithCase, signedInReviewer, signInToBackOffice, startNextCheck, VIDEO } from './support.js';

describe('back office: security (E7 access control and review concurrency, E3 evidence serving)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  const links = () => createEvidenceLinks(test.idp.keystore.hmacKeys);

  it('E7: an anonymous request for evidence gets 401, whatever the link', async () => {
    const { caseId } = await patientWithCase(test);
    const someone = await createAccount(test);
    for (const kind of ['photo', 'video'] as const) {
      const response = await fetch(`${test.url}${links().link(caseId, kind, someone.id)}`);
      expect(response.status, kind).to.equal(401);
      expect(await response.text()).to.not.include(PHOTO.content.toString());
    }
  });

  it('E7: a patient (the case\'s own account included) fetching evidence or a case by id gets 403, even with a link made for them', async () => {
    const patient = await patientWithCase(test);
    const other = await patientWithCase(test);
    const account = (await test.idp.services.accounts.findById(patient.accountId))!;
    const secret = await addAuthenticatorApp(test, account);
    const browser = newBrowser(test);
    await completeSignIn(test, account, browser, await browser.get(`${test.url}/back-office`), TEST_PASSWORD, secret);
    for (const caseId of [patient.caseId, other.caseId]) {
      for (const kind of ['photo', 'video'] as const) {
        const page = await browser.get(`${test.url}${links().link(caseId, kind, account.id)}`);
        expect(page.status, `${kind} of ${caseId === patient.caseId ? 'own' : 'another'} case`).to.equal(403);
        expect(page.html).to.not.include(PHOTO.content.toString()).and.not.include(VIDEO.content.toString());
      }
      const casePage = await browser.get(`${test.url}/back-office/cases/${caseId}`);
      expect(casePage.status).to.equal(403);
      expect(heading(casePage)).to.equal('You do not have access to the back office');
    }
    expect((await auditTypes(test, account.id)).map((r) => r.type)).to.include('back_office.access_refused');
  });

  it('E7: a reviewer guessing case ids gets 404 for pages and evidence', async () => {
    const { account, browser } = await signedInReviewer(test);
    for (const id of ['00000000-0000-4000-8000-000000000000', '1', 'not-a-case', '../../etc/passwd']) {
      const page = await browser.get(`${test.url}/back-office/cases/${encodeURIComponent(id)}`);
      expect(page.status, id).to.equal(404);
      const evidence = await browser.get(`${test.url}${links().link(id, 'photo', account.id).replace(`/cases/${id}/`, `/cases/${encodeURIComponent(id)}/`)}`);
      expect(evidence.status, id).to.equal(404);
    }
  });

  it('E7: a reviewer with text message codes only cannot get in (the back office asks for an app or a passkey)', async () => {
    const { account } = await createReviewer(test, { app: false });
    const { page } = await signInToBackOffice(test, account, undefined);
    expect(page.status).to.be.oneOf([400, 403]);
    expect(heading(page)).to.equal('You are not signed in');
    expect(pageText(page)).to.include('authenticator app or a passkey');
    const { caseId } = await patientWithCase(test);
    // Signed in to Your account with a text message code: still not enough for the back office.
    const browser = newBrowser(test);
    await completeSignIn(test, account, browser, await browser.get(`${test.url}/account`));
    const queue = await browser.get(`${test.url}/back-office`);
    expect(heading(queue)).to.not.equal('Identity checks');
    const evidence = await browser.get(`${test.url}${links().link(caseId, 'photo', account.id)}`);
    expect(evidence.status).to.equal(401);
    expect((await auditTypes(test, account.id)).map((r) => r.type)).to.not.include('back_office.signed_in');
  });

  it('E7: a reviewer cannot open or decide their own case (403), and it stays undecided', async () => {
    const { account, browser } = await signedInReviewer(test);
    const own = await patientWithCase(test, { accountId: account.id });
    const page = await browser.get(`${test.url}/back-office/cases/${own.caseId}`);
    expect(page.status).to.equal(403);
    expect(heading(page)).to.equal('You cannot check your own identity');
    const other = await patientWithCase(test);
    const token = csrfOf(await browser.get(`${test.url}/back-office/cases/${other.caseId}`));
    const post = await browser.post(`${test.url}/back-office/cases/${own.caseId}`, { _csrf: token, decision: 'approve' }, { origin: test.url });
    expect(post.status).to.equal(403);
    const evidence = await browser.get(`${test.url}${links().link(own.caseId, 'photo', account.id)}`);
    expect(evidence.status).to.equal(403);
    expect((await test.idp.services.photoIdCases.get(own.caseId))!.status).to.equal('awaiting_review');
    // "Start next check" never offers it.
    await test.idp.db.dataSource.query(`UPDATE identity_check_case SET submitted_at = submitted_at - interval '30 days' WHERE id = $1`, [own.caseId]);
    const next = await startNextCheck(browser, test);
    expect(next.url).to.not.include(own.caseId);
  });

  it('E7: two reviewers deciding the same case at the same instant: one 200, one 409, one decision persists', async () => {
    const first = await signedInReviewer(test);
    const second = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const [pageA, pageB] = await Promise.all([first.browser.get(`${test.url}/back-office/cases/${patient.caseId}`), second.browser.get(`${test.url}/back-office/cases/${patient.caseId}`)]);
    const results = await Promise.all([
      first.browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(pageA), decision: 'approve' }, { origin: test.url }),
      second.browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(pageB), decision: 'decline', reason: 'face-mismatch' }, { origin: test.url }),
    ]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409]);
    const loser = results.find((r) => r.status === 409)!;
    expect(heading(loser)).to.equal('Another reviewer has already decided this check');
    const decided = (await test.idp.services.photoIdCases.get(patient.caseId))!;
    expect((await test.idp.services.accounts.findById(patient.accountId))!.proofingLevel).to.equal(decided.status === 'approved' ? 'P9' : 'P5');
    const emails: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM outbox_message WHERE recipient = $1 AND template = 'identity-check-outcome'`, [patient.email]);
    expect(emails).to.have.length(1);
  });

  it('E7: every case view and every evidence fetch is audited with who and which case', async () => {
    const { account, browser } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    await browser.get(`${test.url}${evidenceLinks(casePage).photo}`);
    const rows = await auditTypes(test, account.id);
    expect(rows.filter((r) => r.type === 'back_office.case_viewed').map((r) => r.detail.caseId)).to.deep.equal([patient.caseId, patient.caseId]);
    expect(rows.filter((r) => r.type === 'back_office.evidence_viewed').map((r) => r.detail)).to.deep.equal([{ caseId: patient.caseId, kind: 'photo' }]);
    expect(rows.map((r) => r.type)).to.include('back_office.signed_in');
  });

  it('E3/E7: evidence is served only through a fresh link for this reviewer and case, as an attachment with a fixed type, nosniff, a sandbox CSP and no-store', async () => {
    const { account, browser } = await signedInReviewer(test);
    const other = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const { photo, video } = evidenceLinks(await browser.get(`${test.url}/back-office/cases/${patient.caseId}`));

    const served = await browser.get(`${test.url}${photo}`);
    expect(served.status).to.equal(200);
    expect(served.html).to.equal(PHOTO.content.toString());
    expect(served.headers.get('content-type')).to.equal('image/jpeg');
    expect(served.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(served.headers.get('content-disposition')).to.match(/^attachment/);
    expect(served.headers.get('content-security-policy')).to.equal("default-src 'none'; sandbox");
    expect(served.headers.get('cache-control')).to.equal('no-store');
    const movie = await browser.get(`${test.url}${video}`);
    expect(movie.status).to.equal(200);
    expect(movie.headers.get('content-type')).to.equal('video/mp4');

    const now = Math.floor(Date.now() / 1000);
    const refused = {
      'expired': links().link(patient.caseId, 'photo', account.id, now - EVIDENCE_LINK_SECONDS - 1),
      'tampered signature': photo.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
      'later expiry': photo.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 60}`),
      'photo link used for the video': photo.replace('/evidence/photo?', '/evidence/video?'),
      'no signature': photo.replace(/&sig=.*/, ''),
    };
    for (const [what, link] of Object.entries(refused)) {
      const page = await browser.get(`${test.url}${link}`);
      expect(page.status, what).to.equal(403);
      expect(page.html, what).to.not.include(PHOTO.content.toString());
    }
    // Another reviewer cannot use this reviewer's link (it is bound to who it was made for).
    const borrowed = await other.browser.get(`${test.url}${photo}`);
    expect(borrowed.status).to.equal(403);
    // Nor is the evidence anywhere under a public path.
    expect((await fetch(`${test.url}/assets/${patient.caseId}`)).status).to.equal(404);
  });

  it('C5: a decision without this session\'s CSRF token, or from another site, is refused and changes nothing', async () => {
    const { browser } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const token = csrfOf(await browser.get(`${test.url}/back-office/cases/${patient.caseId}`));
    const forged = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { decision: 'approve' }, { origin: test.url });
    expect(forged.status).to.equal(403);
    const crossSite = await browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: token, decision: 'approve' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).to.equal(403);
    expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status).to.equal('awaiting_review');
  });

  it('E7: reviewers pressing "Start next check" at the same instant each get a different case, and none can decide another\'s (409)', async () => {
    const reviewers = [];
    for (let n = 0; n < 4; n++) reviewers.push(await signedInReviewer(test));
    await emptyQueue(test);
    const cases = [];
    for (let n = 0; n < 4; n++) cases.push((await patientWithCase(test)).caseId);
    const queues = await Promise.all(reviewers.map((r) => r.browser.get(`${test.url}/back-office`)));
    const pages = await Promise.all(reviewers.map((r, n) => r.browser.post(`${test.url}/back-office/next`, { _csrf: csrfOf(queues[n]!) }, { origin: test.url })));
    const taken = pages.map(caseIdOf);
    expect([...taken].sort()).to.deep.equal([...cases].sort());
    const [distinct]: { n: number }[] = await test.idp.db.dataSource.query(`SELECT count(DISTINCT assigned_to)::int AS n FROM identity_check_case WHERE id = ANY($1::uuid[])`, [cases]);
    expect(distinct!.n, 'four cases, four reviewers').to.equal(4);

    // The first reviewer tries to decide the second's case: refused, not a silent override.
    const refused = await reviewers[0]!.browser.post(`${test.url}/back-office/cases/${taken[1]}`, { _csrf: csrfOf(pages[0]!), decision: 'approve' }, { origin: test.url });
    expect(refused.status).to.equal(409);
    expect(heading(refused)).to.equal('Another reviewer is working on this check');
    expect((await test.idp.services.photoIdCases.get(taken[1]!))!.status).to.equal('awaiting_review');
    // The service itself refuses it too (the rule is in its conditional UPDATE, not only on the page).
    expect(await test.idp.services.photoIdCases.decide({ caseId: taken[1]!, reviewerAccountId: reviewers[0]!.account.id, decision: 'approved' })).to.equal('assigned-elsewhere');
    expect((await test.idp.services.accounts.findById((await test.idp.services.photoIdCases.get(taken[1]!))!.accountId))!.proofingLevel).to.equal('P5');
  });

  it('E7: a hand-over and a decision of the same check at the same instant: exactly one wins, the other gets 409 and changes nothing', async () => {
    const holder = await signedInReviewer(test);
    const taker = await signedInReviewer(test);
    const third = await signedInReviewer(test);
    for (let round = 0; round < 3; round++) {
      await emptyQueue(test);
      const patient = await patientWithCase(test);
      const casePage = await startNextCheck(holder.browser, test);
      expect(caseIdOf(casePage)).to.equal(patient.caseId);
      const requests = [
        () => holder.browser.post(`${test.url}/back-office/cases/${patient.caseId}`, { _csrf: csrfOf(casePage), decision: 'approve' }, { origin: test.url }),
        () => holder.browser.post(`${test.url}/back-office/cases/${patient.caseId}/hand-over`, { _csrf: csrfOf(casePage), handOverTo: taker.account.id }, { origin: test.url }),
        () => holder.browser.post(`${test.url}/back-office/cases/${patient.caseId}/hand-over`, { _csrf: csrfOf(casePage), handOverTo: third.account.id }, { origin: test.url }),
      ];
      // Each round sends a different one first (an embedded database runs them one after another).
      const order = [0, 1, 2].map((n) => (n + round) % 3);
      const answers = await Promise.all(order.map((n) => requests[n]!()));
      const [decision, handOver, otherHandOver] = [0, 1, 2].map((n) => answers[order.indexOf(n)]!);
      const won = [decision.status === 200, handOver.status === 303 || handOver.url.endsWith('done=handed-over'), otherHandOver.url.endsWith('done=handed-over')];
      expect(won.filter(Boolean), `round ${round}: ${decision.status} ${handOver.url} ${otherHandOver.url}`).to.have.length(1);
      for (const [lost, page] of [[!won[0], decision], [!won[1], handOver], [!won[2], otherHandOver]] as const) {
        if (lost) expect(page.status, `round ${round}`).to.equal(409);
      }
      const [row]: { status: string; assigned_to: string | null; assigned_by: string | null }[] = await test.idp.db.dataSource.query(`SELECT status, assigned_to, assigned_by FROM identity_check_case WHERE id = $1`, [patient.caseId]);
      if (won[0]) expect(row).to.deep.equal({ status: 'approved', assigned_to: null, assigned_by: null });
      else expect(row).to.deep.equal({ status: 'awaiting_review', assigned_to: won[1] ? taker.account.id : third.account.id, assigned_by: holder.account.id });
      expect((await test.idp.services.accounts.findById(patient.accountId))!.proofingLevel).to.equal(won[0] ? 'P9' : 'P5');
      const handedOver = (await auditTypes(test, holder.account.id)).filter((r) => r.type === 'back_office.case_handed_over' && r.detail.caseId === patient.caseId);
      expect(handedOver).to.have.length(won[0] ? 0 : 1);
    }
  });

  it('E7: a check cannot be handed to oneself, to its own patient, to someone who is not a reviewer or to a reviewer who cannot sign in (the page and the service both refuse)', async () => {
    const holder = await signedInReviewer(test);
    const { account: patientReviewer } = await createReviewer(test);
    const support = await createAccount(test);
    await test.idp.db.dataSource.query(`UPDATE account SET back_office_role = 'support' WHERE id = $1`, [support.id]);
    const plain = await createAccount(test);
    // A reviewer without an authenticator app or a passkey cannot sign in to the back office, so cannot be given a check.
    const { account: cannotSignIn } = await createReviewer(test, { app: false });
    await emptyQueue(test);
    // A reviewer's own photo ID case, worked by another reviewer: it cannot be handed to them.
    const own = await patientWithCase(test, { accountId: patientReviewer.id });
    const casePage = await startNextCheck(holder.browser, test);
    expect(caseIdOf(casePage)).to.equal(own.caseId);
    expect(casePage.html).to.not.include(`value="${patientReviewer.id}"`).and.not.include(`value="${support.id}"`).and.not.include(`value="${holder.account.id}"`).and.not.include(`value="${cannotSignIn.id}"`);
    for (const to of [holder.account.id, patientReviewer.id, support.id, plain.id, cannotSignIn.id]) {
      const refused = await holder.browser.post(`${test.url}/back-office/cases/${own.caseId}/hand-over`, { _csrf: csrfOf(casePage), handOverTo: to }, { origin: test.url });
      expect(refused.status, to).to.equal(400);
      expect(pageText(refused)).to.include('Select the reviewer to hand this check to');
      // The rule is in the service's UPDATE too, whatever the page checked.
      expect(await createCaseQueue({ dataSource: test.idp.db.dataSource, audit: test.idp.services.audit, assignmentSeconds: 1800 }).handOver({ caseId: own.caseId, fromAccountId: holder.account.id, toAccountId: to }), to).to.equal('not-a-reviewer');
    }
    const [row]: { assigned_to: string; assigned_by: string | null }[] = await test.idp.db.dataSource.query(`SELECT assigned_to, assigned_by FROM identity_check_case WHERE id = $1`, [own.caseId]);
    expect(row).to.deep.equal({ assigned_to: holder.account.id, assigned_by: null });
    expect((await auditTypes(test, holder.account.id)).map((r) => r.type)).to.not.include('back_office.case_handed_over');
  });

  it('E7/C5: "Start next check", hold, release, hand-over, return and re-check are form posts refused without this session\'s CSRF token or from another site', async () => {
    const { browser } = await signedInReviewer(test);
    const patient = await patientWithCase(test);
    const casePage = await browser.get(`${test.url}/back-office/cases/${patient.caseId}`);
    expect((await browser.get(`${test.url}/back-office/next`)).status, 'no GET that assigns').to.equal(404);
    for (const path of ['/back-office/next', `/back-office/cases/${patient.caseId}/hold`, `/back-office/cases/${patient.caseId}/release`, `/back-office/cases/${patient.caseId}/hand-over`, `/back-office/cases/${patient.caseId}/return`, `/back-office/cases/${patient.caseId}/recheck`]) {
      const forged = await browser.post(`${test.url}${path}`, { holdReason: 'fraud' }, { origin: test.url });
      expect(forged.status, path).to.equal(403);
      const crossSite = await browser.post(`${test.url}${path}`, { _csrf: csrfOf(casePage), holdReason: 'fraud' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(crossSite.status, path).to.equal(403);
    }
    const [row]: Record<string, unknown>[] = await test.idp.db.dataSource.query(`SELECT assigned_to, held_at, record_check FROM identity_check_case WHERE id = $1`, [patient.caseId]);
    expect(row).to.deep.equal({ assigned_to: null, held_at: null, record_check: null });
  });

  it('C4/C5: "Sign out" in the back office header is a form post that ends the session at the server; a replayed old cookie is signed out', async () => {
    const { account, browser, page } = await signedInReviewer(test);
    expect(pageText(page)).to.include(`Signed in as ${account.email}`);
    expect(page.html).to.match(/<form class="nhsuk-header__account-form" method="post" action="\/back-office\/sign-out" novalidate><input type="hidden" name="_csrf" value="[^"]+"><button class="nhsuk-header__account-button">Sign out<\/button><\/form>/);
    expect(page.html).to.not.include('href="/back-office/sign-out"');
    const cookies = browser.cookiesFor(`${test.url}/back-office`);
    const sessions = async (): Promise<number> => Number((await test.idp.db.dataSource.query(`SELECT count(*)::int AS n FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]))[0].n);
    expect(await sessions()).to.equal(1);

    // A GET, a post without the token and one from another site sign nobody out.
    expect((await browser.get(`${test.url}/back-office/sign-out`)).status).to.equal(404);
    expect((await browser.post(`${test.url}/back-office/sign-out`, {}, { origin: test.url })).status).to.equal(403);
    expect((await browser.post(`${test.url}/back-office/sign-out`, { _csrf: csrfOf(page) }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
    expect(heading(await browser.get(`${test.url}/back-office`))).to.equal('Identity checks');

    const out = await browser.post(`${test.url}/back-office/sign-out`, { _csrf: csrfOf(page) }, { origin: test.url });
    expect(out.url).to.equal(`${test.url}/back-office/signed-out`);
    expect(heading(out)).to.equal('You have signed out');
    expect(out.html).to.not.include('/back-office/sign-out');
    expect(await sessions(), 'the session is gone from the server').to.equal(0);
    expect((await auditTypes(test, account.id)).map((r) => r.type)).to.include('back_office.signed_out');

    // The old cookie, replayed as it was: signed out (sent to sign in), and no case or evidence.
    const replayed = await fetch(`${test.url}/back-office`, { headers: { cookie: cookies }, redirect: 'manual' });
    expect(replayed.status).to.equal(303);
    expect(replayed.headers.get('location')).to.equal('/back-office/signin?return=%2Fback-office');
    const { caseId } = await patientWithCase(test);
    const evidence = await fetch(`${test.url}${links().link(caseId, 'photo', account.id)}`, { headers: { cookie: cookies }, redirect: 'manual' });
    expect(evidence.status).to.equal(401);
  });
});
