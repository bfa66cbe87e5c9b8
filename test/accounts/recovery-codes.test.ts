import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { accountsWithRecoveryCodesUnder, createRecoveryCodes, groupedRecoveryCode, newRecoveryCode, normaliseRecoveryCode, RECOVERY_CODE_COUNT, RECOVERY_CODE_LENGTH, type RecoveryCodes } from '../../src/accounts/recovery-codes.js';
import { lockoutKeys, securityCodePolicy } from '../../src/security/attempt-counters.js';
import { hmacKeyId } from '../../src/security/hmac-key-ring.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createAccount } from '../interactions/support.js';

describe('recovery code format', () => {
  it('makes 16 characters of Crockford base32 (80 bits), shown in groups of four', () => {
    const code = newRecoveryCode();
    expect(RECOVERY_CODE_LENGTH).to.equal(16);
    expect(code).to.match(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    expect(groupedRecoveryCode('7KQ2M9XD4TRBH0WE')).to.equal('7KQ2 M9XD 4TRB H0WE');
  });

  it('reads a code as people type it: any case, spaces or dashes, O for 0 and I or L for 1', () => {
    expect(normaliseRecoveryCode('7kq2 m9xd 4trb h0we')).to.equal('7KQ2M9XD4TRBH0WE');
    expect(normaliseRecoveryCode('7KQ2-M9XD-4TRB-HOWE')).to.equal('7KQ2M9XD4TRBH0WE');
    expect(normaliseRecoveryCode('IL00 0000 0000 0000')).to.equal('1100000000000000');
  });

  it('refuses what cannot be a code: the wrong length, or letters the alphabet leaves out', () => {
    expect(normaliseRecoveryCode('7KQ2 M9XD 4TRB')).to.equal(undefined);
    expect(normaliseRecoveryCode('7KQ2 M9XD 4TRB H0WE A')).to.equal(undefined);
    expect(normaliseRecoveryCode('UUUU UUUU UUUU UUUU')).to.equal(undefined);
    expect(normaliseRecoveryCode('')).to.equal(undefined);
  });

  it('uses every character of the alphabet about equally (no bias from the bit packing)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) for (const c of newRecoveryCode()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).to.equal(32);
    // 32,000 characters, 1,000 expected each; a biased encoder would leave some far off.
    for (const [c, n] of counts) expect(n, c).to.be.within(800, 1200);
  });
});

