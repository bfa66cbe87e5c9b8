import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('discovery, JWKS and trustmark (NHS login paths)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test.close());

  it('publishes NHS login endpoints, algorithms, scopes and claims', async () => {
    const response = await fetch(`${test.url}/.well-known/openid-configuration`);
    expect(response.status).to.equal(200);
    const doc = await response.json();
    expect(doc.issuer).to.equal(test.url);
    expect(doc.authorization_endpoint).to.equal(`${test.url}/authorize`);
    expect(doc.token_endpoint).to.equal(`${test.url}/token`);
    expect(doc.userinfo_endpoint).to.equal(`${test.url}/userinfo`);
    expect(doc.jwks_uri).to.equal(`${test.url}/.well-known/jwks.json`);
    expect(doc.response_types_supported).to.deep.equal(['code']);
    expect(doc.subject_types_supported).to.deep.equal(['public']);
    expect(doc.token_endpoint_auth_methods_supported).to.deep.equal(['private_key_jwt']);
    expect(doc.token_endpoint_auth_signing_alg_values_supported).to.include('RS512').and.not.include('none').and.not.include('HS256');
    expect(doc.id_token_signing_alg_values_supported).to.include('RS512').and.not.include('none');
    expect(doc.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(doc.scopes_supported).to.include.members(['openid', 'profile', 'basic_demographics', 'profile_extended', 'email', 'phone', 'landline', 'gp_registration_details', 'gp_integration_credentials', 'client_metadata']);
    expect(doc.claims_supported).to.include.members(['sub', 'vot', 'vtm', 'jti', 'auth_time', 'nhs_number', 'family_name', 'birthdate', 'identity_proofing_level', 'email', 'phone_number', 'gp_integration_credentials']);
    // As NHS login's own discovery: the claims every ID token carries.
    expect(doc.claims_supported).to.include.members(['iss', 'aud', 'exp', 'iat', 'nonce']);
    expect(doc.response_modes_supported).to.deep.equal(['query']);
    // Beyond NHS login (X13): logout as GOV.UK One Login offers it, at its path.
    expect(doc.end_session_endpoint).to.equal(`${test.url}/logout`);
    expect(doc.backchannel_logout_supported).to.equal(true);
    expect(doc.backchannel_logout_session_supported).to.equal(true);
    expect(doc.claims_supported).to.include('sid');
    expect(doc).not.to.have.property('pushed_authorization_request_endpoint');
    expect(doc.grant_types_supported).to.include('authorization_code').and.not.include('implicit');
  });

  it('publishes only public keys, each with a unique kid', async () => {
    const { keys } = await (await fetch(`${test.url}/.well-known/jwks.json`)).json();
    expect(keys.length).to.be.greaterThan(0);
    for (const key of keys) {
      expect(key.kid).to.be.a('string').and.not.equal('');
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.to.have.property(privateMember);
    }
    expect(new Set(keys.map((k: { kid: string }) => k.kid)).size).to.equal(keys.length);
    expect(keys.some((k: { kty: string; n?: string }) => k.kty === 'RSA' && Buffer.from(k.n!, 'base64url').length >= 256)).to.equal(true);
  });

  it('serves the trustmark document at the vtm URL', async () => {
    const host = new URL(test.url).host;
    const response = await fetch(`${test.url}/trustmark/${host}`);
    expect(response.status).to.equal(200);
    const trustmark = await response.json();
    expect(trustmark.P).to.deep.equal(['P0', 'P5', 'P9']);
    expect(trustmark.C).to.deep.equal(['Cp', 'Cd', 'Ck', 'Cm']);
    expect(trustmark.idp).to.equal(`${test.url}/`);
  });

  it('is accepted by openid-client as an RP library would use it', async () => {
    const config = await test.rp.configuration();
    expect(config.serverMetadata().issuer).to.equal(test.url);
    expect(oidc.buildAuthorizationUrl(config, { redirect_uri: test.rp.redirectUri, scope: 'openid' }).pathname).to.equal('/authorize');
  });
});
