import { expect } from 'chai';
import { listReviewers, setReviewer } from '../../src/back-office/reviewers.js';
import { parseReviewersArgs, reviewerLine, ReviewersUsageError } from '../../src/cli/reviewers.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { addAuthenticatorApp, createAccount } from '../interactions/support.js';

describe('npm run reviewers (who may use the back office)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('adds and removes the reviewer role by email address, audited with the reason; lists reviewers and how they can sign in', async () => {
    const { dataSource, services } = { dataSource: test.idp.db.dataSource, services: test.idp.services };
    const account = await createAccount(test);
    expect(await setReviewer(dataSource, services.audit, account.email.toUpperCase(), true, 'joined the ID checking team, ticket 12')).to.equal('changed');
    expect(await setReviewer(dataSource, services.audit, account.email, true, 'again')).to.equal('unchanged');
    expect((await services.accounts.findById(account.id))!.backOfficeRole).to.equal('reviewer');
    let listed = (await listReviewers(dataSource, 1800)).find((r) => r.email === account.email)!;
    expect(listed).to.deep.equal({ email: account.email, role: 'reviewer', hasAuthenticatorApp: false, passkeys: 0, assignments: [] });
    expect(reviewerLine(listed)).to.include('cannot sign in to the back office');
    await addAuthenticatorApp(test, account);
    listed = (await listReviewers(dataSource, 1800)).find((r) => r.email === account.email)!;
    expect(reviewerLine(listed)).to.include('authenticator app');
    // The seeded reviewer persona is one too.
    expect((await listReviewers(dataSource, 1800)).map((r) => r.email)).to.include('reviewer.persona@carelogin.test');

    expect(await setReviewer(dataSource, services.audit, account.email, false, 'left the team')).to.equal('changed');
    expect((await services.accounts.findById(account.id))!.backOfficeRole).to.equal(null);
    expect((await listReviewers(dataSource, 1800)).map((r) => r.email)).to.not.include(account.email);
    const audit: { type: string; detail: Record<string, unknown> }[] = await dataSource.query(`SELECT type, detail FROM audit_event WHERE account_id = $1 AND type LIKE 'back_office.%' ORDER BY id`, [account.id]);
    expect(audit).to.deep.equal([
      { type: 'back_office.role_granted', detail: { by: 'operator', role: 'reviewer', note: 'joined the ID checking team, ticket 12' } },
      { type: 'back_office.role_revoked', detail: { by: 'operator', role: 'reviewer', note: 'left the team' } },
    ]);
    expect(await setReviewer(dataSource, services.audit, 'nobody@example.test', true, 'x')).to.equal('no-account');
  });

  it('--role support gives the support role instead (an account has one role); remove --role takes away only that role', async () => {
    const { dataSource, services } = { dataSource: test.idp.db.dataSource, services: test.idp.services };
    const account = await createAccount(test);
    expect(await setReviewer(dataSource, services.audit, account.email, true, 'reviewer first', 'reviewer')).to.equal('changed');
    expect(await setReviewer(dataSource, services.audit, account.email, true, 'moved to the support desk, ticket 31', 'support')).to.equal('changed');
    expect((await services.accounts.findById(account.id))!.backOfficeRole).to.equal('support');
    expect((await listReviewers(dataSource, 1800, 'support')).map((r) => r.email)).to.include(account.email).and.include('support.persona@carelogin.test');
    expect((await listReviewers(dataSource, 1800, 'reviewer')).map((r) => r.email)).to.not.include(account.email);
    expect(reviewerLine((await listReviewers(dataSource, 1800)).find((r) => r.email === account.email)!)).to.include('(support)');
    expect(await setReviewer(dataSource, services.audit, account.email, false, 'not a reviewer', 'reviewer')).to.equal('unchanged');
    expect(await setReviewer(dataSource, services.audit, account.email, false, 'left', 'support')).to.equal('changed');
    expect((await services.accounts.findById(account.id))!.backOfficeRole).to.equal(null);
    const audit: { type: string; detail: Record<string, unknown> }[] = await dataSource.query(`SELECT type, detail FROM audit_event WHERE account_id = $1 AND type LIKE 'back_office.role_%' ORDER BY id`, [account.id]);
    expect(audit.map((r) => [r.type, r.detail.role, r.detail.replaced])).to.deep.equal([
      ['back_office.role_granted', 'reviewer', undefined],
      ['back_office.role_granted', 'support', 'reviewer'],
      ['back_office.role_revoked', 'support', undefined],
    ]);
  });

  it('needs a command, and for add and remove an email address and a reason', () => {
    expect(() => parseReviewersArgs([])).to.throw(ReviewersUsageError);
    expect(parseReviewersArgs(['list'])).to.deep.equal({ command: 'list' });
    expect(() => parseReviewersArgs(['add', '--email', 'a@example.test'])).to.throw(ReviewersUsageError, /--reason/);
    expect(() => parseReviewersArgs(['remove', '--reason', 'x'])).to.throw(ReviewersUsageError, /--email/);
    expect(parseReviewersArgs(['add', '--email', 'a@example.test', '--reason', ' new reviewer '])).to.deep.equal({ command: 'add', email: 'a@example.test', reason: 'new reviewer', role: 'reviewer' });
    expect(parseReviewersArgs(['add', '--email', 'a@example.test', '--reason', 'support desk', '--role', 'support'])).to.deep.equal({ command: 'add', email: 'a@example.test', reason: 'support desk', role: 'support' });
    expect(parseReviewersArgs(['list', '--role', 'support'])).to.deep.equal({ command: 'list', role: 'support' });
    expect(() => parseReviewersArgs(['add', '--email', 'a@example.test', '--reason', 'x', '--role', 'admin'])).to.throw(ReviewersUsageError, /--role is reviewer or support/);
  });
});
