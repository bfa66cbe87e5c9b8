import { expect } from 'chai';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { emailCode, enterDetails, newEmail, startRegistration } from './create-account-helpers.js';
import { createAccount, heading, submit } from './support.js';
import { purgeUnconfirmedAccounts } from '../../src/accounts/registration.js';

/** "Change email address" on create-account's "Check your email": start again with the address to correct. */
describe('create-account: change email address before confirming it', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  const accountsAt = async (email: string): Promise<{ email_verified_at: Date | null }[]> =>
    test.idp.db.dataSource.query(`SELECT email_verified_at FROM account WHERE email_normalised = lower($1)`, [email]);

  it('goes back to the first page with the address filled in, forgets the mistyped registration, and the corrected one goes on', async () => {
    const mistyped = newEmail();
    const corrected = newEmail();
    const { journey, page: first } = await startRegistration(test);
    const check = await enterDetails(journey, first, { email: mistyped });
    expect(heading(check)).to.equal('Check your email');
    expect(await accountsAt(mistyped)).to.have.length(1);

    const again = await journey.browser.submit(check, {}, { actionContains: '/change-email' });
    expect(heading(again)).to.equal('Create your carelogin account');
    expect(again.html).to.include(`value="${mistyped}"`);
    expect(await accountsAt(mistyped), 'the unconfirmed registration of the wrong address is gone').to.have.length(0);

    const checkCorrected = await enterDetails(journey, again, { email: corrected });
    expect(pageText(checkCorrected)).to.include(corrected);
    const mobilePage = await submit(journey, checkCorrected, { code: await emailCode(test, corrected) });
    expect(heading(mobilePage)).to.equal('Enter your mobile phone number');
    expect((await accountsAt(corrected))[0]?.email_verified_at).to.be.instanceOf(Date);
  });

  it('never touches an account that already had the address (the same pages, nothing deleted)', async () => {
    const existing = await createAccount(test);
    const { journey, page: first } = await startRegistration(test);
    const check = await enterDetails(journey, first, { email: existing.email });
    expect(heading(check)).to.equal('Check your email');
    const again = await journey.browser.submit(check, {}, { actionContains: '/change-email' });
    expect(heading(again)).to.equal('Create your carelogin account');
    expect((await test.idp.services.accounts.findById(existing.id))?.emailVerifiedAt).to.be.instanceOf(Date);
  });

  it('deletes registrations never confirmed after 48 hours, and nothing else', async () => {
    const abandoned = newEmail();
    const fresh = newEmail();
    for (const email of [abandoned, fresh]) {
      const { journey, page } = await startRegistration(test);
      await enterDetails(journey, page, { email });
    }
    const confirmed = await createAccount(test);
    const ds = test.idp.db.dataSource;
    await ds.query(`UPDATE account SET created_at = now() - interval '49 hours' WHERE email_normalised = lower($1) OR id = $2`, [abandoned, confirmed.id]);
    expect(await purgeUnconfirmedAccounts(ds, test.idp.config.ttl.unconfirmedAccount)).to.be.at.least(1);
    expect(await accountsAt(abandoned)).to.have.length(0);
    expect(await accountsAt(fresh)).to.have.length(1);
    expect(await test.idp.services.accounts.findById(confirmed.id)).to.not.equal(null);
  });
});
