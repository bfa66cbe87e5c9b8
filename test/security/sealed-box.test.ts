import { expect } from 'chai';
import { createSealedBox } from '../../src/security/sealed-box.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('sealed box (AES-256-GCM for values carelogin hands out or keeps)', () => {
  const box = createSealedBox('a-secret-of-at-least-thirty-two-characters', 'test purpose v1');

  it('opens what it sealed, for the same associated data and purpose only', () => {
    const sealed = box.seal('hello', 'owner-1');
    expect(box.open(sealed, 'owner-1')?.toString('utf8')).to.equal('hello');
    expect(box.open(sealed, 'owner-2')).to.equal(undefined);
    expect(createSealedBox('a-secret-of-at-least-thirty-two-characters', 'another purpose v1').open(sealed, 'owner-1')).to.equal(undefined);
    expect(box.seal('hello', 'owner-1')).to.not.equal(sealed);
  });

  it('refuses any change, and the same bytes spelt another way (one accepted form)', () => {
    // 1 + 12 + 2 + 16 = 31 bytes: the last base64url character has spare bits.
    const sealed = box.seal('ab', 'owner');
    const last = sealed.at(-1)!;
    const respellings = [...ALPHABET].map((c) => sealed.slice(0, -1) + c).filter((s) => s !== sealed && Buffer.from(s, 'base64url').equals(Buffer.from(sealed, 'base64url')));
    expect(respellings.length, `respellings of …${last}`).to.be.above(0);
    for (const respelt of respellings) expect(box.open(respelt, 'owner')).to.equal(undefined);
    const changed = sealed.slice(0, 5) + (sealed[5] === 'A' ? 'B' : 'A') + sealed.slice(6);
    expect(box.open(changed, 'owner')).to.equal(undefined);
    expect(box.open(sealed.slice(0, -4), 'owner')).to.equal(undefined);
    expect(box.open('not sealed at all', 'owner')).to.equal(undefined);
  });
});
