import { expect } from 'chai';
import { WRONG_CREDENTIALS } from '../../interactions/methods/password/index.js';
import { lockoutKeys, passwordPolicy } from '../../src/security/attempt-counters.js';
import { pageText, type Page } from '../helpers/browser.js';
import { createLogger } from '../../src/logger.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import * as oidc from 'openid-client';
import { signIn } from '../helpers/journeys.js';
import { completeSignIn, csrfOf, newBrowser, signInToAccount } from '../account/support.js';
import { TEST_PASSWORD, addAuthenticatorApp, createAccount, errorSummary, heading } from '../interactions/support.js';
import { auditTypes, createReviewer, findOnDesk, passwordAnswer, signedInReviewer, signedInSupport, testNhsNumber } from './support.js';

describe('back office: support desk security (F1/A4 no enumeration through disabling, C4 revocation, E7 access control, C5 CSRF)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => test?.close());

  /** The answer page with what differs per journey taken out (interaction ids, CSRF tokens, the address typed). */
  function comparable(page: Page, email: string): { status: number; errors: string[]; body: string } {
    const main = /<main[\s\S]*<\/main>/.exec(page.html)?.[0] ?? page.html;
    const body = main.replaceAll(email, 'EMAIL').replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID').replace(/interaction=[A-Za-z0-9_-]+/g, 'interaction=UID').replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf"');
    return { status: page.status, errors: errorSummary(page), body };
  }

  async function disabledAccount(): Promise<{ id: string; email: string }> {
    const account = await createAccount(test);
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'disabled' WHERE id = $1`, [account.id]);
    return { id: account.id, email: account.email };
  }

  it('F1, A4: a wrong password for a disabled account is answered exactly as for an active or an unknown account', async () => {
    const disabled = await disabledAccount();
    const active = await createAccount(test);
    const unknown = `nobody-${Date.now()}@example.test`;
    const answers = [
      comparable(await passwordAnswer(test, disabled.email, 'a wrong password here'), disabled.email),
      comparable(await passwordAnswer(test, active.email, 'a wrong password here'), active.email),
      comparable(await passwordAnswer(test, unknown, 'a wrong password here'), unknown),
    ];
    expect(answers[0]!.errors).to.deep.equal([WRONG_CREDENTIALS]);
    expect(answers[0]).to.deep.equal(answers[1]);
    expect(answers[0]).to.deep.equal(answers[2]);
  });

  it('F1, A4: once a disabled account\'s password step is locked, even the right password gets the ordinary error, never the disabled page', async () => {
    const disabled = await disabledAccount();
    for (let i = 0; i < 5; i++) await test.idp.services.counters.recordFailure(lockoutKeys.password(disabled.id), passwordPolicy(test.idp.config));
    const right = await passwordAnswer(test, disabled.email, TEST_PASSWORD);
    expect(heading(right)).to.not.equal('Your account has been disabled');
    expect(errorSummary(right)).to.deep.equal([WRONG_CREDENTIALS]);
    expect(right.html).to.not.include('CID2012');
  });

  it('E7: a disabled back-office account is stopped at the disabled page after its password and never reaches the back office', async () => {
    const { account: reviewer } = await createReviewer(test);
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'disabled' WHERE id = $1`, [reviewer.id]);
    const browser = newBrowser(test);
    const emailPage = await browser.get(`${test.url}/back-office`);
    expect(emailPage.url).to.include('/interaction/');
    const passwordPage = await browser.submit(emailPage, { email: reviewer.email });
    const page = await browser.submit(passwordPage, { password: TEST_PASSWORD });
    expect(page.status).to.equal(403);
    expect(heading(page)).to.equal('Your account has been disabled');
    const queue = await browser.get(`${test.url}/back-office`);
    expect(queue.url).to.include('/interaction/');
    expect(heading(queue)).to.not.equal('Identity checks');
  });

  it('E7: only support staff reach the support desk: signed out is sent to sign in; a reviewer or a patient gets 403 everywhere (removing a mobile number included) and changes nothing', async () => {
    const target = await createAccount(test);
    const paths = ['/back-office/accounts', `/back-office/accounts/${target.id}`, `/back-office/accounts/${target.id}/disable`, `/back-office/accounts/${target.id}/unlock`, `/back-office/accounts/${target.id}/enable`, `/back-office/accounts/${target.id}/cleanse`];
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const response = await fetch(`${test.url}${path}`, { method, redirect: 'manual', headers: { origin: test.url, 'content-type': 'application/x-www-form-urlencoded' }, ...(method === 'POST' ? { body: 'reason=x&query=x' } : {}) });
        expect(response.status, `${method} ${path} signed out`).to.equal(303);
        expect(response.headers.get('location'), `${method} ${path}`).to.match(/^\/back-office\/signin\?return=/);
      }
    }

    const { account: reviewer, browser: reviewerBrowser } = await signedInReviewer(test);
    const patient = await createAccount(test);
    const patientBrowser = newBrowser(test);
    const patientPage = await completeSignIn(test, patient, patientBrowser, await patientBrowser.get(`${test.url}/back-office/accounts`), TEST_PASSWORD, await addAuthenticatorApp(test, patient));
    expect(patientPage.status).to.equal(403);
    // The reviewer posts with a valid token of their own back-office session (from a case page).
    const reviewerToken = csrfOf(await reviewerBrowser.get(`${test.url}/back-office/cases/${await anyCaseId()}`));
    for (const [who, browser, token] of [['reviewer', reviewerBrowser, reviewerToken], ['patient', patientBrowser, 'no-token']] as const) {
      for (const path of paths) {
        const get = await browser.get(`${test.url}${path}`);
        expect(get.status, `${who} GET ${path}`).to.equal(403);
        expect(heading(get), `${who} GET ${path}`).to.equal('You do not have access to the back office');
        expect(get.html).to.not.include(target.email);
        const post = await browser.post(`${test.url}${path}`, { _csrf: token, reason: 'trying', query: target.email }, { origin: test.url });
        expect(post.status, `${who} POST ${path}`).to.equal(403);
        expect(post.html).to.not.include(target.email);
      }
    }
    const untouched = (await test.idp.services.accounts.findById(target.id))!;
    expect({ status: untouched.status, mobile: untouched.mobileNumber, verified: untouched.mobileVerifiedAt !== null }).to.deep.equal({ status: 'active', mobile: target.mobileNumber, verified: true });
    expect(await auditTypes(test, target.id, 'mobile.')).to.deep.equal([]);
    expect((await auditTypes(test, reviewer.id)).map((r) => r.type)).to.include('back_office.access_refused');
    expect((await auditTypes(test, reviewer.id)).map((r) => r.type)).to.not.include('back_office.account_viewed');
  });

  /** A case id for the reviewer to open (so their page carries their session's CSRF token). */
  async function anyCaseId(): Promise<string> {
    const account = await createAccount(test);
    const submitted = await test.idp.services.photoIdCases.submit({ accountId: account.id, documentType: 'passport', spokenDigits: '1234', photo: { contentType: 'image/jpeg', content: Buffer.from('x') }, video: { contentType: 'video/mp4', content: Buffer.from('y') } });
    return submitted.caseId;
  }

  it('E7: support cannot open or act on its own account or another back-office account (403, audited, nothing changes)', async () => {
    const { account: staff, browser, page } = await signedInSupport(test);
    const { account: reviewer } = await createReviewer(test);
    const { account: otherSupport } = await signedInSupport(test);
    const token = csrfOf(page);
    for (const [target, title] of [[staff, 'You cannot use the support desk on your own account'], [reviewer, 'You cannot use the support desk on a back-office account'], [otherSupport, 'You cannot use the support desk on a back-office account']] as const) {
      const found = await findOnDesk(test, browser, target.email, 'curious');
      expect(found.status, target.email).to.equal(403);
      expect(heading(found)).to.equal(title);
      expect(found.html).to.not.include(`/back-office/accounts/${target.id}/disable`);
      for (const path of ['', '/disable', '/unlock', '/enable', '/cleanse']) {
        expect((await browser.get(`${test.url}/back-office/accounts/${target.id}${path}`)).status, `GET ${path}`).to.equal(403);
        const post = await browser.post(`${test.url}/back-office/accounts/${target.id}${path}`, { _csrf: token, reason: 'INC-1' }, { origin: test.url });
        expect(post.status, `POST ${path}`).to.equal(403);
        expect(heading(post)).to.equal(title);
      }
      expect((await test.idp.services.accounts.findById(target.id))!.status).to.equal('active');
    }
    const refused = (await auditTypes(test, staff.id)).filter((r) => r.type === 'back_office.support_refused');
    expect(refused.map((r) => r.detail.why)).to.include('own-account').and.include('back-office-account');
    expect(await auditTypes(test, reviewer.id, 'account.')).to.deep.equal([]);
  });

  it('C5: a support action without this session\'s CSRF token, or from another site, is refused and changes nothing', async () => {
    const { browser, page } = await signedInSupport(test);
    const target = await createAccount(test);
    const path = `${test.url}/back-office/accounts/${target.id}/disable`;
    const forged = await browser.post(path, { _csrf: 'x'.repeat(43), reason: 'INC-2' }, { origin: test.url });
    expect(forged.status).to.equal(403);
    const crossSite = await browser.post(path, { _csrf: csrfOf(page), reason: 'INC-2' }, { origin: 'https://evil.example' });
    expect(crossSite.status).to.equal(403);
    const search = await browser.post(`${test.url}/back-office/accounts`, { query: target.email, reason: 'INC-2' }, { origin: test.url });
    expect(search.status).to.equal(403);
    expect(search.html).to.not.include(target.id);
    expect((await test.idp.services.accounts.findById(target.id))!.status).to.equal('active');
  });

  it('C4: a session or refresh token saved back by a request in flight while disabling does not work again after enabling', async () => {
    const { browser } = await signedInSupport(test);
    const person = await createAccount(test);
    const { browser: patientBrowser } = await signInToAccount(test, person);
    const signedIn = await signIn(test, { email: person.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' }, browser: patientBrowser });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    const rows: { r: Record<string, unknown> }[] = await test.idp.db.dataSource.query(`SELECT row_to_json(o) AS r FROM oidc_model o WHERE payload->>'accountId' = $1 AND model IN ('Session', 'RefreshToken', 'Grant')`, [person.id]);
    expect(rows.length).to.be.at.least(3);

    for (const action of ['disable', 'enable'] as const) {
      const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/${action}`);
      expect((await browser.submit(form, { reason: 'INC-9' }, { actionContains: '/back-office/accounts/' })).status).to.equal(200);
      if (action === 'disable') {
        // What a request in flight during the disable would do: save the rows it read before it.
        for (const { r } of rows) {
          await test.idp.db.dataSource.query(`INSERT INTO oidc_model SELECT * FROM json_populate_record(NULL::oidc_model, $1::json) ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload`, [JSON.stringify(r)]);
        }
      }
    }
    expect((await test.idp.services.accounts.findById(person.id))!.status).to.equal('active');
    expect(heading(await patientBrowser.get(`${test.url}/account`))).to.not.equal('Your account');
    let refreshError: string | undefined;
    try {
      await oidc.refreshTokenGrant(await test.rp.configuration(), tokens.refresh_token!);
    } catch (error) {
      refreshError = (error as { error?: string }).error;
    }
    expect(refreshError).to.equal('invalid_grant');
  });
});

describe('back office: the support desk\'s cap on look-ups (E7: insider browsing)', function () {
  this.timeout(60_000);
  const CAP = 3;
  let test: TestIdp;
  let capture: LogCapture;
  before(async () => {
    capture = createLogCapture();
    test = await startTestIdp({ env: { SUPPORT_LOOKUPS_PER_HOUR: String(CAP) }, logger: createLogger({ level: 'info' }, capture) });
  });
  after(async () => test?.close());

  it('E7: past SUPPORT_LOOKUPS_PER_HOUR searches and openings an hour, a look-up is refused (429, CL1070) before anything is looked up, audited and logged at warn; another member of staff is not affected; the next hour it works', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await createAccount(test);
    // A search, a miss and an opening by link all count.
    expect(heading(await findOnDesk(test, browser, person.email, 'INC-1'))).to.equal('Account details');
    expect((await findOnDesk(test, browser, 'nobody-at-all@example.test', 'INC-2')).status).to.equal(404);
    const ask = await browser.get(`${test.url}/back-office/accounts/${person.id}`);
    expect(heading(await browser.submit(ask, { reason: 'INC-3' }, { actionContains: `/back-office/accounts/${person.id}` }))).to.equal('Account details');
    // A form with errors looks nothing up and counts nothing.
    expect((await findOnDesk(test, browser, person.email, '')).status).to.equal(400);

    const refused = await findOnDesk(test, browser, person.email, 'INC-4, looking around');
    expect(refused.status).to.equal(429);
    expect(heading(refused)).to.equal('You have looked up too many accounts');
    expect(pageText(refused)).to.include(`You can look up ${CAP} accounts an hour. Try again in`).and.include('Reference: CL1070');
    expect(refused.html).to.not.include(person.email).and.not.include(person.id);
    expect(Number(refused.headers.get('retry-after'))).to.be.within(3000, 3600);
    const byLink = await browser.submit(ask, { reason: 'INC-5' }, { actionContains: `/back-office/accounts/${person.id}` });
    expect(byLink.status).to.equal(429);
    expect(byLink.html).to.not.include(person.email);

    const rows = await auditTypes(test, staff.id);
    expect(rows.filter((r) => r.type === 'back_office.account_searched')).to.have.length(2);
    expect(rows.filter((r) => r.type === 'back_office.account_viewed')).to.have.length(2);
    expect(rows.filter((r) => r.type === 'back_office.lookup_refused').map((r) => r.detail)).to.deep.equal([{ via: 'search', cap: CAP, note: 'INC-4, looking around' }, { via: 'link', cap: CAP, note: 'INC-5' }]);
    const warnings = capture.find(/support desk look-up refused/).map((w) => ({ level: w.level, event: w.event, accountId: w.accountId, cap: w.cap }));
    expect(warnings).to.deep.equal([1, 2].map(() => ({ level: 'warn', event: 'back_office.lookup_cap_reached', accountId: staff.id, cap: CAP })));
    expect(capture.text()).to.not.include('looking around').and.not.include(person.email);

    // The cap is per member of staff.
    const other = await signedInSupport(test);
    expect(heading(await findOnDesk(test, other.browser, person.email, 'INC-6'))).to.equal('Account details');
    // An hour on (the window moved back in the data), the first member of staff can look again.
    await test.idp.db.dataSource.query(`UPDATE attempt_counter SET window_started_at = window_started_at - interval '1 hour' WHERE key = $1`, [lockoutKeys.supportLookups(staff.id)]);
    expect(heading(await findOnDesk(test, browser, person.email, 'INC-7'))).to.equal('Account details');
  });

  it('E7: many look-ups at once never get past the cap (one atomic count)', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await createAccount(test);
    const form = await browser.get(`${test.url}/back-office/accounts`);
    const answers = await Promise.all(Array.from({ length: CAP + 4 }, (_, n) => browser.post(`${test.url}/back-office/accounts`, { _csrf: csrfOf(form), query: person.email, reason: `INC-${n}` }, { origin: test.url })));
    expect(answers.filter((a) => a.status === 200)).to.have.length(CAP);
    expect(answers.filter((a) => a.status === 429)).to.have.length(4);
    expect((await auditTypes(test, staff.id)).filter((r) => r.type === 'back_office.account_viewed')).to.have.length(CAP);
  });
});

describe('back office: support desk logs (F4: no reason text, address or NHS number in log lines)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let capture: LogCapture;
  before(async () => {
    capture = createLogCapture();
    test = await startTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
  });
  after(async () => test?.close());

  it('F4: searching, viewing, disabling and removing the mobile number log their audit events, but not the reason typed, the address searched, the NHS number or the mobile number', async () => {
    const { browser } = await signedInSupport(test);
    const person = await createAccount(test);
    const nhsNumber = testNhsNumber();
    await test.idp.db.dataSource.query(`UPDATE account SET nhs_number = $2 WHERE id = $1`, [person.id, nhsNumber]);
    expect(heading(await findOnDesk(test, browser, person.email, 'Caller Jane Example, ticket 77'))).to.equal('Account details');
    expect(heading(await findOnDesk(test, browser, nhsNumber, 'Caller Jane Example again'))).to.equal('Account details');
    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/disable`);
    expect(heading(await browser.submit(form, { reason: 'Jane Example says her phone was stolen' }, { actionContains: '/back-office/accounts/' }))).to.equal('Account disabled');

    const cleanse = await browser.get(`${test.url}/back-office/accounts/${person.id}/cleanse`);
    expect(heading(await browser.submit(cleanse, { reason: 'Jane Example says her old number went to someone else' }, { actionContains: '/cleanse' }))).to.equal('Mobile phone number removed');

    expect(capture.find(/audit back_office\.account_viewed/)).to.have.length(2);
    expect(capture.find(/audit account\.disabled/)).to.have.length(1);
    expect(capture.find(/audit mobile\.cleansed/)).to.have.length(1);
    const text = capture.text();
    expect(text).to.not.include('Jane Example').and.not.include(person.email).and.not.include(nhsNumber).and.not.include(person.mobileNumber!).and.not.include(person.mobileNumber!.slice(3));
    const [row] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'account.disabled'`, [person.id]);
    expect(row.detail.note).to.equal('Jane Example says her phone was stolen');
  });
});