describe('recovery codes service', function () {
  this.timeout(30_000);
  let test: TestIdp;
  let service: RecoveryCodes;

  before(async () => {
    test = await startTestIdp();
    service = test.idp.services.recoveryCodes;
  });
  after(async () => test?.close());

  async function rows(accountId: string): Promise<{ code_hash: string; key_id: string; used_at: Date | null }[]> {
    return test.idp.db.dataSource.query('SELECT code_hash, key_id, used_at FROM recovery_code WHERE account_id = $1', [accountId]);
  }

  async function accountRow(accountId: string): Promise<{ recovery_codes_left: number; recovery_codes_created_at: Date | null }> {
    const [row] = await test.idp.db.dataSource.query('SELECT recovery_codes_left, recovery_codes_created_at FROM account WHERE id = $1', [accountId]);
    return row;
  }

  async function audits(accountId: string): Promise<string[]> {
    const found: { type: string }[] = await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 AND type LIKE 'recovery%' ORDER BY id`, [accountId]);
    return found.map((r) => r.type);
  }

  it('makes ten distinct codes and keeps only their keyed hashes, under the current HMAC secret', async () => {
    const account = await createAccount(test);
    const codes = await service.generate(account, { ip: '127.0.0.1' });
    expect(codes).to.have.length(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).to.equal(RECOVERY_CODE_COUNT);
    const stored = await rows(account.id);
    expect(stored).to.have.length(RECOVERY_CODE_COUNT);
    for (const row of stored) {
      expect(row.code_hash).to.match(/^[0-9a-f]{64}$/);
      expect(row.used_at).to.equal(null);
    }
    expect(new Set(stored.map((r) => r.key_id)).size).to.equal(1);
    expect((await accountRow(account.id)).recovery_codes_left).to.equal(10);
    expect(await audits(account.id)).to.deep.equal(['recovery_codes.created']);
  });

  it('uses a code once, counting the set down, and says how many are left', async () => {
    const account = await createAccount(test);
    const codes = await service.generate(account, { ip: '127.0.0.1' });
    expect(await service.use(account, codes[2]!, { ip: '127.0.0.1' })).to.deep.equal({ used: true, left: 9 });
    expect(await service.use(account, codes[2]!, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    expect(await service.use(account, groupedRecoveryCode(codes[5]!).toLowerCase(), { ip: '127.0.0.1' })).to.deep.equal({ used: true, left: 8 });
    expect((await accountRow(account.id)).recovery_codes_left).to.equal(8);
    expect(await audits(account.id)).to.deep.equal(['recovery_codes.created', 'recovery_code.used', 'recovery_code.used']);
  });

  it('binds codes to their account: another account\'s code is no good', async () => {
    const owner = await createAccount(test);
    const other = await createAccount(test);
    const codes = await service.generate(owner, { ip: '127.0.0.1' });
    await service.generate(other, { ip: '127.0.0.1' });
    expect(await service.use(other, codes[0]!, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    expect((await accountRow(other.id)).recovery_codes_left).to.equal(10);
  });

  it('replaces the whole set: every old code dies, the count and the lockout start again', async () => {
    const account = await createAccount(test);
    const first = await service.generate(account, { ip: '127.0.0.1' });
    await service.use(account, first[0]!, { ip: '127.0.0.1' });
    await test.idp.services.counters.recordFailure(lockoutKeys.recoveryCode(account.id), securityCodePolicy(test.idp.config));
    const second = await service.generate(account, { ip: '127.0.0.1' });
    for (const code of first) expect(await service.use(account, code, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    expect((await accountRow(account.id)).recovery_codes_left).to.equal(10);
    expect((await test.idp.services.counters.status(lockoutKeys.recoveryCode(account.id))).failures).to.equal(0);
    expect(await service.use(account, second[9]!, { ip: '127.0.0.1' })).to.deep.equal({ used: true, left: 9 });
    expect(await audits(account.id)).to.include('recovery_codes.replaced');
  });

  it('turns them off: no code works, and turning off twice does nothing more', async () => {
    const account = await createAccount(test);
    const codes = await service.generate(account, { ip: '127.0.0.1' });
    expect(await service.turnOff(account, { ip: '127.0.0.1' })).to.equal(true);
    expect(await service.turnOff(account, { ip: '127.0.0.1' })).to.equal(false);
    expect(await rows(account.id)).to.deep.equal([]);
    expect(await accountRow(account.id)).to.deep.equal({ recovery_codes_left: 0, recovery_codes_created_at: null });
    expect(await service.use(account, codes[0]!, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    expect(await audits(account.id)).to.deep.equal(['recovery_codes.created', 'recovery_codes.turned_off']);
  });

  it('keeps codes working across an HMAC secret rotation until the old secret is pruned (D17)', async () => {
    const deps = { dataSource: test.idp.db.dataSource, counters: test.idp.services.counters, notifications: test.idp.services.notifications, audit: test.idp.services.audit };
    const oldSecret = 'old-hmac-secret-for-recovery-codes-0001';
    const newSecret = 'new-hmac-secret-for-recovery-codes-0002';
    const before = createRecoveryCodes({ ...deps, hmacKeys: oldSecret });
    const rotated = createRecoveryCodes({ ...deps, hmacKeys: { current: newSecret, previous: [oldSecret] } });
    const pruned = createRecoveryCodes({ ...deps, hmacKeys: newSecret });
    const account: Account = await createAccount(test);
    const codes = await before.generate(account, { ip: '127.0.0.1' });
    expect((await rows(account.id))[0]!.key_id).to.equal(hmacKeyId(oldSecret).toString('hex'));
    expect(await rotated.use(account, codes[0]!, { ip: '127.0.0.1' })).to.deep.equal({ used: true, left: 9 });
    expect(await pruned.use(account, codes[1]!, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    // What `keys prune` reports before the old secret goes: people whose unused codes it would end.
    expect(await accountsWithRecoveryCodesUnder(test.idp.db.dataSource, [oldSecret])).to.equal(1);
    await rotated.generate(account, { ip: '127.0.0.1' });
    expect(await accountsWithRecoveryCodesUnder(test.idp.db.dataSource, [oldSecret])).to.equal(0);
  });
});
