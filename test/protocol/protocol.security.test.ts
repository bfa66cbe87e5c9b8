import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONAS } from '../../src/accounts/personas.js';
import { loadClients } from '../../src/clients/registry.js';
import { ClientRegistrationError } from '../../src/errors.js';
import type { Browser } from '../helpers/browser.js';
import { testConfig } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn, type SignInResult } from '../helpers/journeys.js';
import type { TestRp } from '../helpers/relying-party.js';

/**
 * security-bar D2, D6, D8 and D9 over HTTP: which response types and grants exist, how codes are
 * bound and how long they live, what ID tokens and userinfo say, and issuer identification.
 */
const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const credentials = { email: p9.email, password: p9.password, code: '190696' };
const VTR = '["P9.Cp.Cd"]';
const OTHER_CLIENT = 'other-rp';

interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A private_key_jwt client assertion for `rp`, addressed to the token endpoint. */
function clientAssertion(rp: TestRp, issuer: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: rp.clientId, sub: rp.clientId, aud: `${issuer}/token`, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'RS512', kid: rp.kid })
    .sign(rp.privateKey);
}

/** A token request exactly as given (authenticated as `rp`), for negative cases openid-client would not send. */
async function tokenRequest(test: TestIdp, rp: TestRp, params: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(`${test.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      ...params,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(rp, test.url),
    }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function codeOf(callbackUrl: string): string {
  const code = new URL(callbackUrl).searchParams.get('code');
  if (!code) throw new Error(`no code in ${callbackUrl}`);
  return code;
}

function codeGrant(signedIn: Pick<SignInResult, 'callbackUrl' | 'request'>, rp: TestRp, overrides: Record<string, string> = {}): Record<string, string> {
  return { grant_type: 'authorization_code', code: codeOf(signedIn.callbackUrl), redirect_uri: rp.redirectUri, code_verifier: signedIn.request.codeVerifier, ...overrides };
}

describe('D2, D6, D8, D9: protocol properties over HTTP', () => {
  let test: TestIdp;
  let signedIn: SignInResult;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true }, extraClients: [{ clientId: OTHER_CLIENT }] });
    signedIn = await signIn(test, credentials, { params: { vtr: VTR } });
  });
  after(async () => test?.close());

  /** A new code for the test RP from the signed-in browser (single sign-on, no pages). */
  async function silentCode(browser: Browser = signedIn.browser, params: Record<string, string> = {}): Promise<Pick<SignInResult, 'callbackUrl' | 'request'>> {
    const request = await test.rp.authorize({ scope: 'openid', vtr: VTR, prompt: 'none', ...params });
    const page = await browser.get(request.url);
    if (!page.callbackUrl || !new URL(page.callbackUrl).searchParams.get('code')) throw new Error(`no code: ${page.status} ${page.url} ${page.callbackUrl}`);
    return { callbackUrl: page.callbackUrl, request };
  }

  async function authorizeRaw(params: Record<string, string>): Promise<URL> {
    const request = await test.rp.authorize({ scope: 'openid', vtr: VTR, ...params });
    const response = await fetch(request.url, { redirect: 'manual' });
    await response.arrayBuffer();
    expect(response.status, `a redirect for ${JSON.stringify(params)}`).to.be.oneOf([302, 303]);
    return new URL(response.headers.get('location')!, test.url);
  }

  describe('D2: response types and grants', () => {
    it('D2: token, id_token, "id_token token", "code id_token", "code token" and none are refused with unsupported_response_type', async () => {
      for (const responseType of ['token', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none']) {
        const location = await authorizeRaw({ response_type: responseType });
        expect(`${location.origin}${location.pathname}`, responseType).to.equal(test.rp.redirectUri);
        const params = location.hash ? new URLSearchParams(location.hash.slice(1)) : location.searchParams;
        expect(params.get('error'), responseType).to.equal('unsupported_response_type');
        expect(params.get('code'), responseType).to.equal(null);
        expect(params.get('access_token'), responseType).to.equal(null);
        expect(params.get('id_token'), responseType).to.equal(null);
      }
    });

    it('D2: grant_type=password is unsupported_grant_type, and client_credentials gives no token', async () => {
      const password = await tokenRequest(test, test.rp, { grant_type: 'password', username: p9.email, password: p9.password, scope: 'openid' });
      expect(password.status).to.equal(400);
      expect(password.body.error).to.equal('unsupported_grant_type');
      expect(password.body).not.to.have.property('access_token');

      // Not enabled for any client, so oidc-provider does not know the grant at all (stricter than unauthorized_client).
      const clientCredentials = await tokenRequest(test, test.rp, { grant_type: 'client_credentials', scope: 'openid' });
      expect(clientCredentials.status).to.equal(400);
      expect(clientCredentials.body.error).to.be.oneOf(['unsupported_grant_type', 'unauthorized_client']);
      expect(clientCredentials.body).not.to.have.property('access_token');

      for (const grant of ['implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:openid:params:grant-type:ciba']) {
        const answer = await tokenRequest(test, test.rp, { grant_type: grant });
        expect(answer.body.error, grant).to.equal('unsupported_grant_type');
      }
    });

    it('D2: a client not opted in to refresh tokens cannot use the refresh_token grant (unauthorized_client)', async () => {
      const other = test.rps.get(OTHER_CLIENT)!;
      const answer = await tokenRequest(test, other, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) });
      expect(answer.status).to.equal(400);
      expect(answer.body.error).to.equal('unauthorized_client');
      expect(answer.body).not.to.have.property('access_token');
    });

    it('D2: discovery lists only what is enabled', async () => {
      const doc = (await (await fetch(`${test.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(doc.response_types_supported).to.deep.equal(['code']);
      expect(doc.response_modes_supported).to.deep.equal(['query']);
      expect(doc.grant_types_supported).to.have.members(['authorization_code', 'refresh_token']);
      expect(doc.token_endpoint_auth_methods_supported).to.deep.equal(['private_key_jwt']);
      for (const absent of ['introspection_endpoint', 'revocation_endpoint', 'device_authorization_endpoint', 'pushed_authorization_request_endpoint', 'registration_endpoint', 'backchannel_authentication_endpoint']) {
        expect(doc, absent).not.to.have.property(absent);
      }
    });
  });

  describe('D6: code lifetime and binding', () => {
    /** As if `seconds` passed since the code was issued. */
    async function ageCode(code: string, seconds: number): Promise<void> {
      await test.idp.db.dataSource.query(
        `UPDATE oidc_model SET
           payload = payload || jsonb_build_object('iat', (payload->>'iat')::bigint - $2::bigint, 'exp', (payload->>'exp')::bigint - $2::bigint),
           expires_at = expires_at - make_interval(secs => $2::int)
         WHERE model = 'AuthorizationCode' AND id = $1`,
        [code, seconds],
      );
    }

    it('D6: a code 55 seconds old is redeemed; one 61 seconds old is invalid_grant', async () => {
      const young = await silentCode();
      await ageCode(codeOf(young.callbackUrl), 55);
      const ok = await tokenRequest(test, test.rp, codeGrant(young, test.rp));
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);

      const old = await silentCode();
      await ageCode(codeOf(old.callbackUrl), 61);
      const expired = await tokenRequest(test, test.rp, codeGrant(old, test.rp));
      expect(expired.status).to.equal(400);
      expect(expired.body.error).to.equal('invalid_grant');
      expect(expired.body).not.to.have.property('access_token');
    });

    it('D6: a valid code with another client\'s credentials is invalid_grant', async () => {
      const issued = await silentCode();
      const other = test.rps.get(OTHER_CLIENT)!;
      const stolen = await tokenRequest(test, other, codeGrant(issued, other, { redirect_uri: test.rp.redirectUri }));
      expect(stolen.status).to.equal(400);
      expect(stolen.body.error).to.equal('invalid_grant');
      expect(stolen.body).not.to.have.property('access_token');
    });

    it('D6: a redirect_uri at the token endpoint that differs from the authorization request is invalid_grant', async () => {
      for (const redirectUri of [`${test.rp.redirectUri}/`, 'http://localhost:9/other', test.rp.redirectUri.replace('localhost', '127.0.0.1')]) {
        const issued = await silentCode();
        const answer = await tokenRequest(test, test.rp, codeGrant(issued, test.rp, { redirect_uri: redirectUri }));
        expect(answer.status, redirectUri).to.equal(400);
        expect(answer.body.error, redirectUri).to.equal('invalid_grant');
      }
    });

    it('D6: codes, access tokens and refresh tokens carry at least 128 random bits (base64url, all distinct)', async function () {
      this.timeout(120_000);
      const codes: string[] = [];
      const accessTokens: string[] = [];
      const refreshTokens: string[] = [];
      for (let i = 0; i < 100; i++) {
        const issued = await silentCode(signedIn.browser, { scope: 'openid offline_access', prompt: 'none' });
        codes.push(codeOf(issued.callbackUrl));
        if (i < 20) {
          const answer = await tokenRequest(test, test.rp, codeGrant(issued, test.rp));
          expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
          // The access token is a JWT around oidc-provider's opaque token (decisions D4): its jti is the secret part.
          const header = decodeProtectedHeader(answer.body.access_token as string);
          expect(header.alg).to.equal('RS512');
          accessTokens.push(JSON.parse(Buffer.from((answer.body.access_token as string).split('.')[1]!, 'base64url').toString()).jti as string);
          refreshTokens.push(answer.body.refresh_token as string);
        }
      }
      for (const [name, values] of [['codes', codes], ['access token ids', accessTokens], ['refresh tokens', refreshTokens]] as const) {
        expect(new Set(values).size, `${name} are distinct`).to.equal(values.length);
        for (const value of values) {
          expect(value, name).to.match(/^[A-Za-z0-9_-]+$/);
          // 22 base64url characters are 132 bits; oidc-provider makes 43 (256 bits).
          expect(value.length, `${name}: ${value}`).to.be.at.least(43);
        }
        // Every base64url character turns up across the sample: no fixed or narrow alphabet.
        expect(new Set(values.join('')).size, `${name} use the whole alphabet`).to.be.at.least(60);
      }
    });
  });

  describe('D8: ID token and userinfo', () => {
    it('D8: the ID token is RS512 with a kid in the JWKS, and iss, aud, nonce, exp and sub are right and stable', async () => {
      const jwks = createLocalJWKSet((await (await fetch(`${test.url}/.well-known/jwks.json`)).json()) as { keys: [] });
      const subjects: string[] = [];
      for (let i = 0; i < 2; i++) {
        const issued = i === 0 ? await silentCode() : await signIn(test, credentials, { params: { vtr: VTR } });
        const answer = await tokenRequest(test, test.rp, codeGrant(issued, test.rp));
        const idToken = answer.body.id_token as string;
        const header = decodeProtectedHeader(idToken);
        expect(header.alg, 'the client\'s registered algorithm').to.equal('RS512');
        const { payload } = await jwtVerify(idToken, jwks, { issuer: test.url, audience: test.rp.clientId, algorithms: ['RS512'] });
        expect(payload.iss).to.equal(test.url);
        expect(payload.aud).to.equal(test.rp.clientId);
        expect(payload.nonce).to.equal(issued.request.nonce);
        const now = Math.floor(Date.now() / 1000);
        expect(payload.exp! - payload.iat!, 'a short life (ID_TOKEN_TTL_SECONDS, 1 hour at most)').to.be.within(60, 3600);
        expect(payload.exp!).to.be.greaterThan(now);
        expect(payload.auth_time).to.be.a('number');
        subjects.push(payload.sub!);
      }
      const [account]: { id: string }[] = await test.idp.db.dataSource.query(`SELECT id FROM account WHERE email_normalised = lower($1)`, [p9.email]);
      expect(subjects, 'sub is the account\'s stable id in every sign-in').to.deep.equal([account!.id, account!.id]);
    });

    it('D8: auth_time is in the ID token when max_age is used', async () => {
      const issued = await silentCode(signedIn.browser, { max_age: '3600' });
      const answer = await tokenRequest(test, test.rp, codeGrant(issued, test.rp));
      const claims = JSON.parse(Buffer.from((answer.body.id_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(claims.auth_time).to.be.a('number');
    });

    it('D8: a client registered for unsigned ID tokens (alg none) is refused at start', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-d8-'));
      try {
        const file = path.join(dir, 'clients.json');
        writeFileSync(file, JSON.stringify({ clients: [{ ...test.rp.entry, client_id: 'unsigned-rp', id_token_signed_response_alg: 'none' }] }));
        const refused = await loadClients(testConfig({ CLIENTS_FILE: file, DATA_DIR: dir })).then(() => undefined, (error: unknown) => error);
        expect(refused, 'a client with alg none is refused').to.be.instanceOf(ClientRegistrationError);
        expect((refused as ClientRegistrationError).field).to.equal('id_token_signed_response_alg');
        // The same file with the client's real algorithm loads: the refusal is about alg none.
        writeFileSync(file, JSON.stringify({ clients: [{ ...test.rp.entry, client_id: 'unsigned-rp' }] }));
        expect((await loadClients(testConfig({ CLIENTS_FILE: file, DATA_DIR: dir }))).map((c) => c.metadata.client_id)).to.deep.equal(['unsigned-rp']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('D8: userinfo releases only consented scopes (no NHS number without profile)', async () => {
      const openidOnly = await silentCode();
      const narrow = await tokenRequest(test, test.rp, codeGrant(openidOnly, test.rp));
      const narrowInfo = (await (await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${narrow.body.access_token as string}` } })).json()) as Record<string, unknown>;
      expect(narrowInfo.sub).to.be.a('string');
      for (const claim of ['nhs_number', 'family_name', 'given_name', 'birthdate', 'email', 'phone_number']) expect(narrowInfo, claim).not.to.have.property(claim);

      const withProfile = await signIn(test, credentials, { params: { vtr: VTR, scope: 'openid profile' } });
      const wide = await tokenRequest(test, test.rp, codeGrant(withProfile, test.rp));
      const wideInfo = (await (await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${wide.body.access_token as string}` } })).json()) as Record<string, unknown>;
      expect(wideInfo.nhs_number, 'profile releases the NHS number of a P9 account').to.equal(p9.nhsNumber);
      expect(wideInfo, 'but not the email address (scope email not asked)').not.to.have.property('email');
    });

    it('D8: an expired or revoked access token gets 401 with WWW-Authenticate at userinfo', async () => {
      const issued = await silentCode();
      const answer = await tokenRequest(test, test.rp, codeGrant(issued, test.rp));
      const accessToken = answer.body.access_token as string;
      expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(200);
      const jti = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).jti as string;
      await test.idp.db.dataSource.query(`UPDATE oidc_model SET expires_at = now() - interval '1 second' WHERE model = 'AccessToken' AND id = $1`, [jti]);
      const expired = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(expired.status).to.equal(401);
      expect(expired.headers.get('www-authenticate')).to.match(/^Bearer .*error="invalid_token"/);

      // Revoked: a replayed code revokes what its first redemption issued, grant and all (D4), so
      // this uses the other client, whose grant no other test needs.
      const other = test.rps.get(OTHER_CLIENT)!;
      const second = await signIn(test, credentials, { rp: other, params: { vtr: VTR } });
      const first = await tokenRequest(test, other, codeGrant(second, other));
      expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${first.body.access_token as string}` } })).status).to.equal(200);
      const replay = await tokenRequest(test, other, codeGrant(second, other));
      expect(replay.body.error).to.equal('invalid_grant');
      const revoked = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${first.body.access_token as string}` } });
      expect(revoked.status).to.equal(401);
      expect(revoked.headers.get('www-authenticate')).to.match(/^Bearer .*error="invalid_token"/);
    });
  });

  describe('D9: issuer identification, discovery and JWKS', () => {
    it('D9: successful and error authorization responses carry iss equal to the issuer', async () => {
      const success = new URL((await silentCode()).callbackUrl);
      expect(success.searchParams.get('code')).to.be.a('string');
      expect(success.searchParams.get('iss')).to.equal(test.url);

      const noSession = await authorizeRaw({ prompt: 'none' });
      expect(noSession.searchParams.get('error')).to.equal('sso_login_required');
      expect(noSession.searchParams.get('iss')).to.equal(test.url);

      const badType = await authorizeRaw({ response_type: 'token' });
      const badParams = badType.hash ? new URLSearchParams(badType.hash.slice(1)) : badType.searchParams;
      expect(badParams.get('error')).to.equal('unsupported_response_type');
      expect(badParams.get('iss')).to.equal(test.url);

      const badScope = await authorizeRaw({ scope: 'openid nonsense_scope', prompt: 'none' });
      expect(badScope.searchParams.get('error')).to.be.a('string');
      expect(badScope.searchParams.get('iss')).to.equal(test.url);
    });

    it('D9: discovery names the exact issuer and supports iss in responses; no alg none; the JWKS is public, unique and verifies ID tokens', async () => {
      const doc = (await (await fetch(`${test.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(doc.issuer).to.equal(test.url);
      expect(doc.authorization_response_iss_parameter_supported).to.equal(true);
      expect(doc.id_token_signing_alg_values_supported).not.to.include('none');
      expect(doc.token_endpoint_auth_signing_alg_values_supported).not.to.include('none');
      for (const [name, value] of Object.entries(doc)) {
        if (name.endsWith('_endpoint') || name === 'jwks_uri') expect(String(value), name).to.match(new RegExp(`^${test.url}/`));
      }
      const { keys } = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: Record<string, unknown>[] };
      for (const key of keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key, `${String(key.kid)} ${member}`).not.to.have.property(member);
      expect(new Set(keys.map((k) => k.kid)).size, 'no duplicate kid').to.equal(keys.length);
      const answer = await tokenRequest(test, test.rp, codeGrant(await silentCode(), test.rp));
      const kid = decodeProtectedHeader(answer.body.id_token as string).kid;
      expect(keys.map((k) => k.kid), 'the ID token\'s kid is published').to.include(kid);
      // openid-client accepts the metadata as an RP would (issuer match, RFC 9207 iss check).
      const config = await oidc.discovery(new URL(test.url), test.rp.clientId, {}, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      expect(config.serverMetadata().issuer).to.equal(test.url);
    });

    it('D9: on an https issuer every endpoint in discovery is https', async function () {
      this.timeout(30_000);
      const https = await startTestIdp({ env: { ISSUER: 'https://carelogin.test', TRUST_PROXY: 'true' } });
      try {
        const response = await fetch(`${https.url}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'carelogin.test' } });
        const doc = (await response.json()) as Record<string, unknown>;
        expect(doc.issuer).to.equal('https://carelogin.test');
        const urls = Object.entries(doc).filter(([name]) => name.endsWith('_endpoint') || name === 'jwks_uri' || name === 'service_documentation');
        expect(urls.length).to.be.at.least(5);
        for (const [name, value] of urls) expect(String(value), name).to.match(/^https:\/\/carelogin\.test\//);
      } finally {
        await https.close();
      }
    });
  });
});
