import { expect } from 'chai';
import { findForm, pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { newUkMobile } from './recovery-helpers.js';
import { TEST_PASSWORD, createAccount, heading, latestSmsCode, startJourney, submit } from './support.js';

/**
 * Back links on journey pages are transitions of the journey's data (a POST to `<step>/back`), so
 * they can only go where the data says, never skip a step, and never undo a lock or a limit.
 */
describe('Back links in journeys', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  it('goes from the password page back to the email address, which is kept, and on again', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test);
    const password = await submit(journey, journey.page, { email: account.email });
    expect(heading(password)).to.equal('Enter your password');
    expect(findForm(password, '/back').buttons.map((b) => b.text)).to.deep.equal(['Back']);
    const email = await journey.browser.submit(password, {}, { actionContains: '/back' });
    expect(heading(email)).to.equal('Enter your email address');
    expect(email.html).to.include(`value="${account.email}"`);
    expect(email.html, 'the first page has no Back').not.to.include('/back"');
    const again = await submit(journey, email, { email: account.email });
    const code = await submit(journey, again, { password: TEST_PASSWORD });
    expect(heading(code)).to.equal('Check your mobile phone');
  });

  it('is refused where the journey offers none (it cannot be used to skip or rewind a step)', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test);
    let page = await submit(journey, journey.page, { email: account.email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    expect(heading(page)).to.equal('Check your mobile phone');
    expect(page.html, 'no Back on the security code page').not.to.include('/back"');
    // Forged: a Back from the security code page, and from a step the journey is not on.
    const stepUrl = page.url.replace(/\/$/, '');
    const forged = await journey.browser.post(`${stepUrl}/back`, { _csrf: findForm(page).fields._csrf! }, { origin: new URL(page.url).origin });
    expect(heading(forged)).to.equal('Check your mobile phone');
    const elsewhere = await journey.browser.post(stepUrl.replace(/[^/]+$/, 'enter-password/back'), { _csrf: findForm(page).fields._csrf! }, { origin: new URL(page.url).origin });
    expect(heading(elsewhere)).to.equal('Check your mobile phone');
    // And without the CSRF token it is refused like any form.
    const noToken = await journey.browser.post(`${stepUrl}/back`, {}, { origin: new URL(page.url).origin });
    expect(noToken.status).to.equal(403);
  });

  it('does not lift a security code lock: back to the number and the same number again is still locked', async () => {
    const account = await createAccount(test, { mobile: false });
    const mobile = newUkMobile();
    const journey = await startJourney(test);
    let page = await submit(journey, journey.page, { email: account.email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    expect(heading(page)).to.equal('Enter your mobile phone number');
    page = await submit(journey, page, { mobile: mobile.typed });
    expect(heading(page)).to.equal('Check your mobile phone');
    const right = await latestSmsCode(test, mobile.e164);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < test.idp.config.limits.securityCodeAttempts; i++) page = await submit(journey, page, { code: wrong });
    expect(heading(page)).to.equal('You entered the wrong security code too many times');
    // The locked page, as it is shown again (a reload), with its Back link.
    const back = await journey.browser.submit(await journey.browser.get(page.url), {}, { actionContains: '/back' });
    expect(heading(back)).to.equal('Enter your mobile phone number');
    const again = await submit(journey, back, { mobile: mobile.typed });
    expect(heading(again), pageText(again).slice(0, 200)).to.equal('You entered the wrong security code too many times');
    const sent: { n: string }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM outbox_message WHERE recipient = $1`, [mobile.e164]);
    expect(Number(sent[0]!.n), 'no new code sent to a locked step').to.equal(1);
  });
});
