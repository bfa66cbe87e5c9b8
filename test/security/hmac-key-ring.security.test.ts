import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createCsrf } from '../../src/security/csrf.js';
import { hmacKeyId, hmacKeyRing, type HmacKeyRing } from '../../src/security/hmac-key-ring.js';
import { createKeyedDigest } from '../../src/security/keyed-digest.js';
import { createSealedBox } from '../../src/security/sealed-box.js';

const OLD = randomBytes(32).toString('base64url');
const NEW = randomBytes(32).toString('base64url');
const PURPOSE = 'test purpose v1';
/** After phase 2 of rotate-hmac: the new secret makes, the old one still checks. */
const ROTATED: HmacKeyRing = { current: NEW, previous: [OLD] };
/** After prune: the old secret is gone. */
const PRUNED: HmacKeyRing = { current: NEW, previous: [] };

/** A value in the format sealed boxes wrote before the key ring (version 1: no key id), as stored in existing rows. */
function sealVersion1(secret: string, plain: string, associatedData: string): string {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), PURPOSE, 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(1), iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** `sealed` with raw byte `index` XORed with `mask`, spelt canonically. */
function alterByte(sealed: string, index: number, mask: number): string {
  const raw = Buffer.from(sealed, 'base64url');
  raw[index]! ^= mask;
  return raw.toString('base64url');
}

