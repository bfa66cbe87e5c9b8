import { expect } from 'chai';
import { createRememberedDevices, deviceCookieName } from '../../src/accounts/remembered-devices.js';
import { findForm, pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createAccount, heading } from '../interactions/support.js';
import { ageSignIn, completeSignIn, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('Your account: connected services, remembered devices, signing out', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  async function userinfoStatus(accessToken: string): Promise<number> {
    const response = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
    await response.arrayBuffer();
    return response.status;
  }

  async function count(sql: string, params: unknown[]): Promise<number> {
    const rows: { n: string | number }[] = await test.idp.db.dataSource.query(sql, params);
    return Number(rows[0]!.n);
  }

  it('withdrawing consent revokes the grant and its tokens, and the service asks for consent again next time', async () => {
    const account = await createAccount(test);
    const rpSignIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(rpSignIn.callbackUrl, rpSignIn.request);
    expect(await userinfoStatus(tokens.access_token)).to.equal(200);

    const page = await rpSignIn.browser.get(`${test.url}/account`);
    const action = findForm(page, '/withdraw').action;
    const after = await rpSignIn.browser.submit(page, {}, { actionContains: action });
    expect(heading(after)).to.equal('Your account');
    expect(pageText(after)).to.include('You have withdrawn your consent');
    expect(pageText(after)).to.include('You have not used carelogin with any services yet');

    expect(await userinfoStatus(tokens.access_token)).to.equal(401);
    expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' = $2`, [account.id, test.rp.clientId])).to.equal(0);

    // The same browser, still signed in: the service's next request stops at the consent page.
    const again = await test.rp.authorize({ scope: 'openid', vtr: '["P0.Cp.Cd"]' });
    const next = await rpSignIn.browser.get(again.url);
    expect(next.url).to.match(/\/interaction\//);
    expect(findForm(next).buttons.map((b) => b.text).join(' ')).to.match(/do not continue/i);
  });

  it('removes one remembered device, then all of them', async () => {
    const account = await createAccount(test);
    const devices = createRememberedDevices(test.idp.db.dataSource, test.idp.config);
    await devices.remember(account.id, CHROME_LINUX);
    await devices.remember(account.id, CHROME_LINUX);
    await devices.remember(account.id, CHROME_LINUX);
    const { browser, page } = await signInToAccount(test, account);
    expect(pageText(page)).to.include('Chrome on Linux');
    expect(page.html.match(/\/account\/devices\/[0-9a-f-]{36}\/remove/g)).to.have.length(3);

    const removeOne = findForm(page, '/account/devices/').action;
    const afterOne = await browser.submit(page, {}, { actionContains: removeOne });
    expect(pageText(afterOne)).to.include('The device has been removed');
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(2);
    expect(afterOne.html).not.to.include(removeOne);

    const afterAll = await browser.submit(afterOne, {}, { actionContains: '/account/devices/remove-all' });
    expect(pageText(afterAll)).to.include('All remembered devices have been removed');
    expect(pageText(afterAll)).to.include('You have no remembered devices');
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(0);
  });

  it('signing out ends this browser\'s session only, and forgets this browser if it was remembered (as NHS login does)', async () => {
    const account = await createAccount(test);
    const devices = createRememberedDevices(test.idp.db.dataSource, test.idp.config);
    const thisOne = await devices.remember(account.id, CHROME_LINUX);
    await devices.remember(account.id, CHROME_LINUX);
    const one = await signInToAccount(test, account);
    one.browser.setCookie(test.url, deviceCookieName(test.url), thisOne.cookieValue);
    const two = await signInToAccount(test, account);
    const out = await one.browser.submit(one.page, {}, { actionContains: '/account/sign-out' });
    expect(heading(out)).to.equal('You have signed out');
    expect(out.setCookies.some((c) => c.startsWith(`${deviceCookieName(test.url)}=;`) && /max-age=0/i.test(c))).to.equal(true);
    const left: { id: string }[] = await test.idp.db.dataSource.query(`SELECT id FROM remembered_device WHERE account_id = $1`, [account.id]);
    expect(left.map((d) => d.id)).to.have.length(1).and.not.to.include(thisOne.id);
    const back = await one.browser.get(`${test.url}/account`);
    expect(back.url).to.match(/\/interaction\//);
    expect(heading(await two.browser.get(`${test.url}/account`))).to.equal('Your account');
  });

  it('lists where the patient is signed in and signs out another device without signing out this one', async () => {
    const account = await createAccount(test);
    const other = await signInToAccount(test, account);
    const { browser } = await signInToAccount(test, account);
    const page = await browser.get(`${test.url}/account`);
    expect(pageText(page)).to.include('This device');
    expect(pageText(page)).to.include('Another device');
    const ends = page.html.match(/\/account\/sessions\/[A-Za-z0-9_-]+\/end/g) ?? [];
    expect(ends, 'only the other device has a sign-out button').to.have.length(1);
    // The page never carries a session's cookie value (the oidc_model id), only its uid.
    const ids: { id: string }[] = await test.idp.db.dataSource.query(`SELECT id FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
    for (const { id } of ids) expect(page.html).not.to.include(id);
    const after = await browser.submit(page, {}, { actionContains: ends[0]! });
    expect(pageText(after)).to.include('That device has been signed out of carelogin');
    expect(heading(await other.browser.get(`${test.url}/account`))).to.equal('You have been signed out');
    expect(heading(await browser.get(`${test.url}/account`))).to.equal('Your account');
  });

  it('signing out everywhere ends every session of the account, forgets every device and revokes services\' tokens', async () => {
    const account = await createAccount(test);
    const other = await createAccount(test);
    await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, CHROME_LINUX);
    const atService = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(atService.callbackUrl, atService.request);
    const one = await signInToAccount(test, account);
    const two = await signInToAccount(test, account);
    const bystander = await signInToAccount(test, other);
    const out = await one.browser.submit(one.page, {}, { actionContains: '/account/sign-out-everywhere' });
    expect(heading(out)).to.equal('You have signed out');
    expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(0);
    // This browser signed itself out; the other is told why.
    expect((await one.browser.get(`${test.url}/account`)).url).to.match(/\/interaction\//);
    expect(heading(await two.browser.get(`${test.url}/account`))).to.equal('You have been signed out');
    expect(heading(await bystander.browser.get(`${test.url}/account`))).to.equal('Your account');
    expect(await userinfoStatus(tokens.access_token)).to.equal(401);
    // Consent is not withdrawn by signing out: the service's grant is still there.
    expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' = $2`, [account.id, test.rp.clientId])).to.equal(1);
  });

  it('after 15 minutes a change needs the patient to sign in again (prompt=login), and then goes through', async () => {
    const account = await createAccount(test);
    const devices = createRememberedDevices(test.idp.db.dataSource, test.idp.config);
    await devices.remember(account.id, CHROME_LINUX);
    const { browser, page } = await signInToAccount(test, account);
    await ageSignIn(test, account.id);
    const challenged = await browser.submit(page, {}, { actionContains: '/account/devices/remove-all' });
    expect(challenged.url).to.match(/\/interaction\//);
    expect(heading(challenged)).to.not.equal('Your account');
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(1);
    const back = await completeSignIn(test, account, browser, challenged);
    expect(heading(back)).to.equal('Your account');
    const done = await browser.submit(back, {}, { actionContains: '/account/devices/remove-all' });
    expect(pageText(done)).to.include('All remembered devices have been removed');
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(0);
  });
});
