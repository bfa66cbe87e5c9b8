import { expect } from 'chai';
import { ACCOUNT_CLIENT_ID, accountClient, withAccountClient } from '../../src/account/internal-client.js';

describe('Your account: the internal client carelogin-account', () => {
  it('is a valid registration: redirect to /account/callback on the issuer, openid only, two-factor vectors at P0 and P5, PKCE, no refresh tokens', () => {
    const client = accountClient('https://login.example.nhs.test');
    expect(client.metadata.client_id).to.equal(ACCOUNT_CLIENT_ID);
    expect(client.metadata.redirect_uris).to.deep.equal(['https://login.example.nhs.test/account/callback']);
    expect(client.settings.allowedScopes).to.deep.equal(['openid']);
    expect(client.settings.allowedVectors.every((v) => /\.(Cp\.Cd|Cp\.Ck|Cm)$/.test(v))).to.equal(true);
    // P0 to sign in, P5 for "Prove who you are"; P9 cannot be reached from Your account (D18).
    expect([...client.settings.allowedVectors].sort()).to.deep.equal(['P0.Cm', 'P0.Cp.Cd', 'P0.Cp.Ck', 'P5.Cm', 'P5.Cp.Cd', 'P5.Cp.Ck']);
    expect(client.settings.requirePkce).to.equal(true);
    expect(client.settings.refreshTokens).to.equal(false);
  });

  it('registers a public key only: nobody holds a private key to redeem its codes', () => {
    const keys = (accountClient('https://login.example.nhs.test').metadata.jwks as { keys: Record<string, unknown>[] }).keys;
    expect(keys).to.have.length(1);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(keys[0]).not.to.have.property(member);
  });

  it('withAccountClient adds it once, and not when the clients file already registers it', () => {
    const once = withAccountClient([], 'https://login.example.nhs.test');
    expect(once.map((c) => c.metadata.client_id)).to.deep.equal([ACCOUNT_CLIENT_ID]);
    expect(withAccountClient(once, 'https://login.example.nhs.test')).to.have.length(1);
  });
});