describe('HMAC key ring: rotating the HMAC secret (security)', () => {
  describe('sealed box', () => {
    it('seals as version 2 naming the current secret, and needs no re-seal', () => {
      const box = createSealedBox(ROTATED, PURPOSE);
      const sealed = box.seal('hello', 'owner');
      const raw = Buffer.from(sealed, 'base64url');
      expect(raw[0]).to.equal(2);
      expect(raw.subarray(1, 5).equals(hmacKeyId(NEW))).to.equal(true);
      expect(box.needsReseal(sealed)).to.equal(false);
      expect(box.secretOf(sealed, 'owner')).to.equal(NEW);
    });

    it('opens a value sealed under the old secret after rotation, and re-seals it under the new one', () => {
      const sealed = createSealedBox(OLD, PURPOSE).seal('totp secret', 'account-1');
      const box = createSealedBox(ROTATED, PURPOSE);
      expect(box.open(sealed, 'account-1')?.toString('utf8')).to.equal('totp secret');
      expect(box.needsReseal(sealed)).to.equal(true);
      expect(box.secretOf(sealed, 'account-1')).to.equal(OLD);

      const resealed = box.seal(box.open(sealed, 'account-1')!, 'account-1');
      expect(box.needsReseal(resealed)).to.equal(false);
      // Under the new secret alone it opens; under the old one alone it does not.
      expect(createSealedBox(PRUNED, PURPOSE).open(resealed, 'account-1')?.toString('utf8')).to.equal('totp secret');
      expect(createSealedBox(OLD, PURPOSE).open(resealed, 'account-1')).to.equal(undefined);
      // The owner binding still holds for values under a previous secret.
      expect(box.open(sealed, 'account-2')).to.equal(undefined);
    });

    it('opens version-1 values (from before the ring) under any secret of the ring, and marks them for re-sealing', () => {
      const underOld = sealVersion1(OLD, 'v1 under old', 'owner');
      const underNew = sealVersion1(NEW, 'v1 under new', 'owner');
      const box = createSealedBox(ROTATED, PURPOSE);
      expect(box.open(underOld, 'owner')?.toString('utf8')).to.equal('v1 under old');
      expect(box.open(underNew, 'owner')?.toString('utf8')).to.equal('v1 under new');
      expect(box.needsReseal(underOld)).to.equal(true);
      expect(box.needsReseal(underNew)).to.equal(true);
      expect(box.open(underOld, 'someone else')).to.equal(undefined);
      // A single-secret box (as before the ring) still opens its own version-1 values.
      expect(createSealedBox(OLD, PURPOSE).open(underOld, 'owner')?.toString('utf8')).to.equal('v1 under old');
    });

    it('does not open a value sealed under a secret that has been pruned', () => {
      const box = createSealedBox(PRUNED, PURPOSE);
      expect(box.open(createSealedBox(OLD, PURPOSE).seal('gone', 'owner'), 'owner')).to.equal(undefined);
      expect(box.open(sealVersion1(OLD, 'gone', 'owner'), 'owner')).to.equal(undefined);
      expect(box.secretOf(createSealedBox(OLD, PURPOSE).seal('gone', 'owner'), 'owner')).to.equal(undefined);
    });

    it('does not open a value whose key id or version was tampered with', () => {
      const box = createSealedBox(ROTATED, PURPOSE);
      for (const sealed of [box.seal('x', 'owner'), createSealedBox(OLD, PURPOSE).seal('x', 'owner')]) {
        expect(box.open(sealed, 'owner')?.toString('utf8')).to.equal('x');
        for (let index = 1; index <= 4; index++) expect(box.open(alterByte(sealed, index, 0x01), 'owner'), `key id byte ${index}`).to.equal(undefined);
        // Version 2 read as version 1: the bytes no longer line up (and the header is authenticated).
        expect(box.open(alterByte(sealed, 0, 0x03), 'owner')).to.equal(undefined);
      }
      // The id of the other secret of the ring: that key is tried and fails (the header is authenticated data).
      const underNew = box.seal('x', 'owner');
      const raw = Buffer.from(underNew, 'base64url');
      hmacKeyId(OLD).copy(raw, 1);
      expect(box.open(raw.toString('base64url'), 'owner')).to.equal(undefined);
    });

    it('accepts only the canonical spelling of a version-2 value', () => {
      const box = createSealedBox(ROTATED, PURPOSE);
      // 1 + 4 + 12 + 2 + 16 = 35 bytes: the last character carries two spare bits.
      const sealed = box.seal('ab', 'owner');
      const respelt = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_']
        .map((c) => sealed.slice(0, -1) + c)
        .filter((s) => s !== sealed && Buffer.from(s, 'base64url').equals(Buffer.from(sealed, 'base64url')));
      expect(respelt.length).to.be.above(0);
      for (const value of respelt) expect(box.open(value, 'owner')).to.equal(undefined);
    });
  });

  describe('CSRF tokens', () => {
    it('a token made before the rotation still verifies after it; new tokens use the new secret', () => {
      const before = createCsrf(OLD).token('interaction-1');
      const rotated = createCsrf(ROTATED);
      expect(rotated.verify('interaction-1', before)).to.equal(true);
      expect(rotated.verify('interaction-2', before)).to.equal(false);
      expect(rotated.token('interaction-1')).to.equal(createHmac('sha256', NEW).update('csrf:interaction-1').digest('base64url'));
      expect(rotated.verify('interaction-1', rotated.token('interaction-1'))).to.equal(true);
    });

    it('a token made with a pruned secret does not verify', () => {
      expect(createCsrf(PRUNED).verify('interaction-1', createCsrf(OLD).token('interaction-1'))).to.equal(false);
    });
  });

  describe('keyed digests', () => {
    it('use the current secret only (short-lived lookup keys that rotate with the secret)', () => {
      expect(createKeyedDigest(ROTATED)('scope', 'a@example.com')).to.equal(createKeyedDigest(NEW)('scope', 'a@example.com'));
      expect(createKeyedDigest(ROTATED)('scope', 'a@example.com')).to.not.equal(createKeyedDigest(OLD)('scope', 'a@example.com'));
    });
  });

  it('refuses a weak secret anywhere in the ring', () => {
    expect(() => hmacKeyRing({ current: NEW, previous: ['short'] })).to.throw(/at least 16/);
    expect(() => createSealedBox({ current: 'short', previous: [] }, PURPOSE)).to.throw(/at least 16/);
    expect(() => createCsrf({ current: NEW, previous: [''] })).to.throw(/at least 16/);
  });
});
