import { expect } from 'chai';
import { DELIVERY_TIMEOUT_MS } from '../../src/notifications/adapters/index.js';
import type { Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { enterDetails, newEmail, startRegistration } from '../interactions/create-account-helpers.js';
import { createAccount, heading, startJourney, submit, TEST_PASSWORD } from '../interactions/support.js';
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

describe('G3 and G4: text message and email provider outages', () => {
  let notify: FakeNotify;
  let test: TestIdp;
  let logs: LogCapture;

  before(async function () {
    this.timeout(60_000);
    notify = await startFakeNotify();
    logs = captureLogs('warn');
    test = await startTestIdp({
      logger: logs.logger,
      env: {
        EMAIL_ADAPTER: 'notify',
        SMS_ADAPTER: 'notify',
        NOTIFY_API_KEY: notify.apiKey,
        NOTIFY_BASE_URL: notify.baseUrl,
        NOTIFY_EMAIL_TEMPLATE_ID: '11111111-1111-4111-8111-111111111111',
        NOTIFY_SMS_TEMPLATE_ID: '22222222-2222-4222-8222-222222222222',
      },
    });
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

  it('G3: with the text message provider hanging, the code page still comes back at once, nothing is marked sent, and an attempt gives up at the delivery deadline', async function () {
    this.timeout(60_000);
    notify.mode = 'hang';
    const account = await createAccount(test);
    const { page, ms, journey } = await toCodePage(account);
    expect(heading(page)).to.equal('Check your mobile phone');
    expect(ms, 'the request does not wait for the provider').to.be.below(DELIVERY_TIMEOUT_MS);

    const [queued] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(queued, 'the code is in the outbox').to.not.equal(undefined);
    expect(queued!.status).to.equal('queued');
    expect(queued!.sent_at).to.equal(null);

    // The worker's attempt is cut off at the delivery deadline and the message stays queued for a retry.
    const started = performance.now();
    await test.idp.services.notifications.deliverDue();
    expect(performance.now() - started, 'one attempt takes at most the deadline (plus a little)').to.be.below(DELIVERY_TIMEOUT_MS + 1500);
    const [afterHang] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(afterHang).to.include({ status: 'queued', attempts: 1, sent_at: null });
    expect(afterHang!.last_error).to.match(/timed out/i);
    expect(notify.received.filter((m) => m.to === account.mobileNumber), 'nothing reached the phone').to.have.length(0);

    // The provider recovers: the retry delivers, once, and the code it carries signs the person in.
    notify.mode = 'ok';
    await makeRetriesDue(test.idp.db.dataSource);
    await test.idp.services.notifications.deliverDue();
    const [sent] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(sent).to.include({ status: 'sent', attempts: 2 });
    const texts = notify.received.filter((m) => m.to === account.mobileNumber);
    expect(texts).to.have.length(1);
    const code = /\b(\d{6})\b/.exec(texts[0]!.personalisation.body ?? '')?.[1];
    expect(code, 'the delivered text carries a code').to.match(/^\d{6}$/);
    const next = await submit(journey, page, { code: code! });
    expect(next.status).to.equal(200);
    expect(heading(next), 'the delivered code is accepted: on to consent').not.to.equal('Check your mobile phone');
    expect(next.html).not.to.include('The security code is not correct');
  });

  it('G3: with the provider answering 500, the code is retried, and once it has expired it is dropped rather than sent late', async function () {
    this.timeout(60_000);
    notify.mode = 'server-error';
    const account = await createAccount(test);
    const { page } = await toCodePage(account);
    expect(heading(page)).to.equal('Check your mobile phone');
    await test.idp.services.notifications.deliverDue();
    const [failed] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(failed).to.include({ status: 'queued', attempts: 1, sent_at: null });

    // Ten minutes pass (the code's lifetime) before the provider comes back.
    await test.idp.db.dataSource.query(`UPDATE outbox_message SET deliver_before = now() - interval '1 second' WHERE id = $1`, [failed!.id]);
    notify.mode = 'ok';
    await makeRetriesDue(test.idp.db.dataSource);
    await test.idp.services.notifications.deliverDue();
    const [dropped] = await messagesTo(account.mobileNumber!, 'sign-in-security-code');
    expect(dropped, 'expired, never sent').to.include({ status: 'expired', sent_at: null });
    expect(notify.received.filter((m) => m.to === account.mobileNumber), 'no stale code reaches the phone after the outage').to.have.length(0);
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
