import { expect } from 'chai';
import type { TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { signInToAccount, startAccountTestIdp } from '../account/support.js';
import { addPasskey, createAccount, heading, passkeyOptionsOn, startJourney } from './support.js';

/**
 * Passkeys against the security bar: a signature is bound to its journey's challenge, its origin and
 * its account (the user handle); failures count against the network (A4); the create form needs its
 * CSRF token (C5).
 */
describe('passkey security', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => test?.close());

  async function passkeyPage(idp: TestIdp = test) {
    const journey = await startJourney(idp, { params: { vtr: '["P0.Cm"]' } });
    const page = await journey.browser.submit(journey.page, {}, { actionContains: '/use-passkey' });
    return { journey, page };
  }

  it('a signature for one account that names another account (user handle) signs in neither', async () => {
    const victim = await createAccount(test);
    const attacker = await createAccount(test);
    const authenticator = await addPasskey(test, attacker);
    const { journey, page } = await passkeyPage();
    const answer = authenticator.authenticate(passkeyOptionsOn(page)) as { response: { userHandle: string } };
    answer.response.userHandle = Buffer.from(victim.id, 'utf8').toString('base64url');
    const refused = await journey.browser.submit(page, { credential: JSON.stringify(answer) });
    expect(refused.status).to.equal(400);
    expect(heading(refused)).to.equal('Sign in with a passkey');
  });

  it('B6: an assertion for another RP ID, one without user verification, and one replayed to its spent step are all refused', async () => {
    const account = await createAccount(test);
    const authenticator = await addPasskey(test, account);
    const { journey, page } = await passkeyPage();
    const options = passkeyOptionsOn(page);
    const otherRp = await journey.browser.submit(page, { credential: JSON.stringify(authenticator.authenticate({ ...options, rpId: 'evil.localtest' })) });
    expect(otherRp.status).to.equal(400);
    authenticator.verifyUser(false);
    const unverified = await journey.browser.submit(otherRp, { credential: JSON.stringify(authenticator.authenticate(options)) });
    expect(unverified.status).to.equal(400);
    authenticator.verifyUser(true);
    const answer = JSON.stringify(authenticator.authenticate(options));
    const signedIn = await journey.browser.submit(unverified, { credential: answer });
    expect(heading(signedIn)).to.not.equal('Sign in with a passkey');
    // The same answer to the same step again: the journey has moved on, so it is not evaluated.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const replayed = await journey.browser.post(`${test.url}/interaction/${journey.uid}/use-passkey`, { _csrf: csrf, credential: answer });
    expect(replayed.callbackUrl ?? '').to.not.contain('code=');
    const audit: { n: string | number }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM audit_event WHERE account_id = $1 AND type = 'passkey.verified'`, [account.id]);
    expect(Number(audit[0]!.n)).to.equal(1);
  });

  it('C5: the create form without its CSRF token stores nothing', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const page = await browser.get(`${test.url}/account/passkeys`);
    const registration = /name="registration" value="([^"]+)"/.exec(page.html)![1]!;
    const answer = new SoftwareAuthenticator(new URL(test.url).origin).register(passkeyOptionsOn(page) as never);
    const refused = await browser.post(`${test.url}/account/passkeys`, { registration, credential: JSON.stringify(answer) });
    expect(refused.status).to.equal(403);
    expect(await test.idp.services.passkeys.count(account.id)).to.equal(0);
  });

  it('a passkey made for another site (origin) is refused at creation', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const page = await browser.get(`${test.url}/account/passkeys`);
    const registration = /name="registration" value="([^"]+)"/.exec(page.html)![1]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const answer = new SoftwareAuthenticator('https://carelogin.evil.example').register(passkeyOptionsOn(page) as never);
    const refused = await browser.post(`${test.url}/account/passkeys`, { _csrf: csrf, registration, credential: JSON.stringify(answer) });
    expect(refused.status).to.equal(400);
    expect(await test.idp.services.passkeys.count(account.id)).to.equal(0);
  });

  // Its own IdP: the network it throttles (every test browser is 127.0.0.1 here) is then throttled for the rest.
  describe('with a fresh IdP', () => {
    let fresh: TestIdp;
    before(async () => {
      fresh = await startAccountTestIdp();
    });
    after(async () => fresh?.close());

    it('A4: failed passkey sign-ins count against the network, which is then throttled (429) whatever it sends', async () => {
      const account = await createAccount(fresh);
      const authenticator = await addPasskey(fresh, account);
      const { journey, page } = await passkeyPage(fresh);
      const forged = new SoftwareAuthenticator(new URL(fresh.url).origin);
      forged.register({ challenge: 'x', rp: {}, user: { id: 'eA' } });
      let current = page;
      for (let i = 0; i < fresh.idp.config.limits.ipFailures; i++) {
        current = await journey.browser.submit(current, { credential: JSON.stringify(forged.authenticate(passkeyOptionsOn(page))) });
        expect(current.status, `failure ${i + 1}`).to.equal(400);
      }
      const throttled = await journey.browser.submit(current, { credential: JSON.stringify(authenticator.authenticate(passkeyOptionsOn(page))) });
      expect(throttled.status).to.equal(429);
      expect(throttled.html).to.contain('Reference: CL1010');
      expect(throttled.callbackUrl).to.equal(undefined);
    });
  });
});
