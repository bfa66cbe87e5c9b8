import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { NOT_FOUND } from '../../interactions/methods/demographics-match/index.js';
import { formatNhsNumber } from '../../src/accounts/nhs-number.js';
import { findForm, pageText, type Browser, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { startTestIdp } from '../helpers/idp.js';
import { createAccount, errorSummary, heading } from '../interactions/support.js';
import { signInToAccount, startAccountTestIdp } from './support.js';

/**
 * Register patients (src/demographics/fake-pds-patients.ts, docs/personas.md): each can be linked once
 * per IdP. Accounts made proved directly use 999 numbers no persona holds (one account per NHS number).
 */
const JORDAN = { 'nhs-number': '991 011 3716', 'birthdate-day': '10', 'birthdate-month': '10', 'birthdate-year': '1990', postcode: 'G1 1XQ' };
const AMARA = { 'given-name': 'Amara', 'family-name': 'Patel', 'birthdate-day': '3', 'birthdate-month': '2', 'birthdate-year': '1991', postcode: 'M1 1AE' };
const NOBODY = { 'given-name': 'Nobody', 'family-name': 'Known', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1970', postcode: 'ZZ1 1ZZ' };

/** An account that has proved who it is, with the details a match or the P9 route leaves on it. */
async function provedAccount(test: TestIdp, level: 'P5' | 'P9', details: { nhsNumber: string; givenName: string | null; familyName: string; birthdate: string }): Promise<Account> {
  const account = await createAccount(test, { proofingLevel: level });
  await test.idp.db.dataSource.query(
    `UPDATE account SET nhs_number = $2, given_name = $3, family_name = $4, birthdate = $5, postcode = 'NE1 7RU', gp_ods_code = 'A20047',
       gp_user_id = $6, gp_linkage_key = $7 WHERE id = $1`,
    [account.id, details.nhsNumber, details.givenName, details.familyName, details.birthdate, level === 'P9' ? '9422356112' : null, level === 'P9' ? 'Hf3kPzQ9mWd2T' : null],
  );
  return (await test.idp.services.accounts.findById(account.id))!;
}

/** The "Your identity" section of the overview, as text (up to the next section). */
function identitySection(page: Page): string {
  const text = pageText(page);
  const start = text.indexOf('Your identity');
  expect(start, 'a "Your identity" section').to.be.greaterThan(-1);
  return text.slice(start, text.indexOf('Sign in details', start));
}

/** Posts a form with this session's CSRF token to `path` and returns the first answer, without following it. */
function postNoFollow(browser: Browser, from: Page, path: string, token: string): Promise<Page> {
  const form: Page = { ...from, html: `<form method="post" action="${path}"><input type="hidden" name="_csrf" value="${token}"></form>` };
  return browser.submit(form, {}, { noFollow: true });
}

/** Selects "Prove who you are" in Your account and follows it into the identity check. */
async function proveWhoYouAre(browser: Browser, overview: Page): Promise<Page> {
  const page = await browser.submit(overview, {}, { actionContains: '/prove-who-you-are' });
  expect(heading(page), pageText(page).slice(0, 300)).to.equal('Prove who you are');
  return page;
}

describe('Your account: your identity', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  it('a P0 account: "not proved yet" and a "Prove who you are" button (a form with this session\'s CSRF token), and no NHS number', async () => {
    const account = await createAccount(test);
    const { page } = await signInToAccount(test, account);
    const section = identitySection(page);
    expect(section).to.include('You have not proved who you are yet');
    expect(section).not.to.include('NHS number');
    const form = findForm(page, '/prove-who-you-are');
    expect(form.method.toLowerCase()).to.equal('post');
    expect(form.fields._csrf).to.be.a('string').and.not.equal('');
    expect(form.buttons.map((b) => b.text)).to.deep.equal(['Prove who you are']);
    // A link that claims success proves nothing: no banner for an account still at P0.
    const crafted = await (await signInToAccount(test, account)).browser.get(`${test.url}/account?done=identity`);
    expect(pageText(crafted)).not.to.include('You have proved who you are');
  });

  it('the check started from Your account says so, and "Go back to your account" returns there still at P0', async () => {
    const account = await createAccount(test);
    const { browser, page } = await signInToAccount(test, account);
    const check = await proveWhoYouAre(browser, page);
    expect(pageText(check)).to.include('services that need to know it is you can use your').and.not.include('The service you are using');
    const back = await browser.submit(check, {}, { actionContains: '/return-to-service' });
    expect(back.url).to.equal(`${test.url}/account`);
    expect(identitySection(back)).to.include('You have not proved who you are yet');
  });

  it('"Prove who you are" sends a P0 account through /authorize with the P5 vectors, and back to Your account as P5 with a banner and its new details', async () => {
    const account = await createAccount(test);
    const { browser, page } = await signInToAccount(test, account);
    const started = await browser.submit(page, {}, { actionContains: '/prove-who-you-are', noFollow: true });
    expect(started.status).to.equal(303);
    const authorize = new URL(started.headers.get('location')!, test.url);
    expect(authorize.pathname).to.equal('/authorize');
    expect(authorize.searchParams.get('client_id')).to.equal('carelogin-account');
    expect(JSON.parse(authorize.searchParams.get('vtr')!)).to.deep.equal(['P5.Cp.Cd', 'P5.Cp.Ck', 'P5.Cm']);
    // Signed in already, with a password and a code: no prompt=login, so only the check itself is asked for.
    expect(authorize.searchParams.has('prompt')).to.equal(false);

    const check = await proveWhoYouAre(browser, page);
    const done = await browser.submit(check, JORDAN);
    expect(heading(done), pageText(done).slice(0, 300)).to.equal('Your account');
    expect(new URL(done.url).pathname + new URL(done.url).search).to.equal('/account?done=identity');
    expect(done.html).to.match(/class="nhsuk-notification-banner nhsuk-notification-banner--success"[^>]*role="alert"/);
    expect(pageText(done)).to.include('You have proved who you are');
    const section = identitySection(done);
    expect(section).to.include('Your details have been matched to your NHS record');
    expect(section).to.include('991 011 3716');
    expect(section).to.include('Jordan Reid');
    expect(section).to.include('10 October 1990');
    expect(section).not.to.include('You have not proved who you are yet');
    expect(done.html).not.to.include('/account/prove-who-you-are');
    // Only the number, name and date of birth: not the postcode or GP practice the match also copied.
    expect(pageText(done)).not.to.include('G1 1XQ').and.not.to.include('S10002');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
  });

  it('a P5 account sees the level in words, its NHS number (3 3 4), name and date of birth, and no button', async () => {
    const account = await provedAccount(test, 'P5', { nhsNumber: '9990001006', givenName: null, familyName: 'Okafor', birthdate: '1985-07-14' });
    const { page } = await signInToAccount(test, account);
    const section = identitySection(page);
    expect(section).to.match(/Identity\s+Your details have been matched to your NHS record/);
    expect(section).to.match(/NHS number\s+999 000 1006/);
    expect(section).to.match(/Name\s+Okafor/);
    expect(section).to.match(/Date of birth\s+14 July 1985/);
    expect(page.html).not.to.include('/account/prove-who-you-are');
    expect(pageText(page)).not.to.include('You have proved who you are');
  });

  it('a P9 account sees the P9 level in words and its details, never its GP online credentials, postcode or practice', async () => {
    const account = await provedAccount(test, 'P9', { nhsNumber: '9990002002', givenName: 'Eleanor', familyName: 'Whitfield', birthdate: '1962-03-21' });
    const { page } = await signInToAccount(test, account);
    const section = identitySection(page);
    expect(section).to.include('You have proved who you are with photo ID or your GP surgery');
    expect(section).to.match(/NHS number\s+999 000 2002/);
    expect(section).to.match(/Name\s+Eleanor Whitfield/);
    expect(section).to.match(/Date of birth\s+21 March 1962/);
    const text = pageText(page);
    for (const hidden of ['9422356112', 'Hf3kPzQ9mWd2T', 'A20047', 'NE1 7RU']) expect(text, hidden).not.to.include(hidden);
  });

  it('a P0 whose details are not found stays on the check (which says so), and can come back to Your account and start again', async () => {
    const account = await createAccount(test);
    const { browser, page } = await signInToAccount(test, account);
    const miss = await browser.submit(await proveWhoYouAre(browser, page), NOBODY);
    expect(miss.status).to.equal(400);
    expect(errorSummary(miss)).to.deep.equal([NOT_FOUND]);
    expect(pageText(miss)).to.include('You have 2 more tries');

    const back = await browser.get(`${test.url}/account`);
    expect(heading(back)).to.equal('Your account');
    expect(identitySection(back)).to.include('You have not proved who you are yet');
    expect(pageText(back)).not.to.include('You have proved who you are');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P0');
    // The button starts a new check; the misses still count against the account.
    const again = await proveWhoYouAre(browser, back);
    expect(findForm(again).fields['family-name'] ?? '').to.equal('');
  });

  it('a check that ends without a match (details linked to another account) comes back to Your account, still signed in, not "You are not signed in"', async () => {
    await provedAccount(test, 'P5', { nhsNumber: '9910000016', givenName: 'Amara', familyName: 'Patel', birthdate: '1991-02-03' });
    const account = await createAccount(test);
    const { browser, page } = await signInToAccount(test, account);
    const linked = await browser.submit(await proveWhoYouAre(browser, page), AMARA);
    expect(heading(linked)).to.equal('Your details are already linked to another account');
    const back = await browser.submit(linked, {});
    expect(heading(back), pageText(back).slice(0, 300)).to.equal('Your account');
    expect(new URL(back.url).pathname).to.equal('/account');
    expect(identitySection(back)).to.include('You have not proved who you are yet');
    expect(pageText(back)).not.to.include('You have proved who you are');
  });

  it('refuses a "Prove who you are" post without the session\'s CSRF token, and a proved account\'s post starts nothing', async () => {
    const p0 = await createAccount(test);
    const signedIn = await signInToAccount(test, p0);
    const forged = await signedIn.browser.post(`${test.url}/account/prove-who-you-are`, { _csrf: 'not-the-token' }, { origin: test.url });
    expect(forged.status).to.equal(403);

    const p5 = await provedAccount(test, 'P5', { nhsNumber: '9990003009', givenName: null, familyName: 'Okafor', birthdate: '1985-07-14' });
    const proved = await signInToAccount(test, p5);
    const token = findForm(proved.page, '/sign-out').fields._csrf!;
    // Straight back to the overview: no authorization request, no banner.
    const ignored = await postNoFollow(proved.browser, proved.page, '/account/prove-who-you-are', token);
    expect(ignored.status).to.equal(303);
    expect(ignored.headers.get('location')).to.equal('/account');
  });
});

describe('Your account: your identity when checks are switched off (DEMOGRAPHICS_SOURCE=none)', function () {
  this.timeout(60_000);

  it('says proving who you are is not available, with no button', async () => {
    const test = await startTestIdp({ env: { DEMOGRAPHICS_SOURCE: 'none' } });
    try {
      const { page } = await signInToAccount(test, await createAccount(test));
      const section = identitySection(page);
      expect(section).to.include('You have not proved who you are yet').and.include('not available at the moment');
      expect(page.html).not.to.include('/account/prove-who-you-are');
    } finally {
      await test.close();
    }
  });
});

describe('NHS numbers for people to read', () => {
  it('groups ten digits 3 3 4 and leaves anything else as it is', () => {
    expect(formatNhsNumber('9910113716')).to.equal('991 011 3716');
    expect(formatNhsNumber('991011371')).to.equal('991011371');
  });
});
