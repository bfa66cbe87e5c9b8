import { expect } from 'chai';
import { createLogger } from '../../src/logger.js';
import type { TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { createAccount, latestSmsCode } from '../interactions/support.js';
import { outbox, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

describe('Your account: no personal data or secrets in the logs (F4)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let capture: LogCapture;

  before(async () => {
    capture = createLogCapture();
    test = await startAccountTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
  });
  after(async () => {
    await test?.close();
  });

  it('changing the password, email and mobile logs audit events but no address, number, password or code', async () => {
    const account = await createAccount(test);
    const newPassword = 'violet-harbour-compass-42';
    const newEmail = `logged-${account.email}`;
    const newMobile = '+447912345679';
    const { browser } = await signInToAccount(test, account);
    await browser.submit(await browser.get(`${test.url}/account/password`), { currentPassword: TEST_PASSWORD, newPassword });
    const checkEmail = await browser.submit(await browser.get(`${test.url}/account/email`), { email: newEmail, password: newPassword });
    const [mail] = await outbox(test, newEmail, 'email-confirmation-code');
    const emailCode = /\b(\d{6})\b/.exec(mail!.body)![1]!;
    await browser.submit(checkEmail, { code: emailCode });
    const checkMobile = await browser.submit(await browser.get(`${test.url}/account/mobile`), { mobile: newMobile });
    const smsCode = await latestSmsCode(test, newMobile);
    await browser.submit(checkMobile, { code: smsCode });

    const [row] = await test.idp.db.dataSource.query(`SELECT email, mobile_number FROM account WHERE id = $1`, [account.id]);
    expect(row).to.deep.equal({ email: newEmail, mobile_number: newMobile });
    const text = capture.text();
    expect(capture.find(/audit password\.changed/)).to.have.length(1);
    expect(capture.find(/audit email\.changed/)).to.have.length(1);
    expect(capture.find(/audit mobile\.changed/)).to.have.length(1);
    for (const secret of [account.email, newEmail, account.mobileNumber!, newMobile, newMobile.slice(3), TEST_PASSWORD, newPassword]) {
      expect(text, `"${secret}" must not be logged`).not.to.include(secret);
    }
    // Codes as whole numbers (six digits also occur inside timestamps and ids by chance).
    for (const code of [emailCode, smsCode]) expect(text).not.to.match(new RegExp(`(?<![0-9])${code}(?![0-9])`));
  });
});
