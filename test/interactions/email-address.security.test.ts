import { expect } from 'chai';
import { EMAIL_ADDRESS_MESSAGES, isEmailAddress } from '../../src/accounts/email-address.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { enterDetails, startRegistration } from './create-account-helpers.js';
import { errorSummary, startJourney, submit } from './support.js';

/**
 * One email address rule for every form and the outbox (src/accounts/email-address.ts): an address
 * a form accepts must be one the database stores and the outbox sends to. Before, registration
 * accepted `, " ( ) < > ;` that the outbox refused, and "Forgotten your password?" accepted a NUL
 * that PostgreSQL refused: both were a 500 instead of "enter it in the correct format".
 */
const REFUSED = ['a,b@example.com', 'a"b@example.com', '(x)@example.com', 'a<b>@example.com', 'a;b@example.com', 'a\u0000b@example.com'];

describe('email addresses in forms', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('the rule refuses what the outbox or the database would, and accepts ordinary addresses', () => {
    for (const email of REFUSED) expect(isEmailAddress(email), JSON.stringify(email)).to.equal(false);
    for (const email of ['name@example.com', "o'brien+nhs@mail.example.co.uk", 'jo.bloggs@xn--bcher-kva.example']) expect(isEmailAddress(email), email).to.equal(true);
  });

  for (const email of REFUSED) {
    it(`registration answers ${JSON.stringify(email)} with 400 and the error summary`, async () => {
      const { journey, page } = await startRegistration(test);
      const next = await enterDetails(journey, page, { email });
      expect(next.status).to.equal(400);
      expect(errorSummary(next)).to.deep.equal([EMAIL_ADDRESS_MESSAGES.format]);
    });

    it(`"Forgotten your password?" answers ${JSON.stringify(email)} with 400 and the error summary`, async () => {
      const browser = new Browser();
      const form = await browser.get(`${test.url}/forgotten-password`);
      const next = await browser.submit(form, { email });
      expect(next.status).to.equal(400);
      expect(errorSummary(next)).to.deep.equal([EMAIL_ADDRESS_MESSAGES.format]);
    });

    it(`the sign-in email step answers ${JSON.stringify(email)} with 400 and the error summary`, async () => {
      const journey = await startJourney(test);
      const next = await submit(journey, journey.page, { email });
      expect(next.status).to.equal(400);
      expect(errorSummary(next)).to.deep.equal([EMAIL_ADDRESS_MESSAGES.format]);
    });
  }
});
