import { decodeJwt } from 'jose';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn, type SignInResult } from '../helpers/journeys.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const credentials = { email: p9.email, password: p9.password, code: '190696' };

/** Codes are single use (X9, D4, D5) and refresh tokens rotate with reuse detection (X6, D11). */
describe('authorization codes and refresh tokens', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => test.close());

  async function rawTokenRequest(signedIn: SignInResult): Promise<{ status: number; body: Record<string, unknown> }> {
    const config = await test.rp.configuration();
    const code = new URL(signedIn.callbackUrl).searchParams.get('code')!;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(signedIn.callbackUrl), {
        pkceCodeVerifier: signedIn.request.codeVerifier,
        expectedState: signedIn.request.state,
        expectedNonce: signedIn.request.nonce,
      });
      return { status: 200, body: { ...tokens, code } };
    } catch (error) {
      const e = error as { status?: number; error?: string; cause?: { error?: string } };
      return { status: e.status ?? 0, body: { error: e.error ?? e.cause?.error } };
    }
  }

  it('issues a refresh token to an opted-in client, rotates it on use, and revokes the grant when a rotated one is reused', async () => {
    const signedIn = await signIn(test, credentials);
    const first = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    expect(first.refresh_token).to.be.a('string');
    const config = await test.rp.configuration();
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
    // As at NHS login, no ID token from a refresh (EIS Table 8); the new access token carries the vot.
    expect(second.id_token).to.equal(undefined);
    expect(decodeJwt(second.access_token).vot).to.equal('P9.Cp.Cd');

    let reuseError: { error?: string } | undefined;
    try {
      await oidc.refreshTokenGrant(config, first.refresh_token!);
    } catch (error) {
      reuseError = error as { error?: string };
    }
    expect(reuseError?.error).to.equal('invalid_grant');

    // Reuse detection revoked the whole grant: the newest refresh token and access token are dead too.
    let afterRevocation: { error?: string } | undefined;
    try {
      await oidc.refreshTokenGrant(config, second.refresh_token!);
    } catch (error) {
      afterRevocation = error as { error?: string };
    }
    expect(afterRevocation?.error).to.equal('invalid_grant');
    const userinfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${second.access_token}` } });
    expect(userinfo.status).to.equal(401);
  });

  it('gives invalid_grant to a replayed code and revokes what the first redemption issued', async () => {
    const signedIn = await signIn(test, credentials);
    const first = await rawTokenRequest(signedIn);
    expect(first.status).to.equal(200);
    const accessToken = first.body.access_token as string;
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(200);

    const replay = await rawTokenRequest(signedIn);
    expect(replay.status).to.equal(400);
    expect(replay.body.error).to.equal('invalid_grant');
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(401);
    let refreshError: { error?: string } | undefined;
    try {
      await oidc.refreshTokenGrant(await test.rp.configuration(), first.body.refresh_token as string);
    } catch (error) {
      refreshError = error as { error?: string };
    }
    expect(refreshError?.error).to.equal('invalid_grant');
  });

  it('lets exactly one of many concurrent redemptions of one code succeed', async () => {
    for (let round = 0; round < 3; round++) {
      const signedIn = await signIn(test, credentials);
      const results = await Promise.all(Array.from({ length: 10 }, () => rawTokenRequest(signedIn)));
      const successes = results.filter((r) => r.status === 200);
      expect(successes.length, JSON.stringify(results.map((r) => [r.status, r.body.error]))).to.equal(1);
      for (const failure of results.filter((r) => r.status !== 200)) expect(failure.body.error).to.equal('invalid_grant');
    }
  });

  it('binds a code to the PKCE verifier', async () => {
    const signedIn = await signIn(test, credentials);
    let error: { error?: string } | undefined;
    try {
      await oidc.authorizationCodeGrant(await test.rp.configuration(), new URL(signedIn.callbackUrl), {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: signedIn.request.state,
        expectedNonce: signedIn.request.nonce,
      });
    } catch (e) {
      error = e as { error?: string };
    }
    expect(error?.error).to.equal('invalid_grant');
  });

  it('expires authorization codes after the configured lifetime (60 s by default)', async () => {
    const signedIn = await signIn(test, credentials);
    await test.idp.db.dataSource.query(`UPDATE oidc_model SET expires_at = now() - interval '1 second', payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'AuthorizationCode'`);
    const result = await rawTokenRequest(signedIn);
    expect(result.status).to.equal(400);
    expect(result.body.error).to.equal('invalid_grant');
  });
});
