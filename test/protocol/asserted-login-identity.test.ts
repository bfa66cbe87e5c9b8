import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { Browser, pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { assertion, presentAt, RP_ORIGIN, signedInToRp1, SSO_CREDENTIALS as credentials, startSsoIdp, VTR } from './sso-support.js';

describe('asserted_login_identity: single sign-on between partner services (NHS login EIS Table 1)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startSsoIdp();
  });
  after(async () => test.close());

  it('signs the person in to the partner with prompt=none, with no carelogin cookie, as the sign-in RP1 had', async () => {
    const partner = test.rps.get('partner-rp')!;
    // The person has used the partner before (consent given), as with the NHS App's partners.
    await signIn(test, credentials, { rp: partner, browser: new Browser({ stopAt: RP_ORIGIN }), params: { vtr: VTR } });
    const rp1 = await signedInToRp1(test);
    expect(rp1.jti, 'a sealed reference, not a UUID').to.match(/^[A-Za-z0-9_-]{60,}$/);

    const { callback, request } = await presentAt(partner, await assertion(test.rp, rp1.jti));
    expect(callback?.searchParams.get('error'), callback?.search).to.equal(null);
    const tokens = await partner.exchange(callback!.toString(), request);
    const claims = decodeJwt(tokens.id_token!);
    expect(claims.sub).to.equal(rp1.sub);
    expect(claims.vot).to.equal('P9.Cp.Cd');
    expect(claims.auth_time, 'the sign-in it rests on').to.equal(rp1.authTime);
    expect(claims.aud).to.equal('partner-rp');
  });

  it('without prompt, goes straight to what is left to do (here consent), never the password', async () => {
    const fresh = await startSsoIdp();
    try {
      const rp1 = await signedInToRp1(fresh);
      const { page, callback } = await presentAt(fresh.rps.get('partner-rp')!, await assertion(fresh.rp, rp1.jti), {});
      expect(callback).to.equal(undefined);
      expect(pageText(page)).to.match(/Share your information with/);
      expect(page.html).not.to.include('type="password"');
    } finally {
      await fresh.close();
    }
  });

  it('answers prompt=none with consent_required when the person has not yet agreed to share with the partner', async () => {
    const fresh = await startSsoIdp();
    try {
      const rp1 = await signedInToRp1(fresh);
      const { callback } = await presentAt(fresh.rps.get('partner-rp')!, await assertion(fresh.rp, rp1.jti));
      expect(callback?.searchParams.get('error')).to.equal('consent_required');
    } finally {
      await fresh.close();
    }
  });
});
