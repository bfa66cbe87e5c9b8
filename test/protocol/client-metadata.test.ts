import { constants, KeyObject, privateDecrypt } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import type { TestRp } from '../helpers/relying-party.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const credentials = { email: p9.email, password: p9.password, code: '190696' };

/** NHS login's `landline` and `client_metadata` scopes, and UserInfo Update (EIS §3.6.3, Tables 11 and 14). */
describe('landline and client_user_metadata', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ extraClients: [{ clientId: 'second-rp' }, { clientId: 'no-metadata-rp', allowedScopes: ['openid', 'email'] }] });
  });
  after(async () => test.close());

  async function tokensFor(scope: string, rp: TestRp = test.rp): Promise<{ accessToken: string; idToken: Record<string, unknown>; sub: string }> {
    const { request, callbackUrl } = await signIn(test, credentials, { rp, params: { scope } });
    const tokens = await rp.exchange(callbackUrl, request);
    return { accessToken: tokens.access_token, idToken: tokens.claims()! as Record<string, unknown>, sub: tokens.claims()!.sub };
  }

  async function userinfo(accessToken: string, rp: TestRp = test.rp): Promise<Record<string, unknown>> {
    return (await oidc.fetchUserInfo(await rp.configuration(), accessToken, oidc.skipSubjectCheck)) as Record<string, unknown>;
  }

  function patch(accessToken: string, body: unknown, contentType = 'application/json'): Promise<Response> {
    return fetch(`${test.url}/userinfo`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  it('releases the landline number with the landline scope (P9 persona), and not without it', async () => {
    const { accessToken, idToken } = await tokensFor('openid landline');
    expect(idToken).to.include({ landline_number: '+441632960123', landline_number_verified: true });
    expect(await userinfo(accessToken)).to.include({ landline_number: '+441632960123', landline_number_verified: true });
    const without = await tokensFor('openid email');
    expect(await userinfo(without.accessToken)).not.to.have.property('landline_number');
  });

  it('returns no client_user_metadata while none is held, then the value the service set, to that service only', async () => {
    const { accessToken } = await tokensFor('openid client_metadata');
    expect(await userinfo(accessToken)).not.to.have.property('client_user_metadata');

    const response = await patch(accessToken, { client_user_metadata: 'portal-user-4711' });
    expect(response.status).to.equal(204);
    expect(await response.text()).to.equal('');
    expect(await userinfo(accessToken)).to.include({ client_user_metadata: 'portal-user-4711' });
    const fresh = await tokensFor('openid client_metadata');
    expect(fresh.idToken).to.include({ client_user_metadata: 'portal-user-4711' });

    const second = test.rps.get('second-rp')!;
    const other = await tokensFor('openid client_metadata', second);
    expect(await userinfo(other.accessToken, second)).not.to.have.property('client_user_metadata');

    expect((await patch(accessToken, { client_user_metadata: '' })).status).to.equal(204);
    expect(await userinfo(accessToken)).not.to.have.property('client_user_metadata');
  });

  it('generates a value encrypted with the service\'s public key for "auto" (RSA-OAEP, base64url)', async () => {
    const { accessToken } = await tokensFor('openid client_metadata');
    expect((await patch(accessToken, { client_user_metadata: 'auto' })).status).to.equal(204);
    const value = (await userinfo(accessToken)).client_user_metadata as string;
    expect(value).to.match(/^[A-Za-z0-9_-]+$/);
    // The test RP's key pair is made for signing; decrypting needs the raw key.
    const privateKey = KeyObject.from(test.rp.privateKey);
    const number = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(value, 'base64url')).toString();
    expect(number).to.match(/^[1-9][0-9]{17}$/);
  });

  it('refuses a value over 1,024 characters, a non-string, a body that is not JSON, and keeps the old value', async () => {
    const { accessToken } = await tokensFor('openid client_metadata');
    expect((await patch(accessToken, { client_user_metadata: 'kept' })).status).to.equal(204);
    for (const [name, response] of [
      ['1,025 characters', await patch(accessToken, { client_user_metadata: 'x'.repeat(1025) })],
      ['a number', await patch(accessToken, { client_user_metadata: 42 })],
      ['broken JSON', await patch(accessToken, '{"client_user_metadata": ')],
      ['a form body', await patch(accessToken, 'client_user_metadata=x', 'application/x-www-form-urlencoded')],
    ] as const) {
      expect(response.status, name).to.equal(400);
      expect(((await response.json()) as { error?: string }).error, name).to.equal('invalid_request');
    }
    expect((await patch(accessToken, { client_user_metadata: 'y'.repeat(1024) })).status).to.equal(204);
    expect(await userinfo(accessToken)).to.include({ client_user_metadata: 'y'.repeat(1024) });
  });

  it('refuses a token that is not ours, the bare jti, and a token without the client_metadata scope', async () => {
    const { accessToken } = await tokensFor('openid email');
    const noScope = await patch(accessToken, { client_user_metadata: 'x' });
    expect(noScope.status).to.equal(403);
    expect(((await noScope.json()) as { error?: string }).error).to.equal('insufficient_scope');
    for (const token of ['not-a-token', decodeJwt(accessToken).jti!]) {
      const response = await patch(token, { client_user_metadata: 'x' });
      expect(response.status).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.contain('invalid_token');
    }
  });
});
