import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const credentials = { email: p5.email, password: p5.password, code: '190696' };

/** security-bar C2 (ASVS 7.2.4): a session identifier planted before sign-in is worthless after it. */
describe('session fixation', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test.close());

  function sessionCookie(browser: Browser): string | undefined {
    return (browser as unknown as { jar: Map<string, { name: string; value: string }> }).jar.get(`${new URL(test.url).host}|/|carelogin-session`)?.value;
  }

  it('issues a new session id at sign-in, and the planted one never signs anyone in', async () => {
    // oidc-provider sets no session cookie before sign-in, so the attacker plants a value they chose.
    const planted = 'attacker-chosen-session-id-0123456789';

    const victim = new Browser({ stopAt: test.rp.redirectUri });
    victim.setCookie(test.url, 'carelogin-session', planted);
    await signIn(test, credentials, { browser: victim, params: { vtr: '["P5.Cp.Cd"]' } });
    const after = sessionCookie(victim);
    expect(after, 'the victim has a session after signing in').to.be.a('string');
    expect(after).not.to.equal(planted);

    // The attacker, holding the planted value, is not signed in as the victim.
    const probe = new Browser({ stopAt: test.rp.redirectUri });
    probe.setCookie(test.url, 'carelogin-session', planted);
    const request = await test.rp.authorize({ scope: 'openid', vtr: '["P5.Cp.Cd"]', prompt: 'none' });
    const page = await probe.get(request.url);
    expect(new URL(page.callbackUrl!).searchParams.get('code'), 'no code for the planted session').to.equal(null);
  });

  it('answers prompt=none with sso_login_required when the session cannot give the vector asked for (EIS Table 1, prompt)', async () => {
    const signedIn = await signIn(test, credentials, { params: { vtr: '["P5.Cp.Cd"]' } });
    const request = await test.rp.authorize({ scope: 'openid', vtr: '["P9.Cp.Cd"]', prompt: 'none' });
    const page = await signedIn.browser.get(request.url);
    const params = new URL(page.callbackUrl!).searchParams;
    expect(params.get('error')).to.equal('sso_login_required');
    expect(params.get('state')).to.equal(request.state);
  });

  it('does not accept a session cookie without its signature', async () => {
    const signedIn = await signIn(test, credentials, { params: { vtr: '["P5.Cp.Cd"]' } });
    const value = sessionCookie(signedIn.browser);
    const forged = new Browser({ stopAt: test.rp.redirectUri });
    forged.setCookie(test.url, 'carelogin-session', value!);
    const request = await test.rp.authorize({ scope: 'openid', vtr: '["P5.Cp.Cd"]', prompt: 'none' });
    const page = await forged.get(request.url);
    expect(new URL(page.callbackUrl!).searchParams.get('error')).to.equal('sso_login_required');
  });
});
