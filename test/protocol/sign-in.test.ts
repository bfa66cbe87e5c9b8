import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { Browser, findForm } from '../helpers/browser.js';

const persona = (key: 'p0' | 'p5' | 'p9') => {
  const found = PERSONAS.find((p) => p.key === key)!;
  return { email: found.email, password: found.password, code: '190696', data: found };
};

/** End to end with openid-client as the relying party: each persona signs in and the RP validates everything. */
describe('sign-in for existing accounts, as a relying party sees it', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true }, extraClients: [{ clientId: 'consent-decline-rp' }] });
  });
  after(async () => test.close());

  for (const [key, vtr, expectedVot] of [
    ['p0', '["P0.Cp.Cd"]', 'P0.Cp.Cd'],
    ['p5', '["P5.Cp.Cd"]', 'P5.Cp.Cd'],
    ['p9', undefined, 'P9.Cp.Cd'],
  ] as const) {
    it(`signs in the ${key.toUpperCase()} persona and returns a validated RS512 ID token with vot ${expectedVot}`, async () => {
      const { request, callbackUrl } = await signIn(test, persona(key), { params: { scope: 'openid profile email phone', ...(vtr ? { vtr } : {}) } });
      const tokens = await test.rp.exchange(callbackUrl, request);
      const idToken = tokens.id_token!;
      const header = decodeProtectedHeader(idToken);
      expect(header.alg).to.equal('RS512');
      const { keys } = await (await fetch(`${test.url}/.well-known/jwks.json`)).json();
      expect(keys.map((k: { kid: string }) => k.kid)).to.include(header.kid);
      const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${test.url}/.well-known/jwks.json`)), { issuer: test.url, audience: test.rp.clientId, algorithms: ['RS512'] });
      expect(payload.nonce).to.equal(request.nonce);
      expect(payload.vot).to.equal(expectedVot);
      expect(payload.vtm).to.equal(`${test.url}/trustmark/${new URL(test.url).host}`);
      expect(payload.jti).to.be.a('string').with.length.greaterThan(10);
      expect(payload.auth_time).to.be.a('number');
      expect(payload).not.to.have.property('acr');
      expect(payload).not.to.have.property('amr');
      if (key === 'p0') {
        expect(payload).not.to.have.property('nhs_number');
      } else {
        expect(payload.nhs_number).to.equal(persona(key).data.nhsNumber);
        expect(payload.identity_proofing_level).to.equal(key.toUpperCase());
      }
      expect(tokens.expires_in).to.equal(300);
    });
  }

  it('releases userinfo claims per scope and per proofing level, with the ID token sub', async () => {
    const { request, callbackUrl } = await signIn(test, persona('p9'), { params: { scope: 'openid profile profile_extended email phone gp_registration_details gp_integration_credentials' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    const sub = tokens.claims()!.sub;
    const userinfo = await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, sub);
    const p9 = persona('p9').data;
    expect(userinfo).to.include({ sub, nhs_number: p9.nhsNumber, family_name: p9.familyName, given_name: p9.givenName, birthdate: p9.birthdate, identity_proofing_level: 'P9', email: p9.email, email_verified: true, phone_number: p9.mobileNumber, phone_number_verified: true });
    expect(userinfo.gp_registration_details).to.deep.equal({ gp_ods_code: p9.gpOdsCode });
    expect(userinfo.gp_integration_credentials).to.deep.equal({ gp_user_id: p9.gpUserId, gp_linkage_key: p9.gpLinkageKey, gp_ods_code: p9.gpOdsCode });
    for (const value of Object.values(userinfo)) expect(value).not.to.equal(null);
  });

  it('releases no P5/P9 claims for a P0 account, and no NHS number without the profile scope', async () => {
    const p0 = await signIn(test, persona('p0'), { params: { scope: 'openid profile email', vtr: '["P0.Cp.Cd"]' } });
    const p0Tokens = await test.rp.exchange(p0.callbackUrl, p0.request);
    const p0Info = await oidc.fetchUserInfo(await test.rp.configuration(), p0Tokens.access_token, p0Tokens.claims()!.sub);
    expect(p0Info).not.to.have.any.keys('nhs_number', 'family_name', 'birthdate', 'identity_proofing_level', 'gp_integration_credentials');
    expect(p0Info.email).to.equal(persona('p0').data.email);

    const p9 = await signIn(test, persona('p9'), { params: { scope: 'openid basic_demographics email' } });
    const p9Tokens = await test.rp.exchange(p9.callbackUrl, p9.request);
    const p9Info = await oidc.fetchUserInfo(await test.rp.configuration(), p9Tokens.access_token, p9Tokens.claims()!.sub);
    expect(p9Info).not.to.have.property('nhs_number');
    expect(p9Info.family_name).to.equal(persona('p9').data.familyName);
  });

  it('gives a P5 persona no gp_integration_credentials (P9 only)', async () => {
    const p5 = await signIn(test, persona('p5'), { params: { scope: 'openid profile gp_integration_credentials gp_registration_details', vtr: '["P5.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(p5.callbackUrl, p5.request);
    const info = await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, tokens.claims()!.sub);
    expect(info).not.to.have.property('gp_integration_credentials');
    expect(info.gp_registration_details).to.deep.equal({ gp_ods_code: persona('p5').data.gpOdsCode });
  });

  it('never claims more than was proven: a P9 account asking for P5 gets vot P5, and single sign-on recomputes vot per request', async () => {
    const first = await signIn(test, persona('p9'), { params: { vtr: '["P5.Cp.Cd"]' } });
    expect((await test.rp.exchange(first.callbackUrl, first.request)).claims()!.vot).to.equal('P5.Cp.Cd');
    // Same browser, new request: the session is reused (no pages) and the vector follows the request.
    const again = await test.rp.authorize({ scope: 'openid', vtr: '["P9.Cp.Cd"]' });
    const page = await first.browser.get(again.url);
    expect(page.callbackUrl, 'single sign-on should not show pages').to.be.a('string');
    expect((await test.rp.exchange(page.callbackUrl!, again)).claims()!.vot).to.equal('P9.Cp.Cd');
  });

  it('never gives a token that claims more than the account has proven: a P0 account at a P9 service is asked to prove who it is, and going back is access_denied', async () => {
    const browser = new Browser({ stopAt: test.rp.redirectUri });
    const p0 = persona('p0');
    const request = await test.rp.authorize({ scope: 'openid', vtr: '["P9.Cp.Cd"]' });
    let page = await browser.get(request.url);
    page = await browser.submit(page, { email: p0.email });
    page = await browser.submit(page, { password: p0.password });
    page = await browser.submit(page, { code: p0.code! });
    expect(findForm(page).action).to.match(/\/enter-your-details$/);
    expect(page.callbackUrl).to.equal(undefined);
    const back = await browser.submit(page, {}, { actionContains: 'return-to-service' });
    const params = new URL(back.callbackUrl!).searchParams;
    expect(params.get('code')).to.equal(null);
    expect(params.get('error')).to.equal('access_denied');
    expect(params.get('error_description')).to.equal('identity verification required');
  });

  it('returns access_denied with ConsentNotGiven when the patient declines to share', async () => {
    const rp = test.rps.get('consent-decline-rp')!;
    const { callbackUrl } = await signIn(test, persona('p5'), { rp, consent: 'decline', params: { vtr: '["P5.Cp.Cd"]', scope: 'openid profile' } });
    const params = new URL(callbackUrl).searchParams;
    expect(params.get('error')).to.equal('access_denied');
    expect(params.get('error_description')).to.equal('ConsentNotGiven');
    expect(params.get('code')).to.equal(null);
  });
});
