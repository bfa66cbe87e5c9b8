import { expect } from 'chai';
import { DELIVERY_TIMEOUT_MS } from '../../src/notifications/adapters/index.js';
import type { Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { enterDetails, newEmail, startRegistration } from '../interactions/create-account-helpers.js';
import { signInToAccount } from '../account/support.js';
import { createAccount, errorSummary, heading, startJourney, submit, TEST_PASSWORD } from '../interactions/support.js';
import { captureLogs, makeRetriesDue, type LogCapture } from '../notifications/helpers.js';
import { startFakeNotify, type FakeNotify } from '../notifications/fakes/fake-notify.js';

/**
 * security-bar G3 (SMS provider down or slow) and G4 (email provider down) over HTTP, with the real
 * GOV.UK Notify adapter talking to a fake Notify (an edge we do not own) that can fail or hang. The
 * outbox worker is driven by the test (deliverDue), and time passes by moving the rows' deadlines.
 */
interface OutboxState {
  id: string;
  status: string;
  attempts: number;
  sent_at: Date | null;
  last_error: string | null;
}

/** An IdP whose email and text messages go through the real Notify adapter to a fake Notify that can fail or hang. */
async function startWithFakeNotify(logLevel: string, env: Record<string, string>): Promise<{ notify: FakeNotify; test: TestIdp; logs: LogCapture }> {
  const notify = await startFakeNotify();
  const logs = captureLogs(logLevel);
  const test = await startTestIdp({
    logger: logs.logger,
    env: {
      EMAIL_ADAPTER: 'notify',
      SMS_ADAPTER: 'notify',
      NOTIFY_API_KEY: notify.apiKey,
      NOTIFY_BASE_URL: notify.baseUrl,
      NOTIFY_EMAIL_TEMPLATE_ID: '11111111-1111-4111-8111-111111111111',
      NOTIFY_SMS_TEMPLATE_ID: '22222222-2222-4222-8222-222222222222',
      ...env,
    },
  });
  return { notify, test, logs };
}

describe('G3 and G4: text message and email provider outages', () => {
  let notify: FakeNotify;
  let test: TestIdp;
  let logs: LogCapture;

  before(async function () {
    this.timeout(60_000);
    // These tests follow single messages through failures; the breaker has its own tests below.
    ({ notify, test, logs } = await startWithFakeNotify('warn', { DELIVERY_BREAKER_MIN_ATTEMPTS: '1000' }));
  });
  after(async () => {
    await test?.close();
    await notify?.close();
  });
  beforeEach(() => {
    notify.mode = 'ok';
  });

  async function messagesTo(recipient: string, template: string): Promise<OutboxState[]> {
    const rows: OutboxState[] = await test.idp.db.dataSource.query(
      `SELECT id, status, attempts, sent_at, last_error FROM outbox_message WHERE lower(recipient) = lower($1) AND template = $2 ORDER BY created_at, id`,
      [recipient, template],
    );
    return rows.map((row) => ({ ...row, attempts: Number(row.attempts) }));
  }

  /** Email and password of a real account: the security code page, and how long its request took. */
  async function toCodePage(account: Awaited<ReturnType<typeof createAccount>>): Promise<{ page: Page; ms: number; journey: Awaited<ReturnType<typeof startJourney>> }> {
    const journey = await startJourney(test);
    const page = await submit(journey, journey.page, { email: account.email });
    const started = performance.now();
    const codePage = await submit(journey, page, { password: TEST_PASSWORD });
    return { page: codePage, ms: performance.now() - started, journey };
  }

  /** The journey's sends against its resend allowance (security-code-sends:<purpose>:<journey>). */
  async function sendsCounted(uid: string, purpose: string): Promise<number> {
    const [row]: { failures: number | string }[] = await test.idp.db.dataSource.query('SELECT failures FROM attempt_counter WHERE key = $1', [`security-code-sends:${purpose}:${uid}`]);
    return Number(row?.failures ?? 0);
  }

  async function auditEvents(accountId: string, type: string): Promise<unknown[]> {
    return test.idp.db.dataSource.query('SELECT id FROM audit_event WHERE account_id = $1 AND type = $2', [accountId, type]);
  }

  it('G3: with the text message provider hanging, the code page says at the delivery deadline that no code could be sent; nothing is recorded as sent and the send is given back', async function () {
    this.timeout(60_000);
    notify.mode = 'hang';
    const account = await createAccount(test);
    const { page, ms, journey } = await toCodePage(account);
    expect(ms, 'the request waits for one attempt at most').to.be.below(DELIVERY_TIMEOUT_MS + 1500);
    expect(ms, 'and it did wait for that attempt').to.be.at.least(DELIVERY_TIMEOUT_MS - 500);
    expect(page.status).to.equal(503);
    expect(heading(page)).to.equal('Sorry, we could not send you a security code');
    expect(page.html).to.include('Reference: CL1080');
    expect(page.html, 'never "we have sent"').not.to.include('We have sent');

    const [dropped] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(dropped, 'dropped, never to be sent late').to.include({ status: 'expired', attempts: 1, sent_at: null });
    expect(dropped!.last_error).to.match(/timed out/i);
    expect(await sendsCounted(journey.uid, 'sign-in'), 'the failed send does not use up the allowance').to.equal(0);
    expect(await auditEvents(account.id, 'security_code.not_sent')).to.have.length(1);
    expect(await auditEvents(account.id, 'security_code.sent'), 'the code was issued, and the audit says it was not sent').to.have.length(1);

    // A reload still tells the truth.
    const again = await journey.browser.get(page.url);
    expect(heading(again)).to.equal('Sorry, we could not send you a security code');

    // The provider recovers: "Try again" sends a new code, once, and it signs the person in.
    notify.mode = 'ok';
    const retried = await journey.browser.submit(again, {}, { actionContains: '/resend' });
    expect(heading(retried)).to.equal('Check your mobile phone');
    const texts = notify.received.filter((m) => m.to === account.mobileNumber);
    expect(texts, 'the new code, delivered during the request').to.have.length(1);
    const [, sent] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(sent).to.include({ status: 'sent', attempts: 1 });
    const code = /\b(\d{6})\b/.exec(texts[0]!.personalisation.body ?? '')?.[1];
    const next = await submit(journey, retried, { code: code! });
    expect(next.status).to.equal(200);
    expect(heading(next), 'the delivered code is accepted: on to consent').not.to.equal('Check your mobile phone');
  });

  it('G3: while the provider answers 500, "Try again" never runs into the resend limit, because failed sends are given back', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const account = await createAccount(test);
    const { page, journey } = await toCodePage(account);
    expect(heading(page)).to.equal('Sorry, we could not send you a security code');
    let current = page;
    for (let attempt = 0; attempt < test.idp.config.limits.securityCodeSends + 2; attempt++) {
      current = await journey.browser.submit(current, {}, { actionContains: '/resend' });
      expect(current.status, `try ${attempt + 1}`).to.equal(503);
      expect(heading(current)).to.equal('Sorry, we could not send you a security code');
    }
    expect(await sendsCounted(journey.uid, 'sign-in')).to.equal(0);
    const rows = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(rows.map((row) => row.status), 'every failed text dropped').to.deep.equal(rows.map(() => 'expired'));
    expect(notify.received.filter((m) => m.to === account.mobileNumber)).to.have.length(0);

    notify.mode = 'ok';
    const retried = await journey.browser.submit(current, {}, { actionContains: '/resend' });
    expect(heading(retried)).to.equal('Check your mobile phone');
    expect(await sendsCounted(journey.uid, 'sign-in'), 'only the send that went counts').to.equal(1);
  });

  it('G3: the page offers the other way on: "I cannot access my mobile" sends a code by email instead', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const account = await createAccount(test);
    const { page, journey } = await toCodePage(account);
    expect(heading(page)).to.equal('Sorry, we could not send you a security code');
    const instead = await journey.browser.submit(page, {}, { actionContains: '/cannot-access-mobile' });
    expect(heading(instead)).to.equal('Check your email');
  });

  it('G3: a code text left for the worker (its instance died before trying it) is held for a claim lease, then delivered, or dropped once expired', async function () {
    this.timeout(60_000);
    const { dataSource } = test.idp.db;
    const { notifications } = test.idp.services;
    const to = '+447700900471';
    const enqueue = (deliverBefore: Date) => dataSource.transaction((manager) =>
      notifications.enqueue(manager, { template: 'sign-in-security-code', to, data: { code: '246810' }, deliverBefore, deliverAtOnce: true }));
    const live = await enqueue(new Date(Date.now() + 600_000));
    await notifications.deliverDue();
    expect((await messagesTo(to, 'sign-in-security-code'))[0], 'not taken while its sender may still try it').to.include({ id: live, status: 'queued', attempts: 0 });
    await makeRetriesDue(dataSource);
    await notifications.deliverDue();
    expect((await messagesTo(to, 'sign-in-security-code'))[0]).to.include({ id: live, status: 'sent' });

    const stale = await enqueue(new Date(Date.now() + 600_000));
    await dataSource.query(`UPDATE outbox_message SET deliver_before = now() - interval '1 second', next_attempt_at = now() WHERE id = $1`, [stale]);
    await notifications.deliverDue();
    const rows = await messagesTo(to, 'sign-in-security-code');
    expect(rows.find((row) => row.id === stale)).to.include({ status: 'expired', sent_at: null });
    expect(notify.received.filter((m) => m.to === to), 'only the live one reached the phone').to.have.length(1);
  });

  it('G3: changing the mobile number in Your account says so when the text could not be sent, and changes nothing', async function () {
    this.timeout(60_000);
    const account = await createAccount(test);
    const signedIn = await signInToAccount(test, account);
    notify.mode = 'server-error';
    const form = await signedIn.browser.get(`${test.idp.config.issuer}/account/mobile`);
    const answer = await signedIn.browser.submit(form, { mobile: '07911 123 472' });
    expect(answer.status, errorSummary(answer).join(' ')).to.equal(503);
    expect(errorSummary(answer).join(' ')).to.include('we could not send a text message to this number');
    expect(answer.html).to.include('Reference: CL1080');
    const [row]: { mobile_number: string }[] = await test.idp.db.dataSource.query('SELECT mobile_number FROM account WHERE id = $1', [account.id]);
    expect(row!.mobile_number).to.equal(account.mobileNumber);
    expect(await auditEvents(account.id, 'security_code.not_sent')).to.have.length(1);

    notify.mode = 'ok';
    const retried = await signedIn.browser.submit(answer, { mobile: '07911 123 472' });
    expect(heading(retried)).to.equal('Check your mobile phone');
    expect(notify.received.filter((m) => m.to === '+447911123472')).to.have.length(1);
  });

  it('G4: with the email provider down, registration commits the account with its confirmation email, which is delivered once the provider is back', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const email = newEmail();
    const { journey, page: first } = await startRegistration(test);
    const page = await enterDetails(journey, first, { email });
    expect(heading(page)).to.equal('Check your email');

    const [account]: { id: string; email_verified_at: Date | null }[] = await test.idp.db.dataSource.query('SELECT id, email_verified_at FROM account WHERE email_normalised = lower($1)', [email]);
    expect(account, 'the account is committed').to.not.equal(undefined);
    expect(account!.email_verified_at).to.equal(null);
    const [queued] = await messagesTo(email, 'email-confirmation-code');
    expect(queued, 'with its confirmation email in the outbox').to.include({ status: 'queued', sent_at: null });

    // Two failed attempts with backoff, then the provider is back.
    await test.idp.services.notifications.deliverDue();
    await makeRetriesDue(test.idp.db.dataSource);
    await test.idp.services.notifications.deliverDue();
    const [retried] = await messagesTo(email, 'email-confirmation-code');
    expect(retried).to.include({ status: 'queued', attempts: 2, sent_at: null });
    expect(notify.received.filter((m) => m.to === email)).to.have.length(0);

    notify.mode = 'ok';
    await makeRetriesDue(test.idp.db.dataSource);
    await test.idp.services.notifications.deliverDue();
    const [delivered] = await messagesTo(email, 'email-confirmation-code');
    expect(delivered).to.include({ status: 'sent', attempts: 3 });
    const emails = notify.received.filter((m) => m.to === email);
    expect(emails, 'delivered exactly once').to.have.length(1);
    const code = /\b(\d{6})\b/.exec(emails[0]!.personalisation.body ?? '')?.[1];
    expect(code).to.match(/^\d{6}$/);

    // The code delivered late (within its lifetime) still confirms the address.
    const next = await submit(journey, page, { code: code! });
    expect(heading(next)).to.equal('Enter your mobile phone number');
    const [confirmed]: { email_verified_at: Date | null }[] = await test.idp.db.dataSource.query('SELECT email_verified_at FROM account WHERE id = $1', [account!.id]);
    expect(confirmed!.email_verified_at).to.be.instanceOf(Date);
  });

  it('G4: a message the provider never takes is abandoned after the retry cap, with an alert, and the person can ask for the code again', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const email = newEmail();
    const { journey, page: first } = await startRegistration(test);
    const page = await enterDetails(journey, first, { email });
    expect(heading(page)).to.equal('Check your email');
    for (let attempt = 0; attempt < test.idp.config.notifications.maxAttempts; attempt++) {
      await makeRetriesDue(test.idp.db.dataSource);
      await test.idp.services.notifications.deliverDue();
    }
    const [abandoned] = await messagesTo(email, 'email-confirmation-code');
    expect(abandoned).to.include({ status: 'abandoned', attempts: test.idp.config.notifications.maxAttempts, sent_at: null });
    expect(notify.received.filter((m) => m.to === email)).to.have.length(0);
    const alerts = logs.lines.filter((line) => line.alert === 'outbox_message_abandoned' && line.messageId === abandoned!.id);
    expect(alerts, 'an alert names the abandoned message (without the address)').to.have.length(1);
    expect(JSON.stringify(alerts[0])).not.to.include(email);

    // The provider is back; the person asks for a new code, which is delivered and confirms the address.
    notify.mode = 'ok';
    const resent = await journey.browser.submit(page, {}, { actionContains: '/resend' });
    expect(heading(resent)).to.equal('Check your email');
    await test.idp.services.notifications.deliverDue();
    const emails = notify.received.filter((m) => m.to === email);
    expect(emails, 'the new code, once').to.have.length(1);
    const code = /\b(\d{6})\b/.exec(emails[0]!.personalisation.body ?? '')?.[1];
    const next = await submit(journey, resent, { code: code! });
    expect(heading(next)).to.equal('Enter your mobile phone number');
  });

  it('G4: the account and its confirmation email commit together: when the outbox insert fails, no account is left behind', async function () {
    this.timeout(60_000);
    const email = newEmail();
    const db = test.idp.db.dataSource;
    // A fault at the outbox (the second write of the registration), injected by the database itself.
    await db.query(`CREATE FUNCTION g4_refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF lower(NEW.recipient) = lower('${email}') THEN RAISE EXCEPTION 'simulated outbox failure'; END IF;
        RETURN NEW;
      END $$`);
    await db.query('CREATE TRIGGER g4_refuse_outbox BEFORE INSERT ON outbox_message FOR EACH ROW EXECUTE FUNCTION g4_refuse_outbox()');
    try {
      const { journey, page: first } = await startRegistration(test);
      const failed = await enterDetails(journey, first, { email });
      expect(failed.status).to.be.at.least(500);
    } finally {
      await db.query('DROP TRIGGER g4_refuse_outbox ON outbox_message');
      await db.query('DROP FUNCTION g4_refuse_outbox()');
    }
    const accounts: unknown[] = await db.query('SELECT id FROM account WHERE email_normalised = lower($1)', [email]);
    expect(accounts, 'no account without its email').to.have.length(0);
    expect(await messagesTo(email, 'email-confirmation-code')).to.have.length(0);
  });
});

