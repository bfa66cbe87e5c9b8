import { expect } from 'chai';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { revokeSignIns } from '../../src/accounts/sessions-valid-after.js';
import { Browser } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { assertion, presentAt, signedInToRp1, startSsoIdp } from './sso-support.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const p5 = PERSONAS.find((p) => p.key === 'p5')!;

/**
 * An asserted_login_identity signs a person in without any credential of theirs, so each way it could
 * be forged, replayed or carried somewhere it was not meant for must end as if it had not been sent:
 * with prompt=none, `sso_login_required`, and never a code.
 */
describe('asserted_login_identity security', () => {
  let test: TestIdp;
  let rp1Jti: string;
  before(async () => {
    test = await startSsoIdp();
    for (const rp of [test.rps.get('partner-rp')!, test.rps.get('stranger-rp')!]) {
      await signIn(test, { email: p9.email, password: p9.password, code: '190696' }, { rp, browser: new Browser({ stopAt: 'http://localhost:9' }), params: { vtr: '["P9.Cp.Cd"]' } });
    }
    rp1Jti = (await signedInToRp1(test)).jti;
  });
  after(async () => test.close());

  async function expectRefused(token: string, rp = test.rps.get('partner-rp')!): Promise<void> {
    const { callback } = await presentAt(rp, token);
    expect(callback?.searchParams.get('error'), callback?.search).to.equal('sso_login_required');
    expect(callback?.searchParams.has('code')).to.equal(false);
  }

  it('works once: the same assertion again is refused (one-time jti)', async () => {
    const token = await assertion(test.rp, rp1Jti);
    const first = await presentAt(test.rps.get('partner-rp')!, token);
    expect(first.callback?.searchParams.has('code')).to.equal(true);
    await expectRefused(token);
  });

  it('is not spent, and signs nobody in, on a request the partner could never receive (an unregistered redirect_uri)', async () => {
    const token = await assertion(test.rp, rp1Jti);
    const partner = test.rps.get('partner-rp')!;
    const request = await partner.authorize({ vtr: '["P9.Cp.Cd"]', prompt: 'none', asserted_login_identity: token, redirect_uri: 'http://localhost:9/not-registered' });
    const browser = new Browser({ stopAt: 'http://localhost:9' });
    const page = await browser.get(request.url);
    expect(page.callbackUrl, 'an error page, never a redirect').to.equal(undefined);
    expect(browser.cookieNames()).not.to.include('carelogin-session');
    const { callback } = await presentAt(partner, token);
    expect(callback?.searchParams.has('code'), 'still usable by the partner').to.equal(true);
  });

  it('is refused at a service the asserting one does not share single sign-on with', async () => {
    await expectRefused(await assertion(test.rp, rp1Jti), test.rps.get('stranger-rp')!);
  });

  it('is refused when signed by any key but the asserting client\'s registered one', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ code: rp1Jti, jti: randomUUID() }).setProtectedHeader({ alg: 'RS512', kid: test.rp.kid }).setIssuer(test.rp.clientId).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
    await expectRefused(forged);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: test.rp.clientId, code: rp1Jti, jti: randomUUID(), iat: now, exp: now + 60 })).toString('base64url')}.`;
    await expectRefused(unsigned);
  });

  it('is refused when the partner makes one in the asserting client\'s name (iss is not who signed it)', async () => {
    const partner = test.rps.get('partner-rp')!;
    const now = Math.floor(Date.now() / 1000);
    const selfMade = await new SignJWT({ code: rp1Jti, jti: randomUUID() }).setProtectedHeader({ alg: 'RS512', kid: partner.kid }).setIssuer(test.rp.clientId).setIssuedAt(now).setExpirationTime(now + 60).sign(partner.privateKey);
    await expectRefused(selfMade);
  });

  it('is refused when it lives longer than 60 seconds, has expired, or was made long ago', async () => {
    await expectRefused(await assertion(test.rp, rp1Jti, { lifetime: 300 }));
    await expectRefused(await assertion(test.rp, rp1Jti, { iatOffset: -120 }));
    await expectRefused(await assertion(test.rp, rp1Jti, { iatOffset: -90, lifetime: 60 }));
  });

  it('is refused when code is not the jti of an ID token carelogin issued to the asserting client', async () => {
    await expectRefused(await assertion(test.rp, randomUUID()));
    // A real jti, but of an ID token issued to the partner itself: it opens only for the client it was issued to.
    const partner = test.rps.get('partner-rp')!;
    const own = await signIn(test, { email: p9.email, password: p9.password, code: '190696' }, { rp: partner, browser: new Browser({ stopAt: 'http://localhost:9' }), params: { vtr: '["P9.Cp.Cd"]' } });
    const partnerJti = decodeJwt((await partner.exchange(own.callbackUrl, own.request)).id_token!).jti as string;
    await expectRefused(await assertion(test.rp, partnerJti));
    // Altered by one character.
    const flipped = `${rp1Jti.slice(0, 20)}${rp1Jti[20] === 'A' ? 'B' : 'A'}${rp1Jti.slice(21)}`;
    await expectRefused(await assertion(test.rp, flipped));
  });

  it('is refused once the person has signed out everywhere or changed their password since that sign-in', async () => {
    const fresh = await startSsoIdp();
    try {
      await signIn(fresh, { email: p5.email, password: p5.password, code: '190696' }, { rp: fresh.rps.get('partner-rp')!, browser: new Browser({ stopAt: 'http://localhost:9' }), params: { vtr: '["P5.Cp.Cd"]' } });
      const result = await signIn(fresh, { email: p5.email, password: p5.password, code: '190696' }, { browser: new Browser({ stopAt: 'http://localhost:9' }), params: { vtr: '["P5.Cp.Cd"]' } });
      const claims = decodeJwt((await fresh.rp.exchange(result.callbackUrl, result.request)).id_token!);
      // The stamp is whole seconds after the sign-in's second.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await revokeSignIns(fresh.idp.db.dataSource, claims.sub!);
      const partner = fresh.rps.get('partner-rp')!;
      const req = await partner.authorize({ vtr: '["P5.Cp.Cd"]', prompt: 'none', asserted_login_identity: await assertion(fresh.rp, claims.jti as string) });
      const page = await new Browser({ stopAt: 'http://localhost:9' }).get(req.url);
      expect(new URL(page.callbackUrl!).searchParams.get('error')).to.equal('sso_login_required');
    } finally {
      await fresh.close();
    }
  });

  it('never gives the partner more than the sign-in proved: a P9 vector from a P5 sign-in is refused', async () => {
    const fresh = await startSsoIdp();
    try {
      const browser = new Browser({ stopAt: 'http://localhost:9' });
      const result = await signIn(fresh, { email: p5.email, password: p5.password, code: '190696' }, { browser, params: { vtr: '["P5.Cp.Cd"]' } });
      const jti = decodeJwt((await fresh.rp.exchange(result.callbackUrl, result.request)).id_token!).jti as string;
      const { callback } = await presentAt(fresh.rps.get('partner-rp')!, await assertion(fresh.rp, jti));
      expect(callback?.searchParams.get('error')).to.equal('sso_login_required');
    } finally {
      await fresh.close();
    }
  });
});
