import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createIdTokenReferences } from '../../src/provider/id-token-reference.js';

describe('ID token jti as a sealed reference to its sign-in (asserted_login_identity)', () => {
  const references = createIdTokenReferences('a-test-hmac-secret-of-reasonable-length');
  const signIn = { accountId: randomUUID(), authTime: 1_790_000_000, amr: ['pwd', 'sms'] };

  it('opens for the client it was issued to, with the sign-in and the issue time', () => {
    const jti = references.issue('rp-one', signIn, 1_790_000_100);
    expect(references.read(jti, 'rp-one')).to.deep.equal({ ...signIn, issuedAt: 1_790_000_100 });
  });

  it('is unique each time, and says nothing readable', () => {
    const a = references.issue('rp-one', signIn);
    const b = references.issue('rp-one', signIn);
    expect(a).not.to.equal(b);
    expect(Buffer.from(a, 'base64url').toString('latin1')).not.to.include(signIn.accountId).and.not.to.include('pwd');
  });

  it('does not open for another client, after any change, or under another secret', () => {
    const jti = references.issue('rp-one', signIn);
    expect(references.read(jti, 'rp-two')).to.equal(undefined);
    for (const index of [1, 20, jti.length - 2]) {
      const changed = `${jti.slice(0, index)}${jti[index] === 'A' ? 'B' : 'A'}${jti.slice(index + 1)}`;
      expect(references.read(changed, 'rp-one'), `changed at ${index}`).to.equal(undefined);
    }
    expect(createIdTokenReferences('another-secret-entirely-0123456789').read(jti, 'rp-one')).to.equal(undefined);
    for (const junk of ['', randomUUID(), 'x'.repeat(500), `${jti}!`]) expect(references.read(junk, 'rp-one')).to.equal(undefined);
  });
});
