import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { deleteAccountRows } from '../../src/account/store.js';
import { groupedRecoveryCode } from '../../src/accounts/recovery-codes.js';
import { createLogger } from '../../src/logger.js';
import { lockoutKeys, securityCodePolicy } from '../../src/security/attempt-counters.js';
import { pageText, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { ageSignIn, outbox, signInToAccount, startAccountTestIdp } from '../account/support.js';
import { addAuthenticatorApp, codesOn, createAccount, errorSummary, heading, startJourney, submit, submitStepForm, TEST_PASSWORD, type Journey } from '../interactions/support.js';

const RECOVERY_HEADING = 'Enter a recovery code';
const USED_HEADING = 'You signed in with a recovery code';
const INCORRECT = 'The recovery code is not correct, or has already been used. Check the code and try again';

/**
 * Saved recovery codes against security-bar B7 (≥64 bits, shown once, stored hashed, used once,
 * racing uses, a new set kills the old, guessing throttled as B2, a replacement offered after use),
 * A7 (a recent sign-in to make them, and the owner told), B3 (parallel guesses never overrun the
 * limit), C5 (CSRF), F4 (never in the logs) and deletion with the account (docs/decisions.md, "Recovery codes").
 */
describe('recovery codes security', function () {
  this.timeout(120_000);
  let test: TestIdp;
  let capture: LogCapture;

  before(async () => {
    capture = createLogCapture();
    test = await startAccountTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
  });
  after(async () => test?.close());

  async function appAccount(): Promise<{ account: Account; secret: string }> {
    const account = await createAccount(test);
    return { account, secret: await addAuthenticatorApp(test, account) };
  }

  async function withCodes(): Promise<{ account: Account; codes: string[] }> {
    const { account } = await appAccount();
    return { account, codes: await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' }) };
  }

  async function atRecoveryStep(email: string): Promise<{ journey: Journey; page: Page }> {
    const journey = await startJourney(test, { params: { vtr: '["P0.Cp.Ck","P0.Cp"]' } });
    let page = await submit(journey, journey.page, { email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    page = await journey.browser.submit(page, {}, { actionContains: '/use-recovery-code' });
    expect(heading(page)).to.equal(RECOVERY_HEADING);
    return { journey, page };
  }

  async function codesLeft(accountId: string): Promise<number> {
    const [row] = await test.idp.db.dataSource.query('SELECT recovery_codes_left FROM account WHERE id = $1', [accountId]);
    return Number(row.recovery_codes_left);
  }

  /** Every place a stray copy of a code could end up: the codes table, messages, the audit trail, journeys, oidc-provider's records. */
  async function storedText(): Promise<string> {
    const parts: { text: string }[] = await test.idp.db.dataSource.query(`
      SELECT string_agg(code_hash || key_id, ' ') AS text FROM recovery_code
      UNION ALL SELECT string_agg(coalesce(subject, '') || body, ' ') FROM outbox_message
      UNION ALL SELECT string_agg(type || coalesce(detail::text, ''), ' ') FROM audit_event
      UNION ALL SELECT string_agg(facts::text, ' ') FROM journey_state
      UNION ALL SELECT string_agg(payload::text, ' ') FROM oidc_model`);
    return parts.map((p) => p.text ?? '').join('\n');
  }

  it('B7: each code has at least 64 bits from the CSPRNG (16 characters of a 32-letter alphabet), and no two are alike', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { codes } = await withCodes();
      for (const code of codes) {
        expect(code).to.match(/^[0-9A-HJKMNP-TV-Z]{16}$/);
        expect(code.length * Math.log2(32)).to.be.at.least(64);
        seen.add(code);
      }
    }
    expect(seen.size).to.equal(200);
  });

  it('B7/A7: made in Your account with a recent sign-in, shown once in that answer, stored only as keyed hashes, the owner told by email and text', async () => {
    const { account, secret } = await appAccount();
    const { browser } = await signInToAccount(test, account, { appSecret: secret });
    const page = await browser.get(`${test.url}/account/recovery-codes`);
    expect(heading(page)).to.equal('Recovery codes');
    const shown = await browser.submit(page, {}, { actionContains: '/account/recovery-codes' });
    expect(heading(shown)).to.equal('Save your recovery codes');
    const codes = codesOn(shown);
    expect(codes).to.have.length(10);

    // Never again: not on the page, not in the database in any form that can be read back.
    const again = await browser.get(`${test.url}/account/recovery-codes`);
    expect(pageText(again)).to.contain('You have 10 of 10 recovery codes left');
    const overview = await browser.get(`${test.url}/account`);
    const stored = await storedText();
    for (const code of codes) {
      for (const form of [code, groupedRecoveryCode(code)]) {
        expect(again.html).to.not.contain(form);
        expect(overview.html).to.not.contain(form);
        expect(stored).to.not.contain(form);
      }
    }
    const hashes: { code_hash: string }[] = await test.idp.db.dataSource.query('SELECT code_hash FROM recovery_code WHERE account_id = $1', [account.id]);
    expect(hashes).to.have.length(10);
    for (const { code_hash } of hashes) expect(code_hash).to.match(/^[0-9a-f]{64}$/);

    expect(await outbox(test, account.email, 'recovery-codes-changed')).to.have.length(1);
    expect(await outbox(test, account.mobileNumber!, 'recovery-codes-changed-sms')).to.have.length(1);
  });

  it('A7: making or replacing codes with a sign-in older than 15 minutes asks for a new sign-in first, and makes nothing', async () => {
    const { account, secret } = await appAccount();
    const { browser } = await signInToAccount(test, account, { appSecret: secret });
    const page = await browser.get(`${test.url}/account/recovery-codes`);
    await ageSignIn(test, account.id);
    const posted = await browser.submit(page, {}, { actionContains: '/account/recovery-codes' });
    expect(posted.url).to.contain('/interaction/');
    expect(codesOn(posted)).to.deep.equal([]);
    const viewed = await browser.get(`${test.url}/account/recovery-codes`);
    expect(viewed.url).to.contain('/interaction/');
    const [row] = await test.idp.db.dataSource.query('SELECT count(*)::int AS n FROM recovery_code WHERE account_id = $1', [account.id]);
    expect(row.n).to.equal(0);
    expect(await outbox(test, account.email, 'recovery-codes-changed')).to.have.length(0);
  });

  it('A7: an account without an authenticator app or passkey is not offered codes and cannot make them', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const page = await browser.get(`${test.url}/account/recovery-codes`);
    expect(pageText(page)).to.contain('first set up an authenticator app or create a passkey');
    const forged = { ...page, html: `${page.html}<form method="post" action="/account/recovery-codes"><input type="hidden" name="_csrf" value="${/name="_csrf" value="([^"]+)"/.exec((await browser.get(`${test.url}/account`)).html)![1]}"></form>` };
    const refused = await browser.submit(forged, {}, { actionContains: '/account/recovery-codes' });
    expect(codesOn(refused)).to.deep.equal([]);
    expect((await test.idp.db.dataSource.query('SELECT count(*)::int AS n FROM recovery_code WHERE account_id = $1', [account.id]))[0].n).to.equal(0);
  });

  it('C5: the form that makes codes, without its CSRF token, is refused and makes nothing', async () => {
    const { account, secret } = await appAccount();
    const { browser } = await signInToAccount(test, account, { appSecret: secret });
    const page = await browser.get(`${test.url}/account/recovery-codes`);
    const refused = await browser.submit(page, {}, { actionContains: '/account/recovery-codes', omit: ['_csrf'] });
    expect(refused.status).to.equal(403);
    expect((await test.idp.db.dataSource.query('SELECT count(*)::int AS n FROM recovery_code WHERE account_id = $1', [account.id]))[0].n).to.equal(0);
  });

  it('B7: a right code signs in, is spent, and the owner is told by email and text; the same code again is refused', async () => {
    const { account, codes } = await withCodes();
    const first = await atRecoveryStep(account.email);
    const used = await submit(first.journey, first.page, { code: codes[0]! });
    expect(heading(used)).to.equal(USED_HEADING);
    expect(await outbox(test, account.email, 'recovery-code-used')).to.have.length(1);
    const [sms] = await outbox(test, account.mobileNumber!, 'recovery-code-used-sms');
    expect(sms!.body).to.contain('(9 recovery codes left)');
    const audited: { type: string }[] = await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 AND type = 'recovery_code.used'`, [account.id]);
    expect(audited).to.have.length(1);

    const second = await atRecoveryStep(account.email);
    const refused = await submit(second.journey, second.page, { code: codes[0]! });
    expect(refused.status).to.equal(400);
    expect(errorSummary(refused)).to.deep.equal([INCORRECT]);
    expect(await codesLeft(account.id)).to.equal(9);
  });

  it('B7: two sign-ins racing with one code: exactly one gets in', async () => {
    const { account, codes } = await withCodes();
    const one = await atRecoveryStep(account.email);
    const two = await atRecoveryStep(account.email);
    const answers = await Promise.all([submit(one.journey, one.page, { code: codes[4]! }), submit(two.journey, two.page, { code: codes[4]! })]);
    expect(answers.map(heading).sort()).to.deep.equal([RECOVERY_HEADING, USED_HEADING].sort());
    expect(await codesLeft(account.id)).to.equal(9);
    // And at the service: twenty racing uses of one code, one success.
    const results = await Promise.all(Array.from({ length: 20 }, () => test.idp.services.recoveryCodes.use(account, codes[5]!, { ip: '127.0.0.1' })));
    expect(results.filter((r) => r.used)).to.have.length(1);
    expect(await codesLeft(account.id)).to.equal(8);
  });

  it('B7: a new set kills every old code at once', async () => {
    const { account, codes } = await withCodes();
    const fresh = await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' });
    const { journey, page } = await atRecoveryStep(account.email);
    let answer = page;
    for (const old of codes.slice(0, 3)) {
      answer = await submit(journey, answer, { code: old });
      expect(errorSummary(answer)).to.deep.equal([INCORRECT]);
    }
    expect(heading(await submit(journey, answer, { code: fresh[0]! }))).to.equal(USED_HEADING);
  });

  it('B7/B2: after 5 wrong codes the step is locked (429, CL1033) and even a right code is refused and not spent; the lock is one of the account\'s counters', async () => {
    const { account, codes } = await withCodes();
    const { journey, page } = await atRecoveryStep(account.email);
    let answer = page;
    for (let i = 0; i < 5; i++) answer = await submit(journey, answer, { code: `${String(i).repeat(4)} 0000 0000 0000` });
    expect(answer.status).to.equal(429);
    expect(heading(answer)).to.equal('You entered the wrong recovery code too many times');
    expect(pageText(answer)).to.contain('CL1033');
    const right = await journey.browser.submit({ ...answer, html: page.html }, { code: codes[0]! });
    expect(right.status).to.equal(429);
    expect(await codesLeft(account.id)).to.equal(10);
    expect(lockoutKeys.ofAccount(account.id).exact).to.include(lockoutKeys.recoveryCode(account.id));
    expect((await test.idp.services.counters.status(lockoutKeys.recoveryCode(account.id))).locked).to.equal(true);
  });

  it('B7/X8: 100 wrong codes in a row turn the codes off (CL1034) until a new set is made', async () => {
    const { account, codes } = await withCodes();
    // 99 earlier failures, each after its lock ran out (as a patient attacker would pace them).
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, consecutive_failures, window_started_at, locked_until, updated_at) VALUES ($1, 0, 99, now(), NULL, now())`,
      [lockoutKeys.recoveryCode(account.id)],
    );
    const { journey, page } = await atRecoveryStep(account.email);
    const disabled = await submit(journey, page, { code: '0000 0000 0000 0000' });
    expect(disabled.status).to.equal(429);
    expect(heading(disabled)).to.equal('You cannot sign in with a recovery code');
    expect(pageText(disabled)).to.contain('CL1034');
    const right = await submit(journey, page, { code: codes[0]! });
    expect(heading(right)).to.equal('You cannot sign in with a recovery code');
    expect(await codesLeft(account.id)).to.equal(10);
    // Rebinding: a new set starts from nothing.
    const fresh = await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' });
    expect(await test.idp.services.counters.status(lockoutKeys.recoveryCode(account.id))).to.include({ disabled: false, locked: false, consecutiveFailures: 0 });
    const retry = await atRecoveryStep(account.email);
    expect(heading(await submit(retry.journey, retry.page, { code: fresh[0]! }))).to.equal(USED_HEADING);
  });

  it('B3: twenty wrong codes sent at once are all counted, and never more than 5 are checked', async () => {
    const { account } = await withCodes();
    const journeys = await Promise.all(Array.from({ length: 4 }, () => atRecoveryStep(account.email)));
    const answers = await Promise.all(journeys.flatMap(({ journey, page }) => Array.from({ length: 5 }, (_, i) => submit(journey, page, { code: `${String(i).repeat(4)} 1111 2222 3333` }))));
    const checked: { n: number }[] = await test.idp.db.dataSource.query(`SELECT count(*)::int AS n FROM audit_event WHERE account_id = $1 AND type = 'recovery_code.failed'`, [account.id]);
    expect(checked[0]!.n).to.be.at.most(5);
    expect(answers.filter((a) => a.status === 429).length).to.be.at.least(15);
  });

  it('B7: after a code is used the sign-in offers a new set straight away, and says how many are left', async () => {
    const { account, codes } = await withCodes();
    const { journey, page } = await atRecoveryStep(account.email);
    const used = await submit(journey, page, { code: codes[1]! });
    expect(pageText(used)).to.contain('You have 9 recovery codes left');
    const fresh = await journey.browser.submit(used, {}, { actionContains: '/generate' });
    expect(codesOn(fresh)).to.have.length(10);
    expect(await outbox(test, account.email, 'recovery-codes-changed')).to.have.length(2);
    await submitStepForm(journey, fresh);
  });

  it('A7: the page after a recovery code makes no new set once the sign-in is older than 15 minutes', async () => {
    const { account, codes } = await withCodes();
    const { journey, page } = await atRecoveryStep(account.email);
    const used = await submit(journey, page, { code: codes[2]! });
    await test.idp.db.dataSource.query(
      `UPDATE journey_state SET facts = jsonb_set(facts, '{recoveryCodeUsedAt}', to_jsonb((facts->>'recoveryCodeUsedAt')::bigint - 16 * 60)) WHERE uid = $1`,
      [journey.uid],
    );
    const refused = await journey.browser.submit(used, {}, { actionContains: '/generate' });
    expect(heading(refused)).to.equal(USED_HEADING);
    expect(pageText(refused)).to.contain('It is more than 15 minutes since you signed in');
    expect(codesOn(refused)).to.deep.equal([]);
    expect(refused.html).to.not.contain('/generate');
    expect(await codesLeft(account.id)).to.equal(9);
    expect(await outbox(test, account.email, 'recovery-codes-changed')).to.have.length(1);
  });

  it('F4: no code reaches the logs, through making them in Your account and signing in with one', async () => {
    const { account, secret } = await appAccount();
    const { browser } = await signInToAccount(test, account, { appSecret: secret });
    const page = await browser.get(`${test.url}/account/recovery-codes`);
    const codes = codesOn(await browser.submit(page, {}, { actionContains: '/account/recovery-codes' }));
    const { journey, page: step } = await atRecoveryStep(account.email);
    await submit(journey, step, { code: 'ABCD EFGH JKMN PQRS' });
    await submit(journey, step, { code: groupedRecoveryCode(codes[0]!) });
    const text = capture.text();
    expect(capture.find(/audit recovery_code\.used/)).to.have.length.greaterThan(0);
    for (const code of codes) {
      expect(text).to.not.contain(code);
      expect(text).to.not.contain(groupedRecoveryCode(code));
    }
    expect(text).to.not.contain('ABCD EFGH JKMN PQRS');
  });

  it('deleting the account deletes its codes and their lockout counter', async () => {
    const { account } = await withCodes();
    await test.idp.services.counters.recordFailure(lockoutKeys.recoveryCode(account.id), securityCodePolicy(test.idp.config));
    await test.idp.db.dataSource.transaction((manager) => deleteAccountRows(manager, account.id, test.idp.services.digest));
    const [codes] = await test.idp.db.dataSource.query('SELECT count(*)::int AS n FROM recovery_code WHERE account_id = $1', [account.id]);
    const [counters] = await test.idp.db.dataSource.query('SELECT count(*)::int AS n FROM attempt_counter WHERE key = $1', [lockoutKeys.recoveryCode(account.id)]);
    expect([codes.n, counters.n]).to.deep.equal([0, 0]);
  });
});
