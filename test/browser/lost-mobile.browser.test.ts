/**
 * "I cannot access my mobile" in a real browser: from the security code page, a code to the email
 * address, a new UK mobile number and the code texted to it; the new number is held (X1), so the
 * service, which asked for a security code, gets an honest refusal; then the owner cancels the
 * change with the link texted to the old number. Codes and links are read from the development
 * outbox JSON. Every page is screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, latestOutboxMessage, outboxCode } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';
import { newMobile } from '../interactions/create-account-helpers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;

describe('browser: signing in without the old mobile, adding a new one (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);

  const suite = useBrowserSuite();

  it('security code page → "I cannot access my mobile" → email code → new mobile → its code → held for 24 hours → the service is refused; the cancel link undoes it', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('lost-mobile');
    const mobile = newMobile();

    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await expectPage(page, 'Check your mobile phone');
    await clickButton(page, 'I cannot access my mobile');

    await expectPage(page, 'Check your email');
    await record.check(page, 'confirm-email-code');
    const emailedCode = await outboxCode(suite.env.idp.url, p9.email, 'sign-in-email-code');
    await page.getByRole('textbox', { name: 'Security code' }).fill(emailedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Enter your new mobile phone number');
    await record.check(page, 'enter-new-mobile');
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill('01632 960 001');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Enter your new mobile phone number');
    await record.check(page, 'enter-new-mobile-error');
    await expectFocusedErrorSummary(page, 'mobile', /.+/);
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill(mobile);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Check your new mobile phone');
    await record.check(page, 'confirm-new-mobile');
    const textedCode = await outboxCode(suite.env.idp.url, `+44${mobile.slice(1)}`, 'mobile-confirmation-code');
    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, 'We are changing your mobile phone number');
    await record.check(page, 'mobile-change-held');
    await clickButton(page, 'Continue');
    // The service asked for P9 with a security code, which the held number cannot give yet.
    await expectPage(page, 'You cannot use this service until your new mobile phone number is ready');
    await record.check(page, 'cannot-continue-mobile-change-held');
    await clickButton(page, 'Continue');
    await expectPage(page, 'You could not be signed in');

    // The owner, holding the old phone, follows the link texted to it.
    const texted = await latestOutboxMessage(suite.env.idp.url, p9.mobileNumber, 'mobile-change-pending-sms');
    const link = /(https?:\/\/\S+\/cancel-mobile\/[\w-]{43})/.exec(texted.body)?.[1];
    expect(link, texted.body).to.be.a('string');
    await page.goto(link!);
    await expectPage(page, 'Cancel the change to your mobile phone number');
    await record.check(page, 'cancel-mobile-change');
    await clickButton(page, 'Cancel the change');
    await expectPage(page, 'You have cancelled the change to your mobile phone number');
    await record.check(page, 'mobile-change-cancelled');

    expect(record.scanned).to.deep.equal(['confirm-email-code', 'enter-new-mobile', 'enter-new-mobile-error', 'confirm-new-mobile', 'mobile-change-held', 'cannot-continue-mobile-change-held', 'cancel-mobile-change', 'mobile-change-cancelled']);
    expect(errors).to.deep.equal([]);
  });

  it('the owner, signed in with the old number, sees the held change on Your account and cancels it there; axe-clean', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('lost-mobile-account');
    const p5 = PERSONAS.find((p) => p.key === 'p5')!;
    // Someone else put a number on hold for the P5 persona (the HTTP tests drive that route in full).
    const idp = suite.env.idp;
    const owner = (await idp.idp.services.accounts.findByEmail(p5.email))!;
    await idp.idp.db.dataSource.transaction((manager) =>
      idp.idp.services.mobileChanges.hold(manager, { accountId: owner.id, email: owner.email, oldMobile: owner.mobileNumber, newMobile: `+44${newMobile().slice(1)}` }));

    await page.goto(`${idp.url}/account`);
    await fillEmail(page, p5.email);
    await fillPassword(page, p5.password);
    await fillSecurityCode(page, '190696');
    await expectPage(page, 'Your account');
    expect(await page.getByText('Your mobile phone number is being changed').count()).to.equal(1);
    await record.check(page, 'account-mobile-change-held');
    await clickButton(page, 'Cancel the change');
    await expectPage(page, 'You have cancelled the change to your mobile phone number');
    expect(record.scanned).to.deep.equal(['account-mobile-change-held']);
    expect(errors).to.deep.equal([]);
  });
});

