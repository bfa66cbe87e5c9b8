import { createHash, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createJourneyRunner, type InteractionDetails } from '../../interactions/runner.js';
import { createRememberedDevices, deviceLabel } from '../../src/accounts/remembered-devices.js';
import { createLogger } from '../../src/logger.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { CHROME_LINUX, DEVICE_COOKIE, afterPassword, freshBrowser, signInRemembering } from './remember-device-helpers.js';
import { TEST_PASSWORD, createAccount, heading, latestSmsCode, smsCount, startJourney, submit } from './support.js';

/**
 * "Remember this device" (X2): a browser that proved a security code and ticked the box skips the
 * code on later sign-ins to the same account, after the password; the login reports Cd.
 */

describe('remember this device', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  it('offers the checkbox on the security code page', async () => {
    const account = await createAccount(test);
    const page = await afterPassword(test, account, undefined);
    expect(pageText(page)).to.contain('Remember this device and stop sending security codes');
    const checkbox = /<input\b[^>]*name="rememberDevice"[^>]*>/.exec(page.html)?.[0] ?? '';
    expect(checkbox).to.contain('type="checkbox"');
    expect(checkbox).to.contain('value="yes"');
    expect(checkbox).to.not.contain('checked');
  });

  it('does not remember a browser whose box was not ticked', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test, { browser: freshBrowser(test) });
    let page = await submit(journey, journey.page, { email: account.email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
    expect(page.setCookies.some((c) => c.startsWith(`${DEVICE_COOKIE}=`))).to.equal(false);
    expect(await createRememberedDevices(test.idp.db.dataSource, test.idp.config).listDevices(account.id)).to.deep.equal([]);
  });

  it('asks only for the password next time, sends no code, and the ID token says P9.Cp.Cd with amr remembered_device', async () => {
    const account = await createAccount(test, { proofingLevel: 'P9' });
    const params = { vtr: '["P9.Cp.Cd"]' };
    const { value } = await signInRemembering(test, account, params);
    const textsBefore = await smsCount(test, account.mobileNumber!);

    const journey = await startJourney(test, { browser: freshBrowser(test, value), params });
    let page = await submit(journey, journey.page, { email: account.email });
    expect(heading(page)).to.equal('Enter your password');
    page = await submit(journey, page, { password: TEST_PASSWORD });
    // Straight past the code step to consent.
    expect(heading(page)).to.match(/^Share your information/);
    expect(await smsCount(test, account.mobileNumber!)).to.equal(textsBefore);
    page = await journey.browser.submit(page, {}, { button: 'Continue' });
    expect(page.callbackUrl).to.be.a('string');
    const tokens = await test.rp.exchange(page.callbackUrl!, journey.request);
    const claims = tokens.claims()!;
    expect(claims.sub).to.equal(account.id);
    expect(claims.vot).to.equal('P9.Cp.Cd');
    const rows: { detail: { amr?: string[] } }[] = await test.idp.db.dataSource.query(
      `SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'account.signed_in' ORDER BY id DESC LIMIT 1`,
      [account.id],
    );
    expect(rows[0]!.detail.amr).to.deep.equal(['pwd', 'remembered_device']);
  });

  it('stores a label from the user agent and only a SHA-256 of the secret, and records each use', async () => {
    const account = await createAccount(test);
    const { value } = await signInRemembering(test, account);
    const [id, secret] = value.split('.');
    const rows: { secret_hash: string; label: string; last_used_at: Date }[] = await test.idp.db.dataSource.query(`SELECT secret_hash, label, last_used_at FROM remembered_device WHERE id = $1`, [id]);
    expect(rows[0]!.label).to.equal('Chrome on Linux');
    expect(rows[0]!.secret_hash).to.equal(createHash('sha256').update(secret!).digest('hex'));
    expect(rows[0]!.secret_hash).to.not.contain(secret!);

    await test.idp.db.dataSource.query(`UPDATE remembered_device SET last_used_at = now() - interval '10 days' WHERE id = $1`, [id]);
    const page = await afterPassword(test, account, value);
    expect(heading(page)).to.not.equal('Check your mobile phone');
    const [after] = await test.idp.db.dataSource.query(`SELECT (last_used_at > now() - interval '1 minute') AS fresh FROM remembered_device WHERE id = $1`, [id]);
    expect(after.fresh).to.equal(true);
  });

  it('forgets a device unused for 6 months: the code is asked again and the row is deleted', async () => {
    const account = await createAccount(test);
    const { value } = await signInRemembering(test, account);
    const id = value.split('.')[0];
    await test.idp.db.dataSource.query(`UPDATE remembered_device SET last_used_at = now() - interval '181 days' WHERE id = $1`, [id]);
    const page = await afterPassword(test, account, value);
    expect(heading(page)).to.equal('Check your mobile phone');
    const rows: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM remembered_device WHERE id = $1`, [id]);
    expect(rows).to.have.length(0);
  });

  it('lists and removes devices for the account area', async () => {
    const account = await createAccount(test);
    const other = await createAccount(test);
    const devices = createRememberedDevices(test.idp.db.dataSource, test.idp.config);
    const first = await signInRemembering(test, account);
    await signInRemembering(test, account);
    const listed = await devices.listDevices(account.id);
    expect(listed.map((d) => d.label)).to.deep.equal(['Chrome on Linux', 'Chrome on Linux']);
    const firstId = first.value.split('.')[0]!;
    expect(await devices.removeDevice(other.id, firstId), 'another account cannot remove it').to.equal(false);
    expect(await devices.removeDevice(account.id, firstId)).to.equal(true);
    expect((await devices.listDevices(account.id)).map((d) => d.id)).to.not.include(firstId);
    expect(heading(await afterPassword(test, account, first.value))).to.equal('Check your mobile phone');
    expect(await devices.removeAllDevices(account.id)).to.equal(1);
    expect(await devices.listDevices(account.id)).to.deep.equal([]);
  });

  it('completes a step-up for Cd from a remembered browser without a code (amr remembered_device)', async () => {
    const account = await createAccount(test);
    const { value } = await signInRemembering(test, account);
    const texts = await smsCount(test, account.mobileNumber!);
    const runner = createJourneyRunner(test.idp.services);
    const http = { cookie: (name: string) => (name === DEVICE_COOKIE ? value : undefined), setCookie: () => undefined, userAgent: CHROME_LINUX };
    const details = {
      uid: randomUUID(),
      prompt: { name: 'vtr', reasons: ['vtr_unmet'], details: { reason: 'credentials', needed: 'P0.Cp.Cd' } },
      session: { accountId: account.id, uid: randomUUID(), cookie: randomUUID(), amr: ['pwd'] },
      params: { client_id: test.rp.clientId, scope: 'openid' },
      exp: Math.floor(Date.now() / 1000) + 600,
    } as unknown as InteractionDetails;
    const request = { ip: '192.0.2.99', log: createLogger({ level: 'silent' }), http };
    // The code step is complete on arrival: no page, no text.
    const reply = await runner.show(details, request, undefined);
    expect(reply).to.deep.equal({ kind: 'finish', result: { login: { accountId: account.id, amr: ['pwd', 'remembered_device'], remember: true } }, mergeWithLastSubmission: false });
    expect(await smsCount(test, account.mobileNumber!)).to.equal(texts);
  });

  it('labels common browsers', () => {
    expect(deviceLabel(CHROME_LINUX)).to.equal('Chrome on Linux');
    expect(deviceLabel('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1')).to.equal('Safari on iOS');
    expect(deviceLabel('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0')).to.equal('Firefox on Windows');
    expect(deviceLabel('')).to.equal('Unknown browser');
  });
});
