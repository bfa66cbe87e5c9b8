import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { disableAccount } from '../../src/accounts/account-status.js';
import { DECLINE_REASONS, type Evidence } from '../../src/photo-id/cases.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createAccount } from '../interactions/support.js';

const PHOTO: Evidence = { contentType: 'image/jpeg', content: Buffer.from('a re-encoded jpeg stands here') };
const VIDEO: Evidence = { contentType: 'video/mp4', content: Buffer.from('an mp4 stands here') };

describe('photo ID cases (P9 by photo ID and video, decided in the back office)', () => {
  let test: TestIdp;
  let reviewer: Account;

  before(async () => {
    test = await startTestIdp();
    reviewer = await createAccount(test);
  });
  after(async () => test?.close());

  async function submitFor(account: Account, digits = '7156') {
    return test.idp.services.photoIdCases.submit({ accountId: account.id, documentType: 'passport', spokenDigits: digits, photo: PHOTO, video: VIDEO, clientId: test.rp.clientId });
  }

  async function outcomeEmails(account: Account): Promise<string[]> {
    const rows: { body: string }[] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'identity-check-outcome' ORDER BY created_at`, [account.email]);
    return rows.map((r) => r.body);
  }

  it('stores a case with its evidence, one awaiting review per account however often it is sent', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const first = await submitFor(account);
    expect(first.kind).to.equal('submitted');
    const again = await Promise.all([submitFor(account), submitFor(account)]);
    expect(again.map((r) => r.kind)).to.deep.equal(['already-open', 'already-open']);
    expect(again.map((r) => r.caseId)).to.deep.equal([first.caseId, first.caseId]);
    const cases = test.idp.services.photoIdCases;
    expect(await cases.openCaseFor(account.id)).to.deep.include({ id: first.caseId, status: 'awaiting_review', documentType: 'passport' });
    expect(await cases.evidence(first.caseId, 'photo_id')).to.deep.equal(PHOTO);
    expect(await cases.evidence(first.caseId, 'video')).to.deep.equal(VIDEO);
    expect(await cases.get('not-a-uuid')).to.equal(undefined);
  });

  it('queues cases awaiting review oldest first', async () => {
    const [a, b] = [await createAccount(test, { proofingLevel: 'P5' }), await createAccount(test, { proofingLevel: 'P5' })];
    const first = await submitFor(a);
    const second = await submitFor(b);
    const ids = (await test.idp.services.photoIdCases.queue(500)).map((c) => c.id);
    expect(ids.indexOf(first.caseId)).to.be.below(ids.indexOf(second.caseId));
  });

  it('refuses to approve the case of an account the support desk disabled (nothing changes, no P9 in the audit trail); declining it still works', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const { caseId } = await submitFor(account);
    const { services } = test.idp;
    expect(await disableAccount(services, { accountId: account.id, supportAccountId: reviewer.id, reason: 'INC-1234' })).to.equal('changed');
    expect(await services.photoIdCases.decide({ caseId, reviewerAccountId: reviewer.id, decision: 'approved' })).to.equal('account-disabled');
    expect((await services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
    expect(await services.photoIdCases.get(caseId)).to.deep.include({ status: 'awaiting_review' });
    const types = async (): Promise<string[]> =>
      ((await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 AND type LIKE 'identity.%' ORDER BY id`, [account.id])) as { type: string }[]).map((r) => r.type);
    expect(await types()).to.deep.equal(['identity.case_submitted', 'identity.case_approval_refused']);
    expect(await services.photoIdCases.decide({ caseId, reviewerAccountId: reviewer.id, decision: 'declined', reason: Object.keys(DECLINE_REASONS)[0] as keyof typeof DECLINE_REASONS })).to.equal('decided');
    expect(await services.photoIdCases.get(caseId)).to.deep.include({ status: 'declined' });
  });

  it('approval raises the account to P9, audits it and emails the person, all at once', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const { caseId } = await submitFor(account);
    expect(await test.idp.services.photoIdCases.decide({ caseId, reviewerAccountId: reviewer.id, decision: 'approved' })).to.equal('decided');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P9');
    expect(await test.idp.services.photoIdCases.get(caseId)).to.deep.include({ status: 'approved', reviewerAccountId: reviewer.id, decisionReason: 'approved' });
    expect(await outcomeEmails(account)).to.have.length(1);
    const audit: { type: string }[] = await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 AND type LIKE 'identity.%' ORDER BY id`, [account.id]);
    expect(audit.map((r) => r.type)).to.deep.equal(['identity.case_submitted', 'identity.case_approved', 'identity.proofed']);
    // The account can send a new case only once none is awaiting review (this one is decided).
    expect((await submitFor(account)).kind).to.equal('submitted');
  });

  it('a decline keeps the level, records the coded reason and tells the person why in plain words', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const { caseId } = await submitFor(account);
    expect(await test.idp.services.photoIdCases.decide({ caseId, reviewerAccountId: reviewer.id, decision: 'declined', reason: 'video-wrong-numbers', note: 'ticket 123' })).to.equal('decided');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
    const [email] = await outcomeEmails(account);
    expect(email).to.contain(DECLINE_REASONS['video-wrong-numbers'].text).and.not.contain('ticket 123');
  });

  it('E7: of two reviewers deciding at the same instant exactly one decision stands; nobody decides their own case', async () => {
    const other = await createAccount(test);
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const { caseId } = await submitFor(account);
    expect(await test.idp.services.photoIdCases.decide({ caseId, reviewerAccountId: account.id, decision: 'approved' })).to.equal('own-case');
    const results = await Promise.all([
      test.idp.services.photoIdCases.decide({ caseId, reviewerAccountId: reviewer.id, decision: 'approved' }),
      test.idp.services.photoIdCases.decide({ caseId, reviewerAccountId: other.id, decision: 'declined', reason: 'face-mismatch' }),
    ]);
    expect([...results].sort()).to.deep.equal(['already-decided', 'decided']);
    const decided = (await test.idp.services.photoIdCases.get(caseId))!;
    const level = (await test.idp.services.accounts.findById(account.id))!.proofingLevel;
    expect(level).to.equal(decided.status === 'approved' ? 'P9' : 'P5');
    expect(await outcomeEmails(account)).to.have.length(1);
    expect(await test.idp.services.photoIdCases.decide({ caseId: '00000000-0000-4000-8000-000000000000', reviewerAccountId: reviewer.id, decision: 'approved' })).to.equal('not-found');
  });

  it('goes with the account when it is deleted', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const { caseId } = await submitFor(account);
    const { deleteAccountRows } = await import('../../src/account/store.js');
    await test.idp.db.dataSource.transaction((manager) => deleteAccountRows(manager, account.id, test.idp.services.digest));
    expect(await test.idp.services.photoIdCases.get(caseId)).to.equal(undefined);
    expect(await test.idp.services.photoIdCases.evidence(caseId, 'photo_id')).to.equal(undefined);
  });
});
