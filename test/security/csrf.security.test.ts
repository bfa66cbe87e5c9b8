import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { createCsrf, isCrossSiteRequest } from '../../src/security/csrf.js';

/** C5: CSRF tokens bound to the journey, and Fetch-Metadata / Origin checks on form posts. */
describe('CSRF (security)', () => {
  const secret = 'csrf-test-secret-0123456789abcdef';
  const csrf = createCsrf(secret);

  it('makes a base64url HMAC of "csrf:" + binding', () => {
    const token = csrf.token('interaction-uid-1');
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(token).to.equal(createHmac('sha256', secret).update('csrf:interaction-uid-1').digest('base64url'));
    expect(csrf.token('interaction-uid-1')).to.equal(token);
  });

  it('verifies the token for its own binding only', () => {
    const token = csrf.token('interaction-uid-1');
    expect(csrf.verify('interaction-uid-1', token)).to.equal(true);
    expect(csrf.verify('interaction-uid-2', token)).to.equal(false);
    expect(csrf.verify('', token)).to.equal(false);
  });

  it('rejects tampered, truncated, padded, missing and non-string tokens', () => {
    const token = csrf.token('binding');
    // The last character: a different spelling of the same bytes when only its spare bits change.
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const inside = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    for (const candidate of [flipped, inside, token.slice(0, -1), token + '=', token + 'A', '', undefined, null, 42, [token], { token }]) {
      expect(csrf.verify('binding', candidate), String(candidate)).to.equal(false);
    }
  });

  it('rejects a token made with another secret', () => {
    const other = createCsrf('another-secret-0123456789abcdef');
    expect(csrf.verify('binding', other.token('binding'))).to.equal(false);
  });

  it('refuses a weak secret', () => {
    expect(() => createCsrf('')).to.throw();
    expect(() => createCsrf('short')).to.throw();
  });

  describe('isCrossSiteRequest', () => {
    const origin = 'https://login.carelogin.example';

    const cases: [string, Record<string, string | string[] | undefined>, boolean][] = [
      ['same-origin fetch metadata', { 'sec-fetch-site': 'same-origin' }, false],
      ['user-initiated (none)', { 'sec-fetch-site': 'none' }, false],
      ['same-origin with matching Origin', { 'sec-fetch-site': 'same-origin', origin }, false],
      ['matching Origin without fetch metadata (older browser)', { origin }, false],
      ['no headers at all (non-browser client)', {}, false],
      ['cross-site fetch metadata', { 'sec-fetch-site': 'cross-site' }, true],
      ['same-site (a sibling subdomain is not us)', { 'sec-fetch-site': 'same-site' }, true],
      ['unknown fetch metadata value', { 'sec-fetch-site': 'bogus' }, true],
      ['foreign Origin', { origin: 'https://evil.example' }, true],
      ['foreign Origin despite same-origin metadata', { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }, true],
      ['null Origin', { origin: 'null' }, true],
      ['same host over http', { origin: 'http://login.carelogin.example' }, true],
      ['same host on another port', { origin: 'https://login.carelogin.example:8443' }, true],
      ['lookalike suffix', { origin: 'https://login.carelogin.example.evil.example' }, true],
      ['repeated Sec-Fetch-Site header', { 'sec-fetch-site': ['same-origin', 'cross-site'] }, true],
      ['repeated Origin header', { origin: [origin, origin] }, true],
    ];

    for (const [label, headers, expected] of cases) {
      it(`${label} → ${expected ? 'cross-site' : 'allowed'}`, () => {
        expect(isCrossSiteRequest(headers, origin)).to.equal(expected);
      });
    }

    it('compares with the origin of an issuer URL that has a path or trailing slash', () => {
      expect(isCrossSiteRequest({ origin: 'http://localhost:3000' }, 'http://localhost:3000/')).to.equal(false);
      expect(isCrossSiteRequest({ origin: 'https://idp.example' }, 'https://idp.example/oidc')).to.equal(false);
      expect(isCrossSiteRequest({ origin: 'HTTPS://IDP.EXAMPLE' }, 'https://idp.example')).to.equal(false);
    });
  });
});
