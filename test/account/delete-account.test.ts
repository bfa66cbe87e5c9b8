import { expect } from 'chai';
import { createRememberedDevices } from '../../src/accounts/remembered-devices.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createAccount, heading } from '../interactions/support.js';
import { outbox, startAccountTestIdp, TEST_PASSWORD } from './support.js';

describe('Your account: deleting the account', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  async function count(sql: string, params: unknown[]): Promise<number> {
    const rows: { n: string | number }[] = await test.idp.db.dataSource.query(sql, params);
    return Number(rows[0]!.n);
  }

  it('after a confirmation page, removes the account and everything of it in one go, revokes services\' tokens and keeps the goodbye email', async () => {
    const account = await createAccount(test);
    const bystander = await createAccount(test);
    await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36');
    await test.idp.db.dataSource.query(`INSERT INTO client_user_metadata (account_id, client_id, value) VALUES ($1, $2, 'kept by a service')`, [account.id, test.rp.clientId]);
    const rpSignIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(rpSignIn.callbackUrl, rpSignIn.request);
    const other = await signIn(test, { email: bystander.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const otherTokens = await test.rp.exchange(other.callbackUrl, other.request);

    const browser = rpSignIn.browser;
    const confirm = await browser.get(`${test.url}/account/delete`);
    expect(heading(confirm)).to.equal('Delete your carelogin account');
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id]), 'the confirmation page itself deletes nothing').to.equal(1);
    const done = await browser.submit(confirm, {});
    expect(heading(done)).to.equal('Your account has been deleted');

    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM client_user_metadata WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM security_code WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE payload->>'accountId' = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE account_id = $1`, [account.id])).to.equal(0);
    const goodbye = await outbox(test, account.email, 'account-deleted');
    expect(goodbye).to.have.length(1);
    expect(goodbye[0]!.account_id).to.equal(null);

    const userinfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).to.equal(401);
    const bystanderInfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${otherTokens.access_token}` } });
    expect(bystanderInfo.status).to.equal(200);
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [bystander.id])).to.equal(1);

    // Signed out: the account page asks to sign in again.
    expect((await browser.get(`${test.url}/account`)).url).to.match(/\/interaction\//);
  });
});
