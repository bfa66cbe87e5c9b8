/**
 * The P5 identity check ("Prove who you are") in a real browser: from the demo service with a P5
 * vector, and from Your account's "Prove who you are" button. Every page is screenshotted
 * (test-artifacts/screenshots/) and scanned with axe-core for WCAG 2.2 A/AA.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectPage, fillEmail, fillPassword, fillSecurityCode, focusedErrorSummary, focusedId, signInToYourAccount, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

const FIXED_CODE = '190696';
const p0 = PERSONAS.find((p) => p.key === 'p0')!;

/** What a person types on "Prove who you are"; a field left out is cleared (the page shows typed values again). */
interface Details {
  nhsNumber?: string;
  givenName?: string;
  familyName?: string;
  day?: string;
  month?: string;
  year?: string;
  postcode?: string;
}

async function enterDetails(page: Page, details: Details): Promise<void> {
  const fields: [string, string | undefined][] = [
    ['NHS number (optional)', details.nhsNumber],
    ['First name', details.givenName],
    ['Last name', details.familyName],
    ['Day', details.day],
    ['Month', details.month],
    ['Year', details.year],
    ['Postcode', details.postcode],
  ];
  // Found by their accessible names, as assistive technology finds them: a broken label fails here.
  for (const [name, value] of fields) await page.getByRole('textbox', { name, exact: true }).fill(value ?? '');
  await clickButton(page, 'Continue');
}

/**
 * The error summary takes focus, lists exactly these messages in page order, each links to its
 * field by anchor, and following each link puts keyboard focus on that field.
 */
async function expectErrorSummary(page: Page, expected: readonly (readonly [fieldId: string, message: string])[]): Promise<void> {
  const summary = await focusedErrorSummary(page);
  const links = summary.locator('a');
  const listed = await links.evaluateAll((anchors) => anchors.map((a) => ({ href: a.getAttribute('href'), text: (a.textContent ?? '').trim() })));
  expect(listed).to.deep.equal(expected.map(([fieldId, message]) => ({ href: `#${fieldId}`, text: message })));
  for (const [fieldId, message] of expected) {
    expect(await page.locator(`#${fieldId}`).count(), `the summary's anchor #${fieldId} is on the page`).to.equal(1);
    // The message is also shown at the field (nhsuk error message), not only in the summary.
    expect(await page.locator('.nhsuk-error-message').filter({ hasText: message }).count(), `"${message}" at its field`).to.equal(1);
    await summary.locator(`a[href="#${fieldId}"]`).click();
    expect(await focusedId(page), `focus after following "${message}"`).to.equal(fieldId);
  }
}

