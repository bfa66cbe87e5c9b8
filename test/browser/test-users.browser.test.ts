/**
 * /dev/test-users in Debian's Chromium, without relying on its script: from the start page, a test
 * user made with a mistake (the error summary takes focus and links to the field), then made, its
 * level set down on the list, and signed in at the demo service with the fixed code. Every page is
 * screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { PERSONA_PASSWORD } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

describe('browser: test users on request at /dev/test-users (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);
  const suite = useBrowserSuite();

  async function follow(page: Page, name: string | RegExp): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name }).first().click()]);
  }

  it('makes a P9 test user (after an error), sets it to P5 on the list, and signs it in at the demo service with 190696', async () => {
    const recorder = new JourneyRecorder('test-users');
    const { page, errors } = await suite.openPage();
    await page.goto(`${suite.env.idp.url}/`);
    await follow(page, 'test users');
    await expectPage(page, 'Test users');
    await recorder.check(page, 'list-empty');

    await page.getByRole('radio', { name: 'P9' }).check();
    await page.getByRole('textbox', { name: 'Email address (optional)' }).fill('browser.tester@carelogin.test');
    await page.getByRole('textbox', { name: 'NHS number (optional)' }).fill('999 000 0001');
    await page.getByRole('checkbox', { name: /Use the fixed security code/ }).check();
    await clickButton(page, 'Make test user');
    await expectPage(page, 'Test users');
    await expectFocusedErrorSummary(page, 'nhsNumber', 'Enter a valid NHS number, 10 digits with a correct check digit, like 999 000 5001');
    expect(await page.title()).to.match(/^Error: /);
    await recorder.check(page, 'error');

    // What was typed is kept; the ticked box too.
    expect(await page.getByRole('textbox', { name: 'Email address (optional)' }).inputValue()).to.equal('browser.tester@carelogin.test');
    expect(await page.getByRole('checkbox', { name: /Use the fixed security code/ }).isChecked()).to.equal(true);
    await page.getByRole('textbox', { name: 'NHS number (optional)' }).fill('');
    await page.getByRole('radio', { name: 'P9' }).check();
    await clickButton(page, 'Make test user');
    await expectPage(page, 'Test user made');
    expect(await page.locator('code').first().innerText()).to.equal(PERSONA_PASSWORD);
    await recorder.check(page, 'made');

    await follow(page, 'Back to test users');
    const card = page.locator('[data-test-user="browser.tester@carelogin.test"]');
    await card.getByRole('combobox', { name: 'New proofing level' }).selectOption('P5');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), card.getByRole('button', { name: /^Set level/ }).click()]);
    await expectPage(page, 'Test users');
    expect(await page.locator('.nhsuk-notification-banner').innerText()).to.contain('browser.tester@carelogin.test is now P5.');
    expect(await card.locator('.nhsuk-summary-list__row', { hasText: 'Proofing level' }).first().innerText()).to.contain('P5 (made at P9)');
    await recorder.check(page, 'list');

    // The demo service asks for P9 by default; P5.Cp.Cd is one of its choices.
    await page.goto(`${suite.env.rpUrl}/`);
    await page.getByRole('radio', { name: /P5\.Cp\.Cd/ }).first().check();
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, 'browser.tester@carelogin.test');
    await fillPassword(page, PERSONA_PASSWORD);
    await expectPage(page, 'Check your mobile phone');
    await fillSecurityCode(page, '190696');
    if ((await page.getByRole('button', { name: 'Continue' }).count()) > 0 && !page.url().startsWith(suite.env.rpUrl)) await clickButton(page, 'Continue');
    expect(page.url()).to.match(new RegExp(`^${suite.env.rpUrl}`));
    expect(await summaryValue(page, 'vot')).to.equal('P5.Cp.Cd');
    expect(errors).to.deep.equal([]);
  });
});
