import { expect } from 'chai';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

/** security-bar D1–D3, D12 and NHS login's request rules: every bad request gets the right answer. */
describe('authorization request validation', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({
      extraClients: [{ clientId: 'p5-only-rp', allowedVectors: ['P5.Cp.Cd'] }, { clientId: 'legacy-rp', pkce: 'not-required' }, { clientId: 'p9-cd-only-rp', allowedVectors: ['P9.Cp.Cd'] }],
    });
  });
  after(async () => test.close());

  async function authorize(params: Record<string, string>, options: { clientId?: string; drop?: string[] } = {}): Promise<Response> {
    const rp = options.clientId ? test.rps.get(options.clientId)! : test.rp;
    const request = await rp.authorize({ scope: 'openid', ...params });
    const url = new URL(request.url);
    for (const name of options.drop ?? []) url.searchParams.delete(name);
    return fetch(url, { redirect: 'manual' });
  }

  function redirectError(response: Response): URLSearchParams {
    expect(response.status, 'expected a redirect back to the RP').to.be.oneOf([302, 303]);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(test.rp.redirectUri);
    return location.searchParams;
  }

  it('accepts a well-formed request and starts the sign-in interaction', async () => {
    const response = await authorize({ vtr: '["P9.Cp.Cd"]' });
    expect(response.status).to.be.oneOf([302, 303]);
    expect(response.headers.get('location')).to.match(/^\/interaction\//);
  });

  for (const [name, redirect] of [
    ['a trailing slash', 'http://localhost:9/callback/'],
    ['different case', 'http://localhost:9/CALLBACK'],
    ['an added query string', 'http://localhost:9/callback?x=1'],
    ['a path traversal', 'http://localhost:9/callback/../evil'],
    ['another host', 'http://evil.example/callback'],
    ['userinfo in the authority', 'http://localhost:9@evil.example/callback'],
    ['another port', 'http://localhost:10/callback'],
  ] as const) {
    it(`shows an error page and never redirects for a redirect_uri with ${name}`, async () => {
      const response = await authorize({ redirect_uri: redirect });
      expect(response.status).to.equal(400);
      expect(response.headers.get('location')).to.equal(null);
      expect(await response.text()).to.contain('address we do not recognise');
    });
  }

  it('shows an error page and never redirects for an unknown client_id', async () => {
    const request = await test.rp.authorize({ scope: 'openid' });
    const url = new URL(request.url);
    url.searchParams.set('client_id', 'nobody-registered-this');
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).to.equal(400);
    expect(response.headers.get('location')).to.equal(null);
    // NHS login's reference for a service it does not recognise.
    expect(await response.text()).to.include('Reference: CID2024');
  });

  it('requires PKCE by default', async () => {
    const params = redirectError(await authorize({}, { drop: ['code_challenge', 'code_challenge_method'] }));
    expect(params.get('error')).to.equal('invalid_request');
    expect(params.get('error_description')).to.match(/PKCE/);
  });

  it('rejects the plain PKCE method', async () => {
    const params = redirectError(await authorize({ code_challenge_method: 'plain' }));
    expect(params.get('error')).to.equal('invalid_request');
  });

  it('lets a client registered with the compatibility switch omit PKCE', async () => {
    const response = await authorize({}, { clientId: 'legacy-rp', drop: ['code_challenge', 'code_challenge_method'] });
    expect(response.headers.get('location')).to.match(/^\/interaction\//);
  });

  it('requires nonce', async () => {
    const params = redirectError(await authorize({}, { drop: ['nonce'] }));
    expect(params.get('error')).to.equal('invalid_request');
    expect(params.get('error_description')).to.contain('nonce');
  });

  it('requires state', async () => {
    const params = redirectError(await authorize({}, { drop: ['state'] }));
    expect(params.get('error')).to.equal('invalid_request');
    expect(params.get('error_description')).to.contain('state');
  });

  for (const [vtr, expected] of [
    ['P9.Cp.Cd', 'JSON array'],
    ['["P9.Cp.Cx"]', 'unknown component "Cx"'],
    ['["P9.P5.Cp"]', 'more than one identity proofing'],
    ['[]', 'non-empty'],
    ['[9]', 'string'],
  ] as const) {
    it(`rejects the malformed vtr ${vtr} saying what is wrong`, async () => {
      const params = redirectError(await authorize({ vtr }));
      expect(params.get('error')).to.equal('invalid_request');
      expect(params.get('error_description')).to.contain(expected);
    });
  }

  it('accepts vector components in any order (RFC 8485)', async () => {
    const response = await authorize({ vtr: '["Cd.Cp.P9"]' });
    expect(response.headers.get('location')).to.match(/^\/interaction\//);
  });

  it('rejects a vector the client is not allowed', async () => {
    const request = await test.rps.get('p5-only-rp')!.authorize({ scope: 'openid', vtr: '["P9.Cp.Cd"]' });
    const response = await fetch(request.url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).to.equal('invalid_request');
    expect(location.searchParams.get('error_description')).to.contain('not allowed for this client');
  });

  it('rejects the default vtr for a client registered only for P5 (the default asks for P9)', async () => {
    const request = await test.rps.get('p5-only-rp')!.authorize({ scope: 'openid' });
    const response = await fetch(request.url, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');
  });

  it('takes, of the default vtr, the vectors the client may ask for (a client registered only for P9.Cp.Cd need not send vtr)', async () => {
    const request = await test.rps.get('p9-cd-only-rp')!.authorize({ scope: 'openid' });
    const response = await fetch(request.url, { redirect: 'manual' });
    expect(response.headers.get('location')).to.match(/^\/interaction\//);
    const uid = /^\/interaction\/([^/?]+)/.exec(response.headers.get('location')!)![1]!;
    const [row] = await test.idp.db.dataSource.query(`SELECT payload->'params'->>'vtr' AS vtr FROM oidc_model WHERE model = 'Interaction' AND id = $1`, [uid]);
    expect(JSON.parse(row.vtr)).to.deep.equal(['P9.Cp.Cd']);
  });

  it('answers only in the query string: response_mode fragment and form_post are refused (EIS Table 1)', async () => {
    for (const mode of ['fragment', 'form_post']) {
      const response = await authorize({ response_mode: mode });
      expect(response.headers.get('location') ?? '', mode).not.to.match(/^\/interaction\//);
      const location = response.headers.get('location');
      const answer = location ? new URL(location, test.url) : undefined;
      const error = answer ? answer.searchParams.get('error') ?? new URLSearchParams(answer.hash.slice(1)).get('error') : /invalid_request/.exec(await response.text())?.[0];
      expect(error, mode).to.equal('invalid_request');
    }
    expect((await authorize({ response_mode: 'query' })).headers.get('location')).to.match(/^\/interaction\//);
  });

  it('shows "Create an account" for any allow_registration other than "false" (EIS Table 1)', async () => {
    for (const value of ['true', 'False', '0', 'no']) {
      const response = await authorize({ allow_registration: value });
      expect(response.headers.get('location'), value).to.match(/^\/interaction\//);
    }
  });

  it('rejects profile and basic_demographics together', async () => {
    const params = redirectError(await authorize({ scope: 'openid profile basic_demographics' }));
    expect(params.get('error')).to.equal('invalid_scope');
  });

  it('supports only the authorization code flow', async () => {
    for (const responseType of ['token', 'id_token', 'code id_token', 'none']) {
      const response = await authorize({ response_type: responseType });
      const location = response.headers.get('location');
      const error = location ? new URL(location, test.url).searchParams.get('error') ?? new URLSearchParams(new URL(location, test.url).hash.slice(1)).get('error') : null;
      expect(error, responseType).to.be.oneOf(['unsupported_response_type', 'invalid_request']);
    }
  });

  it('answers prompt=none without a session with NHS login\'s sso_login_required (and the state)', async () => {
    const request = await test.rp.authorize({ scope: 'openid', prompt: 'none' });
    const params = redirectError(await fetch(request.url, { redirect: 'manual' }));
    expect(params.get('error')).to.equal('sso_login_required');
    expect(params.get('state')).to.equal(request.state);
    expect(params.get('iss')).to.equal(test.url);
  });

  it('sends no CORS headers from the authorization endpoint', async () => {
    const request = await test.rp.authorize({ scope: 'openid' });
    const response = await fetch(request.url, { redirect: 'manual', headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).to.equal(null);
  });
});