describe('G3: the circuit breaker in front of the text message provider', () => {
  let notify: FakeNotify;
  let test: TestIdp;
  let logs: LogCapture;

  before(async function () {
    this.timeout(60_000);
    // Long enough that a slow, shared machine still asks inside it; the test waits it out once.
    ({ notify, test, logs } = await startWithFakeNotify('info', { DELIVERY_BREAKER_MIN_ATTEMPTS: '2', DELIVERY_BREAKER_OPEN_SECONDS: '4' }));
  });
  after(async () => {
    await test?.close();
    await notify?.close();
  });

  /** A journey up to its password page; `codePage` sends the password. */
  async function toPasswordPage(): Promise<{ page: Page; journey: Awaited<ReturnType<typeof startJourney>> }> {
    const account = await createAccount(test);
    const journey = await startJourney(test);
    return { page: await submit(journey, journey.page, { email: account.email }), journey };
  }

  async function codePage(ready?: Awaited<ReturnType<typeof toPasswordPage>>): Promise<{ page: Page; ms: number; journey: Awaited<ReturnType<typeof startJourney>> }> {
    const { page, journey } = ready ?? (await toPasswordPage());
    const started = performance.now();
    const codePage = await submit(journey, page, { password: TEST_PASSWORD });
    return { page: codePage, ms: performance.now() - started, journey };
  }

  it('opens after repeated failures: people are told at once, the provider is left alone and queued messages keep their attempts; after the open time one trial closes it again', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const third = await toPasswordPage();
    for (let i = 0; i < 2; i++) expect(heading((await codePage()).page)).to.equal('Sorry, we could not send you a security code');
    const opened = logs.lines.filter((line) => line.alert === 'delivery_breaker_open' && line.channel === 'sms');
    expect(opened, 'one alert when it opens').to.have.length(1);
    expect(opened[0]!.level).to.equal('error');

    // Open: the next person is told without a request to the provider.
    const before = notify.attempts;
    const { page: refused, ms, journey } = await codePage(third);
    expect(heading(refused)).to.equal('Sorry, we could not send you a security code');
    expect(notify.attempts, 'no request while open').to.equal(before);
    expect(ms).to.be.below(DELIVERY_TIMEOUT_MS);

    // The worker does not spend a queued message's attempts on an open breaker.
    const { dataSource } = test.idp.db;
    const queued = await dataSource.transaction((manager) => test.idp.services.notifications.enqueue(manager, { template: 'mobile-changed-sms', to: '+447911123480', data: {} }));
    await test.idp.services.notifications.deliverDue();
    const [waiting]: { status: string; attempts: number }[] = await dataSource.query('SELECT status, attempts FROM outbox_message WHERE id = $1', [queued]);
    expect(waiting).to.deep.include({ status: 'queued' });
    expect(Number(waiting!.attempts)).to.equal(0);

    // The provider is back; after the open time the trial goes through and the breaker closes.
    notify.mode = 'ok';
    await new Promise((resolve) => setTimeout(resolve, 4100));
    const retried = await journey.browser.submit(refused, {}, { actionContains: '/resend' });
    expect(heading(retried)).to.equal('Check your mobile phone');
    expect(logs.lines.some((line) => line.channel === 'sms' && /circuit breaker closed/.test(String(line.msg)))).to.equal(true);
    await test.idp.services.notifications.deliverDue();
    const [delivered]: { status: string }[] = await dataSource.query('SELECT status FROM outbox_message WHERE id = $1', [queued]);
    expect(delivered!.status, 'the queued message goes once the breaker has closed').to.equal('sent');
  });

  it('does not count a permanent refusal (a number the provider will never take) as the provider failing', async function () {
    this.timeout(60_000);
    notify.mode = 'bad-request';
    const before = logs.lines.filter((line) => line.alert === 'delivery_breaker_open').length;
    for (let i = 0; i < 3; i++) expect(heading((await codePage()).page)).to.equal('Sorry, we could not send you a security code');
    expect(logs.lines.filter((line) => line.alert === 'delivery_breaker_open')).to.have.length(before);
    notify.mode = 'ok';
    expect(heading((await codePage()).page), 'still closed').to.equal('Check your mobile phone');
  });
});