describe('browser: proving who you are, P5 (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);

  const suite = useBrowserSuite();

  it('P0 persona at a P5.Cp.Cd service: sign in, "Prove who you are" with invalid details (error summary), unknown details (not found, tries left), then Jordan Reid → consent → vot P5.Cp.Cd with his NHS number', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('identity-check');
    const { rpUrl, idp } = suite.env;

    await page.goto(`${rpUrl}/`);
    await expectPage(page, 'Sign in to the demo service');
    await page.getByRole('radio', { name: /^P5\.Cp\.Cd/ }).check();
    await record.check(page, 'demo-rp-start-p5');
    await continueFromDemoRp(page, rpUrl);

    await expectPage(page, 'Enter your email address');
    await record.check(page, 'enter-email');
    await fillEmail(page, p0.email);
    await expectPage(page, 'Enter your password');
    await record.check(page, 'enter-password');
    await fillPassword(page, p0.password);
    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'enter-security-code');
    await fillSecurityCode(page, FIXED_CODE);

    expect(page.url()).to.match(new RegExp(`^${idp.url}/interaction/`));
    await expectPage(page, 'Prove who you are');
    await record.check(page, 'prove-who-you-are');

    // Not valid: a short NHS number, 31 February, no postcode. Nothing is asked of the register.
    await enterDetails(page, { nhsNumber: '12345', day: '31', month: '2', year: '1990' });
    await expectPage(page, 'Prove who you are');
    expect(await page.title()).to.match(/^Error: Prove who you are/);
    await record.check(page, 'prove-who-you-are-errors');
    await expectErrorSummary(page, [
      ['nhs-number', 'NHS number must be 10 numbers'],
      ['birthdate-day', 'Date of birth must be a real date'],
      ['postcode', 'Enter your postcode'],
    ]);

    // Valid, but nobody on the register: one message whatever the reason, and the tries left.
    await enterDetails(page, { givenName: 'Nobody', familyName: 'Known', day: '1', month: '1', year: '1970', postcode: 'ZZ1 1ZZ' });
    await expectPage(page, 'Prove who you are');
    await record.check(page, 'prove-who-you-are-not-found');
    await expectErrorSummary(page, [['nhs-number', 'We could not find your details. Check they match the details your GP surgery has for you']]);
    expect(await page.locator('main').innerText()).to.include('You have 2 more tries before you need to wait 15 minutes');
    // What was typed comes back, so a typo can be put right.
    expect(await page.getByRole('textbox', { name: 'Last name', exact: true }).inputValue()).to.equal('Known');

    // Jordan Reid (the P0 persona's stand-in on the fake register, docs/personas.md), by NHS number.
    await enterDetails(page, { nhsNumber: '991 011 3716', day: '10', month: '10', year: '1990', postcode: 'G1 1XQ' });
    await expectPage(page, /^Share your information with /);
    await record.check(page, 'consent');
    await clickButton(page, 'Continue');

    expect(page.url()).to.equal(`${rpUrl}/signed-in`);
    await expectPage(page, 'You are signed in to the demo service');
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P5.Cp.Cd');
    expect(await summaryValue(page, 'Matches the request')).to.equal('Yes');
    expect(await summaryValue(page, 'identity_proofing_level')).to.equal('P5');
    expect(await summaryValue(page, 'nhs_number')).to.equal('9910113716');

    expect(record.scanned).to.deep.equal([
      'demo-rp-start-p5',
      'enter-email',
      'enter-password',
      'enter-security-code',
      'prove-who-you-are',
      'prove-who-you-are-errors',
      'prove-who-you-are-not-found',
      'consent',
      'demo-rp-signed-in',
    ]);
    expect(errors, 'script errors or CSP violations in the pages').to.deep.equal([]);
  });

  it('Your account: a P0 account selects "Prove who you are", enters Amara Patel\'s details and is back in Your account with a banner and its new identity', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('account-identity');
    const { idp } = suite.env;
    // A fresh account: Jordan Reid is linked to the P0 persona by the test above.
    const account = await createAccount(idp);

    await signInToYourAccount(page, idp.url, account, TEST_PASSWORD);
    expect(await page.locator('main').innerText()).to.include('You have not proved who you are yet');
    await record.check(page, 'account-not-proved');

    await clickButton(page, 'Prove who you are');
    await expectPage(page, 'Prove who you are');
    await record.check(page, 'account-prove-who-you-are');
    await enterDetails(page, { givenName: 'Amara', familyName: 'Patel', day: '3', month: '2', year: '1991', postcode: 'M1 1AE' });

    await expectPage(page, 'Your account');
    expect(new URL(page.url()).pathname).to.equal('/account');
    expect(await page.getByRole('alert').innerText()).to.include('You have proved who you are');
    await record.check(page, 'account-proved');
    expect(await summaryValue(page, 'Identity')).to.equal('Your details have been matched to your NHS record');
    expect(await summaryValue(page, 'NHS number')).to.equal('991 000 0016');
    expect(await summaryValue(page, 'Name')).to.equal('Amara Patel');
    expect(await summaryValue(page, 'Date of birth')).to.equal('3 February 1991');
    expect(await page.getByRole('button', { name: 'Prove who you are' }).count()).to.equal(0);

    expect(record.scanned).to.deep.equal(['account-not-proved', 'account-prove-who-you-are', 'account-proved']);
    expect(errors, 'script errors or CSP violations in the pages').to.deep.equal([]);
  });
});
