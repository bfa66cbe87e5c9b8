import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

const persona = (key: 'p0' | 'p9') => {
  const found = PERSONAS.find((p) => p.key === key)!;
  return { email: found.email, password: found.password, code: '190696', data: found };
};

/** NHS login EIS Table 17: the access token is an RS512 JWT an RP can pass on, and /userinfo takes it. */
describe('access tokens: RS512 JWTs in NHS login\'s shape', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => test.close());

  it('is a JWT (typ "JWT", as NHS login) signed RS512 with a published key, carrying the ID token\'s sub, vot, vtm and auth_time and the P9 NHS number', async () => {
    const { request, callbackUrl } = await signIn(test, persona('p9'), { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header).to.include({ alg: 'RS512', typ: 'JWT' });
    const { keys } = await (await fetch(`${test.url}/.well-known/jwks.json`)).json();
    expect(keys.map((k: { kid: string }) => k.kid)).to.include(header.kid);

    const jwks = createRemoteJWKSet(new URL(`${test.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: test.url, audience: test.rp.clientId, algorithms: ['RS512'], typ: 'JWT' });
    const idToken = tokens.claims()!;
    const nhsNumber = persona('p9').data.nhsNumber;
    expect(payload).to.include({
      sub: idToken.sub,
      client_id: test.rp.clientId,
      scope: 'openid profile',
      token_use: 'access',
      vot: idToken.vot,
      vtm: idToken.vtm,
      auth_time: idToken.auth_time,
      nhs_number: nhsNumber,
      reason_for_request: 'patientaccess',
      requesting_patient: `http://fhir.nhs.net/Id/nhs-number|${nhsNumber}`,
    });
    expect(payload.vot).to.equal('P9.Cp.Cd');
    expect(payload.exp! - payload.iat!).to.equal(300);
    expect(tokens.expires_in).to.equal(300);
    expect(payload.jti).to.be.a('string').with.length.greaterThan(20);
    expect(payload.jti).not.to.equal(idToken.jti);
  });

  it('is accepted at /userinfo, which answers with the same sub', async () => {
    const { request, callbackUrl } = await signIn(test, persona('p9'), { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    const sub = tokens.claims()!.sub;
    const userinfo = await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, sub);
    expect(userinfo).to.include({ sub, nhs_number: persona('p9').data.nhsNumber });
  });

  it('carries no NHS number where the scope or the proofing level does not release one', async () => {
    for (const [key, scope] of [['p9', 'openid email'], ['p0', 'openid profile']] as const) {
      const { request, callbackUrl } = await signIn(test, persona(key), { params: { scope, ...(key === 'p0' ? { vtr: '["P0.Cp.Cd"]' } : {}) } });
      const tokens = await test.rp.exchange(callbackUrl, request);
      const payload = decodeJwt(tokens.access_token);
      expect(payload, `${key} with ${scope}`).not.to.have.any.keys('nhs_number', 'requesting_patient', 'reason_for_request');
      expect(payload.scope).to.equal(scope);
    }
  });

  it('is a JWT after a refresh too, with the refreshed vot, and the rotated one works at /userinfo', async () => {
    const { request, callbackUrl } = await signIn(test, persona('p9'), { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    expect(tokens.refresh_token).to.be.a('string');
    const refreshed = await oidc.refreshTokenGrant(await test.rp.configuration(), tokens.refresh_token!);
    const payload = decodeJwt(refreshed.access_token);
    expect(decodeProtectedHeader(refreshed.access_token).alg).to.equal('RS512');
    expect(payload).to.include({ vot: 'P9.Cp.Cd', sub: tokens.claims()!.sub });
    expect(payload.jti).not.to.equal(decodeJwt(tokens.access_token).jti);
    const userinfo = await oidc.fetchUserInfo(await test.rp.configuration(), refreshed.access_token, tokens.claims()!.sub);
    expect(userinfo.sub).to.equal(tokens.claims()!.sub);
  });
});
