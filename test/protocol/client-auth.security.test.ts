import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT, base64url } from 'jose';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

/** security-bar D7: private_key_jwt is the only client authentication, and its negatives all fail. */
describe('client authentication at the token endpoint', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test.close());

  const now = (): number => Math.floor(Date.now() / 1000);

  async function assertion(overrides: { claims?: Record<string, unknown>; header?: Record<string, unknown>; key?: CryptoKey } = {}): Promise<string> {
    const claims = { iss: test.rp.clientId, sub: test.rp.clientId, aud: `${test.url}/token`, jti: randomUUID(), iat: now(), exp: now() + 60, ...overrides.claims };
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS512', kid: test.rp.kid, ...overrides.header }).sign(overrides.key ?? test.rp.privateKey);
  }

  async function token(clientAssertion: string, extra: Record<string, string> = {}): Promise<{ status: number; body: { error?: string }; headers: Headers }> {
    const response = await fetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'not-a-real-code',
        redirect_uri: test.rp.redirectUri,
        code_verifier: 'x'.repeat(43),
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
        ...extra,
      }),
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  it('accepts a valid RS512 assertion (the request then fails only on the bogus code)', async () => {
    const result = await token(await assertion());
    expect(result.status).to.equal(400);
    expect(result.body.error).to.equal('invalid_grant');
  });

  const negatives: [string, () => Promise<string>][] = [
    ['a wrong aud', () => assertion({ claims: { aud: 'https://somewhere-else.example/token' } })],
    // oidc-provider alone would take these; NHS login's token endpoint does not (EIS Table 6).
    ['the issuer as aud', () => assertion({ claims: { aud: test.url } })],
    ['an aud list without the token endpoint', () => assertion({ claims: { aud: [test.url, `${test.url}/authorize`] } })],
    ['an expired assertion', () => assertion({ claims: { iat: now() - 600, exp: now() - 300 } })],
    ['no jti', () => assertion({ claims: { jti: undefined } })],
    ['sub different from iss', () => assertion({ claims: { sub: 'someone-else' } })],
    ['iat 61 seconds in the future', () => assertion({ claims: { iat: now() + 61, nbf: now() + 61, exp: now() + 120 } })],
    ['alg none', async () => {
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      const payload = base64url.encode(JSON.stringify({ iss: test.rp.clientId, sub: test.rp.clientId, aud: `${test.url}/token`, jti: randomUUID(), iat: now(), exp: now() + 60 }));
      return `${header}.${payload}.`;
    }],
    ['HS256 signed with the client public key (key confusion)', async () => {
      const secret = new TextEncoder().encode(JSON.stringify(test.rp.publicJwk));
      return new SignJWT({ iss: test.rp.clientId, sub: test.rp.clientId, aud: `${test.url}/token`, jti: randomUUID(), iat: now(), exp: now() + 60 })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(secret);
    }],
    ['a key the client never registered', async () => {
      const other = (await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-512' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      return assertion({ key: other.privateKey });
    }],
  ];

  for (const [name, make] of negatives) {
    it(`refuses ${name} with invalid_client (HTTP 400, as NHS login)`, async () => {
      const result = await token(await make());
      expect(result.status).to.equal(400);
      expect(result.headers.get('www-authenticate')).to.equal(null);
      expect(result.body.error).to.equal('invalid_client');
    });
  }

  it('refuses a replayed assertion jti', async () => {
    const once = await assertion();
    expect((await token(once)).body.error).to.equal('invalid_grant');
    const replay = await token(once);
    expect(replay.status).to.equal(400);
    expect(replay.body.error).to.equal('invalid_client');
  });

  it('refuses two concurrent uses of one assertion: at most one gets past client authentication', async () => {
    const once = await assertion();
    const results = await Promise.all(Array.from({ length: 8 }, () => token(once)));
    const passed = results.filter((r) => r.body.error !== 'invalid_client');
    expect(passed.length).to.be.at.most(1);
  });

  it('refuses client_secret_post', async () => {
    const response = await fetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: test.rp.redirectUri, client_id: test.rp.clientId, client_secret: 'guess' }),
    });
    expect(response.status).to.equal(400);
    expect((await response.json()).error).to.equal('invalid_client');
  });

  it('accepts an aud list that includes the token endpoint', async () => {
    const result = await token(await assertion({ claims: { aud: [test.url, `${test.url}/token`] } }));
    expect(result.body.error).to.equal('invalid_grant');
  });

  it('answers a request with no client authentication at all with invalid_client (EIS Table 9)', async () => {
    const response = await fetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: test.rp.redirectUri }),
    });
    expect(response.status).to.equal(400);
    expect((await response.json()).error).to.equal('invalid_client');
  });

  it('sends Cache-Control: no-store and Pragma: no-cache with every answer, errors included (EIS Table 7)', async () => {
    const result = await token(await assertion());
    expect(result.headers.get('cache-control')).to.equal('no-store');
    expect(result.headers.get('pragma')).to.equal('no-cache');
  });
});
