import { expect } from 'chai';
import { parseOptions } from '@node-rs/argon2';
import { createPasswordHasher, MAX_PASSWORD_BYTES } from '../../src/accounts/password-hasher.js';
import { testConfig } from '../helpers/database.js';

/** A1 (NFC, case, no truncation), A2 (argon2id, unique salts), F1 (dummy verify), hash concurrency cap. */
describe('password hasher (security)', () => {
  const config = testConfig({});
  const hasher = createPasswordHasher(config);

  it('hashes with argon2id and the configured cost, p=1, a 16-byte salt, different hash for the same password (A2)', async () => {
    const first = await hasher.hash('kettle-meadow-lantern-7');
    const second = await hasher.hash('kettle-meadow-lantern-7');
    expect(first).to.match(/^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    expect(first).to.not.equal(second);
    const parsed = parseOptions(first);
    expect(parsed.saltLen).to.equal(16);
    expect(parsed.memoryCost).to.equal(config.argon2.memoryCost);
    expect(parsed.timeCost).to.equal(config.argon2.timeCost);
    expect(await hasher.verify(first, 'kettle-meadow-lantern-7')).to.equal(true);
    expect(await hasher.verify(second, 'kettle-meadow-lantern-8')).to.equal(false);
  });

  it('uses the OWASP parameters by default (m=19456, t=2)', async () => {
    const defaults = createPasswordHasher(testConfig({ ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '2' }));
    expect(await defaults.hash('three random words here')).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('accepts the NFD form of an NFC password and the reverse, but not a case change (A1)', async () => {
    const nfc = 'Café crème brûlée 2 ☕'.normalize('NFC');
    const nfd = nfc.normalize('NFD');
    expect(nfd).to.not.equal(nfc);
    const stored = await hasher.hash(nfc);
    expect(await hasher.verify(stored, nfd)).to.equal(true);
    expect(await hasher.verify(await hasher.hash(nfd), nfc)).to.equal(true);
    expect(await hasher.verify(stored, nfc.toUpperCase())).to.equal(false);
    expect(await hasher.verify(stored, 'café crème brûlée 2 ☕')).to.equal(false);
  });

  it('never truncates: a 100-byte password does not verify with its first 72 bytes or all but its last byte (A1)', async () => {
    const password = 'a-long-passphrase-'.repeat(6).slice(0, 100);
    expect(Buffer.byteLength(password)).to.equal(100);
    const stored = await hasher.hash(password);
    expect(await hasher.verify(stored, password)).to.equal(true);
    expect(await hasher.verify(stored, password.slice(0, 72))).to.equal(false);
    expect(await hasher.verify(stored, password.slice(0, 99))).to.equal(false);
    expect(await hasher.verify(stored, password + 'x')).to.equal(false);
  });

  it('accepts 128 characters of emoji and accented letters (more than 72 bytes)', async () => {
    const password = '🙂é'.repeat(64);
    expect([...password].length).to.equal(128);
    const stored = await hasher.hash(password);
    expect(await hasher.verify(stored, password)).to.equal(true);
    expect(await hasher.verify(stored, password.slice(0, -2))).to.equal(false);
  });

  it('refuses to hash, and never matches, input beyond the byte bound instead of cutting it short', async () => {
    const huge = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
    let error: unknown;
    try {
      await hasher.hash(huge);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    const stored = await hasher.hash('x'.repeat(MAX_PASSWORD_BYTES));
    expect(await hasher.verify(stored, huge)).to.equal(false);
  });

  it('returns false for a null hash (unknown account) and for a malformed stored hash', async () => {
    expect(await hasher.verify(null, 'anything at all 123')).to.equal(false);
    expect(await hasher.verify(null, '')).to.equal(false);
    expect(await hasher.verify('not-a-hash', 'anything at all 123')).to.equal(false);
  });

  it('takes about as long for an unknown account as for a wrong password (F1)', async () => {
    const timed = createPasswordHasher(testConfig({ ARGON2_MEMORY_KIB: '16384', ARGON2_ITERATIONS: '2' }));
    const stored = await timed.hash('the real password 42');
    await timed.verify(null, 'warm up the dummy hash');
    const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 15; i++) {
      let start = process.hrtime.bigint();
      await timed.verify(stored, 'a wrong password ' + i);
      known.push(Number(process.hrtime.bigint() - start));
      start = process.hrtime.bigint();
      await timed.verify(null, 'a wrong password ' + i);
      unknown.push(Number(process.hrtime.bigint() - start));
    }
    const ratio = median(unknown) / median(known);
    // Both run one full Argon2 verification with the same parameters; a skipped hash would be ~100x faster.
    expect(ratio).to.be.within(0.5, 2);
  });

  it('caps concurrent hashes at config.limits.concurrentPasswordHashes, queueing the rest without rejecting', async () => {
    const capped = createPasswordHasher(testConfig({ MAX_CONCURRENT_PASSWORD_HASHES: '2' }));
    await capped.verify(null, 'let the dummy hash finish first');
    const hashes = Array.from({ length: 10 }, (_, i) => capped.hash(`password number ${i}`));
    const during = capped.stats();
    expect(during.active).to.equal(2);
    expect(during.waiting).to.equal(8);
    // Verifications (including the dummy one for unknown accounts) share the same cap.
    const verifications = Array.from({ length: 10 }, (_, i) => capped.verify(i % 2 === 0 ? null : 'not-a-hash', `password ${i}`));
    const results = await Promise.all([...hashes, ...verifications]);
    expect(results).to.have.length(20);
    expect(capped.stats().peak).to.equal(2);
    expect(capped.stats().active).to.equal(0);
  });

  it('reports hashes made with other parameters as needing a rehash', async () => {
    const stronger = createPasswordHasher(testConfig({ ARGON2_MEMORY_KIB: '9216', ARGON2_ITERATIONS: '1' }));
    const stored = await hasher.hash('a perfectly fine passphrase');
    expect(hasher.needsRehash(stored)).to.equal(false);
    expect(stronger.needsRehash(stored)).to.equal(true);
    expect(hasher.needsRehash('garbage')).to.equal(true);
  });
});
