import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { publicJwks } from '../../keys/keystore.js';
import { createAccessTokenJwt } from '../../src/provider/access-token-jwt.js';
import { ROUTES } from '../../src/provider/provider.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const credentials = { email: p9.email, password: p9.password, code: '190696' };

/**
 * The JWT around each access token (src/provider/access-token-jwt.ts) is only a wrapper: /userinfo
 * must take nothing but our own signature over an unaltered, unexpired token (security-bar D7 for
 * access tokens), and revocation of the stored token must still win over a JWT within its `exp` (D4).
 */
describe('access token JWTs at /userinfo (D4, D7)', () => {
  let test: TestIdp;
  let accessToken: string;
  let sub: string;

  before(async () => {
    test = await startTestIdp();
    const { request, callbackUrl } = await signIn(test, credentials, { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    accessToken = tokens.access_token;
    sub = tokens.claims()!.sub;
  });
  after(async () => test.close());

  async function userinfo(token: string): Promise<{ status: number; wwwAuthenticate: string | null; body: Record<string, unknown> }> {
    const response = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate'), body };
  }

  function base64url(value: unknown): string {
    return Buffer.from(JSON.stringify(value)).toString('base64url');
  }

  it('answers the genuine token (the control for every case below)', async () => {
    const answer = await userinfo(accessToken);
    expect(answer.status).to.equal(200);
    expect(answer.body.sub).to.equal(sub);
  });

  it('refuses a token whose claims were altered under the original signature', async () => {
    const [header, , signature] = accessToken.split('.');
    const payload = { ...decodeJwt(accessToken), scope: 'openid profile gp_integration_credentials' };
    const answer = await userinfo(`${header}.${base64url(payload)}.${signature}`);
    expect(answer.status).to.equal(401);
    expect(answer.body.error).to.equal('invalid_token');
  });

  it('refuses a token signed by another key under our kid, alg none, and HS512 keyed with our public key', async () => {
    const claims = decodeJwt(accessToken);
    const { kid } = decodeProtectedHeader(accessToken);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS512', kid, typ: 'JWT' }).sign(privateKey);
    const none = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`;
    const ourPublicKey = publicJwks(test.idp.keystore).keys.find((key) => key.kid === kid)!;
    // The classic key confusion: the published public key's PEM used as an HMAC secret.
    const hmacKey = new TextEncoder().encode(String(createPublicKey({ key: { ...ourPublicKey }, format: 'jwk' }).export({ type: 'spki', format: 'pem' })));
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512', kid, typ: 'JWT' }).sign(hmacKey);
    for (const [name, token] of [['another key', forged], ['alg none', none], ['HS512 with the public key', confused]] as const) {
      const answer = await userinfo(token);
      expect(answer.status, name).to.equal(401);
      expect(answer.body.error, name).to.equal('invalid_token');
    }
  });

  it('refuses an expired JWT even though the token inside is still live', async () => {
    const claims = decodeJwt(accessToken);
    const now = Math.floor(Date.now() / 1000);
    // Our own signature, with the real stored token inside, but an exp in the past.
    const ours = createAccessTokenJwt({ issuer: test.url, keystore: test.idp.keystore, routes: ROUTES });
    const expired = await ours.sign({ jti: claims.jti!, accountId: claims.sub, clientId: test.rp.clientId, scope: 'openid profile', iat: now - 400, exp: now - 100 });
    expect((await userinfo(expired)).status).to.equal(401);
    const live = await ours.sign({ jti: claims.jti!, accountId: claims.sub, clientId: test.rp.clientId, scope: 'openid profile', iat: now, exp: now + 60 });
    expect((await userinfo(live)).status, 'the same token inside a live JWT').to.equal(200);
  });

  it('refuses a JWT from another issuer, even signed with our key', async () => {
    const claims = decodeJwt(accessToken);
    const other = createAccessTokenJwt({ issuer: 'https://elsewhere.example', keystore: test.idp.keystore, routes: ROUTES });
    const now = Math.floor(Date.now() / 1000);
    const token = await other.sign({ jti: claims.jti!, accountId: claims.sub, clientId: test.rp.clientId, scope: 'openid', iat: now, exp: now + 60 });
    expect((await userinfo(token)).status).to.equal(401);
  });

  it('refuses the bare jti, which resource servers may log, however it is sent', async () => {
    const jti = decodeJwt(accessToken).jti!;
    const header = await userinfo(jti);
    expect(header.status).to.equal(401);
    expect(header.body.error).to.equal('invalid_token');
    const form = await fetch(`${test.url}/userinfo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: jti }) });
    expect(form.status).to.equal(401);
  });

  it('answers the JWT sent in a form body as well as in the Authorization header (RFC 6750 §2.2)', async () => {
    const form = await fetch(`${test.url}/userinfo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: accessToken }) });
    expect(form.status).to.equal(200);
    expect(((await form.json()) as { sub?: string }).sub).to.equal(sub);
  });

  it('refuses an ID token offered as an access token', async () => {
    const { request, callbackUrl } = await signIn(test, credentials, { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    expect((await userinfo(tokens.id_token!)).status).to.equal(401);
  });

  it('stops answering a JWT within its exp once the stored token is revoked (consent withdrawn)', async () => {
    const { request, callbackUrl } = await signIn(test, credentials, { params: { scope: 'openid profile' } });
    const tokens = await test.rp.exchange(callbackUrl, request);
    expect((await userinfo(tokens.access_token)).status).to.equal(200);
    await test.idp.db.dataSource.query(`DELETE FROM oidc_model WHERE model = 'AccessToken' AND id = $1`, [decodeJwt(tokens.access_token).jti]);
    const answer = await userinfo(tokens.access_token);
    expect(answer.status).to.equal(401);
    expect(decodeJwt(tokens.access_token).exp! * 1000).to.be.greaterThan(Date.now());
  });
});
