import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { createNotifications, type Notifications } from '../../src/notifications/outbox.js';
import { createAudit } from '../../src/security/audit.js';
import { smsDestinationPrefix } from '../../src/security/sms-throttle.js';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { emailCode, enterDetails, newEmail, startRegistration } from '../interactions/create-account-helpers.js';
import { createAccount, heading, startJourney, submit, TEST_PASSWORD } from '../interactions/support.js';

/**
 * Security-bar B4 beyond one journey: SMS pumping and toll fraud. Texts are capped per client IP and
 * per destination number block (the number without its last 4 digits) across journeys, and a daily
 * SMS budget raises one alarm across all instances. (The per-journey resend cap and the refusal of
 * premium-rate and VoIP numbers are tested in security-codes.security.test.ts and uk-mobile tests.)
 */
describe('SMS abuse across journeys (security-bar B4)', function () {
  this.timeout(120_000);

  it('takes the number block as the E.164 number without its last 4 digits', () => {
    expect(smsDestinationPrefix('+447700900123')).to.equal('+44770090');
    expect(smsDestinationPrefix('+447911230001')).to.equal(smsDestinationPrefix('+447911239999'));
    expect(smsDestinationPrefix('+447911230001')).to.not.equal(smsDestinationPrefix('+447911240001'));
  });

  describe('over HTTP', () => {
    const IP_CAP = 10;
    const PREFIX_CAP = 5;
    let test: TestIdp;

    before(async () => {
      test = await startTestIdp({
        env: { TRUST_PROXY: 'true', SMS_SENDS_PER_IP_PER_HOUR: String(IP_CAP), SMS_SENDS_PER_PREFIX_PER_HOUR: String(PREFIX_CAP) },
      });
    });
    after(async () => test?.close());

    function browserAt(ip: string): Browser {
      return new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': ip } });
    }

    async function smsTo(e164: string): Promise<number> {
      const [row]: { n: string | number }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM outbox_message WHERE recipient = $1 AND channel = 'sms'`, [e164]);
      return Number(row!.n);
    }

    async function throttledEvents(scope: 'ip' | 'prefix'): Promise<{ ip: string | null }[]> {
      return test.idp.db.dataSource.query(`SELECT ip FROM audit_event WHERE type = 'security_code.throttled' AND detail->>'scope' = $1`, [scope]);
    }

    /** A registration from `ip` up to the mobile number, which is submitted: the page after it. */
    async function registerUpToMobile(ip: string, mobile: string): Promise<Page> {
      const email = newEmail();
      const journey = await startJourney(test, { browser: browserAt(ip) });
      let page = await journey.browser.submit(journey.page, {}, { actionContains: '/create-account' });
      page = await enterDetails(journey, page, { email });
      expect(heading(page)).to.equal('Check your email');
      page = await submit(journey, page, { code: await emailCode(test, email) });
      expect(heading(page)).to.equal('Enter your mobile phone number');
      return submit(journey, page, { mobile });
    }

    it('50 registrations from one IP with 50 different mobiles: the first IP_CAP get a code, the rest get 429 and no text is queued', async () => {
      const ip = '203.0.113.50';
      // Each number in a block of its own, so only the per-IP cap can be what stops them.
      const mobiles = Array.from({ length: 50 }, (_, i) => `079${String(1000 + i).padStart(4, '0')}${String(1000 + i).slice(-4)}`);
      expect(new Set(mobiles.map((m) => smsDestinationPrefix(`+44${m.slice(1)}`))).size).to.equal(50);
      const statuses: number[] = [];
      for (const mobile of mobiles) {
        const page = await registerUpToMobile(ip, mobile);
        statuses.push(page.status);
        if (page.status === 200) expect(heading(page)).to.equal('Check your mobile phone');
        else expect(heading(page)).to.equal('Sorry, we cannot send you a security code at the moment');
      }
      expect(statuses.slice(0, IP_CAP)).to.deep.equal(Array<number>(IP_CAP).fill(200));
      expect(statuses.slice(IP_CAP)).to.deep.equal(Array<number>(50 - IP_CAP).fill(429));
      const sent = await Promise.all(mobiles.map((m) => smsTo(`+44${m.slice(1)}`)));
      expect(sent.slice(0, IP_CAP)).to.deep.equal(Array<number>(IP_CAP).fill(1));
      expect(sent.slice(IP_CAP)).to.deep.equal(Array<number>(50 - IP_CAP).fill(0));
      const events = await throttledEvents('ip');
      expect(events).to.have.length(50 - IP_CAP);
      expect(events.every((e) => e.ip === ip)).to.equal(true);

      // The cap is per IP, not global: another address still gets its code.
      const other = await registerUpToMobile('203.0.113.51', '07950009999');
      expect(other.status).to.equal(200);
      expect(await smsTo('+447950009999')).to.equal(1);
    });

    it('sign-ins from many IPs to numbers in one block: after PREFIX_CAP texts that block gets 429 and no text, other blocks are unaffected', async () => {
      const block = '+4479112345';
      const accounts = [];
      for (let i = 0; i < PREFIX_CAP + 3; i++) {
        const account = await createAccount(test);
        const mobile = `${block}${String(i).padStart(2, '0')}`;
        await test.idp.db.dataSource.query('UPDATE account SET mobile_number = $2 WHERE id = $1', [account.id, mobile]);
        accounts.push({ ...account, mobileNumber: mobile });
      }
      const statuses: number[] = [];
      for (const [i, account] of accounts.entries()) {
        const journey = await startJourney(test, { browser: browserAt(`198.18.0.${i + 1}`) });
        let page = await submit(journey, journey.page, { email: account.email });
        page = await submit(journey, page, { password: TEST_PASSWORD });
        statuses.push(page.status);
        if (page.status === 200) expect(heading(page)).to.equal('Check your mobile phone');
      }
      expect(statuses).to.deep.equal([...Array<number>(PREFIX_CAP).fill(200), 429, 429, 429]);
      const sent = await Promise.all(accounts.map((a) => smsTo(a.mobileNumber)));
      expect(sent).to.deep.equal([...Array<number>(PREFIX_CAP).fill(1), 0, 0, 0]);
      expect(await throttledEvents('prefix')).to.have.length(3);

      // A number in another block, from one of the same addresses, still gets its code.
      const elsewhere = await createAccount(test);
      const journey = await startJourney(test, { browser: browserAt('198.18.0.1') });
      let page = await submit(journey, journey.page, { email: elsewhere.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(page.status).to.equal(200);
      expect(await smsTo(elsewhere.mobileNumber!)).to.equal(1);
    });

    it('counts a resend against the IP too, and answers the resend over the cap without sending', async () => {
      const ip = '203.0.113.77';
      const account = await createAccount(test);
      const journey = await startJourney(test, { browser: browserAt(ip) });
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(page)).to.equal('Check your mobile phone');
      // Use up the rest of this IP's allowance from other journeys.
      await test.idp.db.dataSource.query(`UPDATE attempt_counter SET failures = $2 WHERE key = $1`, [`sms-sends:ip:${ip}`, IP_CAP]);
      const resent = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(pageText(resent)).to.contain('You have asked for too many new codes');
      expect(await smsTo(account.mobileNumber!)).to.equal(1);
    });

    it('keeps address keys unreadable: lockout and registration counters are keyed digests, not plain SHA-256 of the address', async () => {
      const unknown = `nobody-${Date.now()}@example.test`;
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: unknown });
      page = await submit(journey, page, { password: 'not the password at all' });
      expect(page.status).to.be.oneOf([200, 400]);
      const registered = newEmail();
      const { journey: reg, page: first } = await startRegistration(test);
      await enterDetails(reg, first, { email: registered });

      const keys = ((await test.idp.db.dataSource.query('SELECT key FROM attempt_counter')) as { key: string }[]).map((r) => r.key);
      const plain = (email: string): string => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
      expect(keys.filter((k) => k.startsWith('password:unknown:'))).to.have.length.at.least(1);
      expect(keys.filter((k) => k.startsWith('registration-emails:'))).to.have.length.at.least(1);
      for (const key of keys) {
        expect(key).to.not.contain(plain(unknown));
        expect(key).to.not.contain(plain(registered));
        expect(key).to.not.contain(unknown);
        expect(key).to.not.contain(registered);
      }
    });
  });

  describe('daily SMS budget alarm', () => {
    const BUDGET = 3;
    const MOBILE = '+447700900123';
    let testDb: TestDatabase;
    let db: Database;

    before(async () => {
      testDb = await createTestDatabase();
      db = await testDb.open(testConfig({ ...testDb.env }));
    });
    after(async () => {
      await db?.close();
      await testDb?.drop();
    });

    function instance(config: Config, capture: LogCapture, delivered: string[]): Notifications {
      const logger = createLogger({ level: 'info' }, capture);
      return createNotifications({
        config,
        logger,
        dataSource: db.dataSource,
        audit: createAudit(db.dataSource, logger),
        adapters: {
          sms: { deliver: async (message) => void delivered.push(message.id) },
          email: { deliver: async () => undefined },
        },
      });
    }

    async function enqueueTexts(outbox: Notifications, count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push(await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'mobile-changed-sms', to: MOBILE, data: {} })));
      return ids;
    }

    const alarms = (capture: LogCapture): Record<string, unknown>[] => capture.lines.map((l) => l.record).filter((r): r is Record<string, unknown> => r?.event === 'sms_daily_budget_exceeded');

    it('fires exactly once, on one of two instances delivering at once, at error level; sending goes on', async () => {
      const config = testConfig({ ...testDb.env, SMS_DAILY_BUDGET: String(BUDGET) });
      const [captureA, captureB] = [createLogCapture(), createLogCapture()];
      const delivered: string[] = [];
      const a = instance(config, captureA, delivered);
      const b = instance(config, captureB, delivered);
      const ids = await enqueueTexts(a, 2 * BUDGET + 4);
      // Both instances deliver concurrently, a few at a time, until the outbox is empty.
      for (let round = 0; round < 20; round++) {
        const attempted = await Promise.all([a.deliverDue(2), b.deliverDue(2)]);
        if (attempted.every((n) => n === 0)) break;
      }

      expect([...delivered].sort()).to.deep.equal([...ids].sort());
      const fired = [...alarms(captureA), ...alarms(captureB)];
      expect(fired).to.have.length(1);
      expect(fired[0]).to.include({ level: 'error', budget: BUDGET, count: BUDGET + 1, hardStop: false });
      const audit: unknown[] = await db.dataSource.query(`SELECT detail FROM audit_event WHERE type = 'sms.daily_budget_exceeded'`);
      expect(audit).to.have.length(1);

      // Later texts the same day raise no second alarm.
      await enqueueTexts(a, 2);
      await a.deliverDue(10);
      expect([...alarms(captureA), ...alarms(captureB)]).to.have.length(1);
    });

    it('with SMS_DAILY_BUDGET_HARD_STOP, texts over the budget are held in the outbox until the next UTC day, not handed to the provider', async () => {
      const config = testConfig({ ...testDb.env, SMS_DAILY_BUDGET: String(BUDGET), SMS_DAILY_BUDGET_HARD_STOP: 'true' });
      const capture = createLogCapture();
      const delivered: string[] = [];
      const outbox = instance(config, capture, delivered);
      // The day's count is already over the budget (previous test).
      const [id] = await enqueueTexts(outbox, 1);
      await outbox.deliverDue(10);
      expect(delivered).to.deep.equal([]);
      const [row]: { status: string; attempts: number; held_until_tomorrow: boolean }[] = await db.dataSource.query(
        `SELECT status, attempts, next_attempt_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' AS held_until_tomorrow FROM outbox_message WHERE id = $1`,
        [id],
      );
      expect(row).to.deep.equal({ status: 'queued', attempts: 0, held_until_tomorrow: true });
      // Email is never held.
      const email = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: 'someone@example.test', data: {} }));
      await outbox.deliverDue(10);
      const [sent]: { status: string }[] = await db.dataSource.query('SELECT status FROM outbox_message WHERE id = $1', [email]);
      expect(sent!.status).to.equal('sent');
    });
  });
});
