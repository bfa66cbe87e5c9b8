import { expect } from 'chai';
import { deviceCookieHeader, deviceCookieName } from '../../src/accounts/remembered-devices.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { TEST_PASSWORD, createAccount, errorSummary, heading, startJourney, submit } from './support.js';
import { afterPassword, freshBrowser, signInRemembering } from './remember-device-helpers.js';

/** Security regressions for "Remember this device" (security-bar X2, B9, C1). */
describe('remember this device: security', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  it('C1/B9: sets an HttpOnly, SameSite=Lax, Path=/ cookie for 6 months holding an opaque 256-bit value, no personal data', async () => {
    const account = await createAccount(test);
    const { setCookie, value } = await signInRemembering(test, account);
    const attributes = setCookie.split(';').map((a) => a.trim().toLowerCase());
    expect(attributes).to.include('httponly');
    expect(attributes).to.include('samesite=lax');
    expect(attributes).to.include('path=/');
    expect(attributes.some((a) => a.startsWith('domain='))).to.equal(false);
    const maxAge = Number(attributes.find((a) => a.startsWith('max-age='))?.split('=')[1]);
    expect(maxAge).to.be.within(180 * 24 * 3600, 184 * 24 * 3600);
    // http://localhost cannot keep a Secure cookie, so no __Host- prefix there.
    expect(attributes).to.not.include('secure');
    const [id, secret] = value.split('.');
    expect(Buffer.from(secret!, 'base64url')).to.have.length(32);
    expect(value).to.not.contain(account.email.split('@')[0]!);
    expect(value).to.not.contain(account.mobileNumber!.slice(-6));
    const rows: { secret_hash: string }[] = await test.idp.db.dataSource.query(`SELECT secret_hash FROM remembered_device WHERE id = $1`, [id]);
    expect(rows[0]!.secret_hash).to.match(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).to.not.contain(secret!);
  });

  it('C1: on an https issuer the cookie is __Host-, Secure, Path=/ and has no Domain', () => {
    const header = deviceCookieHeader('https://login.example.test', 'id.secret', test.idp.config.ttl.rememberedDevice);
    expect(deviceCookieName('https://login.example.test')).to.equal('__Host-carelogin-device');
    expect(header).to.match(/^__Host-carelogin-device=id\.secret;/);
    expect(header).to.contain('; Secure');
    expect(header).to.contain('; Path=/');
    expect(header).to.contain('; HttpOnly');
    expect(header).to.contain('; SameSite=Lax');
    expect(header).to.contain(`; Max-Age=${180 * 24 * 3600}`);
    expect(header.toLowerCase()).to.not.contain('domain=');
  });

  it("B9: user A's device cookie does nothing when signing in as B: the code is still asked", async () => {
    const a = await createAccount(test);
    const b = await createAccount(test);
    const { value } = await signInRemembering(test, a);
    const page = await afterPassword(test, b, value);
    expect(heading(page)).to.equal('Check your mobile phone');
    // A's device is left alone for A.
    expect(heading(await afterPassword(test, a, value))).to.not.equal('Check your mobile phone');
  });

  it('B9: a device cookie never replaces the password', async () => {
    const account = await createAccount(test);
    const { value } = await signInRemembering(test, account);
    const journey = await startJourney(test, { browser: freshBrowser(test, value) });
    let page = await submit(journey, journey.page, { email: account.email });
    page = await submit(journey, page, { password: `${TEST_PASSWORD} wrong` });
    expect(heading(page)).to.equal('Enter your password');
    expect(errorSummary(page)).to.deep.equal(['Enter the correct email address and password']);
  });

  it('B9: a forged secret for a real device id, or garbage, is no device', async () => {
    const account = await createAccount(test);
    const { value } = await signInRemembering(test, account);
    const [id] = value.split('.');
    const forged = `${id}.${'A'.repeat(43)}`;
    expect(heading(await afterPassword(test, account, forged))).to.equal('Check your mobile phone');
    expect(heading(await afterPassword(test, account, 'not-a-device'))).to.equal('Check your mobile phone');
    expect(heading(await afterPassword(test, account, `${id}`))).to.equal('Check your mobile phone');
  });
});
