import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { CareloginError, DeliveryError } from '../../src/errors.js';
import {
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
  REMOVED_BODY,
  RETENTION_DAYS,
  createNotifications,
  retryDelayMs,
  type Notifications,
  type NotificationsDeps,
} from '../../src/notifications/outbox.js';
import { captureLogs, clearOutbox, makeRetriesDue, outboxRow, outboxRows, scriptedProvider } from './helpers.js';

const silent = createLogger({ level: 'silent' });
const EMAIL = 'patient.one@example.com';
const MOBILE = '+447700900123';

describe('notifications outbox', () => {
  let testDb: TestDatabase;
  let db: Database;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
  });

  after(async () => {
    await db.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await clearOutbox(db.dataSource);
  });

  function notifications(overrides: Partial<NotificationsDeps> = {}, env: Record<string, string> = {}): Notifications {
    return createNotifications({ config: testConfig({ ...testDb.env, ...env }), logger: silent, dataSource: db.dataSource, ...overrides });
  }

  describe('enqueue', () => {
    it('writes the rendered message in the caller\'s transaction', async () => {
      const outbox = notifications();
      const deliverBefore = new Date(Date.now() + 10 * 60_000);
      const id = await db.dataSource.transaction((manager) =>
        outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' }, deliverBefore }),
      );
      const row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ channel: 'sms', recipient: MOBILE, template: 'sign-in-security-code', subject: null, status: 'queued', attempts: 0, account_id: null, sent_at: null });
      expect(row.body).to.equal('Your carelogin security code is 123456. It expires in 10 minutes. Do not share it with anyone.');
      expect(new Date(row.deliver_before!).getTime()).to.equal(deliverBefore.getTime());
      expect(row.due_in_seconds).to.be.at.most(0);
    });

    it('leaves no message behind when the transaction rolls back', async () => {
      const outbox = notifications();
      let enqueued: string | undefined;
      try {
        await db.dataSource.transaction(async (manager) => {
          enqueued = await outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} });
          throw new Error('the change that needed the message failed');
        });
        expect.fail('the transaction should have failed');
      } catch (error) {
        expect((error as Error).message).to.equal('the change that needed the message failed');
      }
      expect(enqueued).to.be.a('string');
      expect(await outboxRows(db.dataSource)).to.deep.equal([]);
    });

    it('records the account and uses the email subject', async () => {
      const outbox = notifications();
      const accountId = '5b0c2c34-3c8b-4f61-9d5a-0c6f4f0c1d11';
      const id = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {}, accountId }));
      const row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ channel: 'email', account_id: accountId, subject: 'Your carelogin password has been changed' });
      expect(row.body).to.include('http://localhost:3000/help');
    });

    it('refuses a recipient that does not fit the channel, and writes nothing', async () => {
      const outbox = notifications();
      for (const [template, to] of [['sign-in-security-code', EMAIL], ['password-changed', MOBILE], ['password-changed', 'a@b.c\r\nBcc: x@y.z']] as const) {
        try {
          await db.dataSource.transaction((manager) =>
            template === 'sign-in-security-code'
              ? outbox.enqueue(manager, { template, to, data: { code: '123456' } })
              : outbox.enqueue(manager, { template, to, data: {} }),
          );
          expect.fail(`${to} should have been refused for ${template}`);
        } catch (error) {
          expect(error).to.be.instanceOf(CareloginError);
          expect((error as CareloginError).code).to.equal('outbox_message_invalid');
        }
      }
      expect(await outboxRows(db.dataSource)).to.deep.equal([]);
    });

    it('refuses a link that does not lead to the service itself', async () => {
      const outbox = notifications({}, { ISSUER: 'https://login.carelogin.example' });
      let refused: unknown;
      try {
        await db.dataSource.transaction((manager) =>
          outbox.enqueue(manager, { template: 'password-reset-link', to: EMAIL, data: { link: 'https://login.carelogin.example.evil.test/reset/abc' } }),
        );
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(CareloginError);
      const id = await db.dataSource.transaction((manager) =>
        outbox.enqueue(manager, { template: 'password-reset-link', to: EMAIL, data: { link: 'https://login.carelogin.example/reset/abc' } }),
      );
      expect((await outboxRows(db.dataSource)).map((row) => row.id)).to.deep.equal([id]);
    });

    it('types the data by template (checked by tsc)', () => {
      const outbox = notifications();
      // Never called: these lines exist for the type checker.
      const typeChecks = (manager: Parameters<Notifications['enqueue']>[0]): unknown[] => [
        outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '1' } }),
        // @ts-expect-error the reset email needs a link
        outbox.enqueue(manager, { template: 'password-reset-link', to: EMAIL, data: { code: '1' } }),
        // @ts-expect-error no such template
        outbox.enqueue(manager, { template: 'free-text', to: EMAIL, data: {} }),
      ];
      expect(typeChecks).to.be.a('function');
    });
  });

  describe('deliverDue', () => {
    async function enqueueCode(outbox: Notifications, options: { deliverBefore?: Date; to?: string } = {}): Promise<string> {
      return db.dataSource.transaction((manager) =>
        outbox.enqueue(manager, { template: 'sign-in-security-code', to: options.to ?? MOBILE, data: { code: '123456' }, deliverBefore: options.deliverBefore }),
      );
    }

    it('with the dev outbox adapter, marks messages sent and keeps them readable', async () => {
      const outbox = notifications();
      const id = await enqueueCode(outbox);
      const mail = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'account-deleted', to: EMAIL, data: {} }));
      expect(await outbox.deliverDue()).to.equal(2);
      for (const messageId of [id, mail]) {
        const row = await outboxRow(db.dataSource, messageId);
        expect(row.status).to.equal('sent');
        expect(row.attempts).to.equal(1);
        expect(row.sent_at).to.be.instanceOf(Date);
        expect(row.body).to.include('carelogin');
      }
      expect(await outbox.deliverDue()).to.equal(0);
    });

    it('hands the adapter for the channel the rendered message with our id as its reference', async () => {
      const email = scriptedProvider();
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { email, sms } });
      const smsId = await enqueueCode(outbox);
      const emailId = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'email-confirmation-code', to: EMAIL, data: { code: '654321' } }));
      await outbox.deliverDue();
      expect(sms.calls).to.deep.equal([{ id: smsId, channel: 'sms', recipient: MOBILE, body: 'Your carelogin security code is 123456. It expires in 10 minutes. Do not share it with anyone.' }]);
      expect(email.calls).to.have.length(1);
      expect(email.calls[0]).to.include({ id: emailId, channel: 'email', recipient: EMAIL, subject: 'Confirm your email address for carelogin' });
      expect(email.calls[0]!.body).to.include('654321');
    });

    it('retries with exponential backoff, then delivers', async () => {
      const sms = scriptedProvider('accept', [new DeliveryError('provider answered 500', true), new DeliveryError('provider answered 503', true)]);
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox);

      expect(await outbox.deliverDue()).to.equal(1);
      let row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ status: 'queued', attempts: 1, last_error: 'DeliveryError: provider answered 500' });
      expect(row.due_in_seconds).to.be.within(RETRY_BASE_DELAY_MS / 2000 - 1, RETRY_BASE_DELAY_MS / 1000 + 1);
      expect(await outbox.deliverDue(), 'not due again before the backoff').to.equal(0);

      await makeRetriesDue(db.dataSource);
      expect(await outbox.deliverDue()).to.equal(1);
      row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ status: 'queued', attempts: 2 });
      expect(row.due_in_seconds, 'second delay doubles').to.be.within(RETRY_BASE_DELAY_MS / 1000 - 1, (2 * RETRY_BASE_DELAY_MS) / 1000 + 1);

      await makeRetriesDue(db.dataSource);
      expect(await outbox.deliverDue()).to.equal(1);
      row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ status: 'sent', attempts: 3, last_error: null });
      expect(sms.calls.map((call) => call.id)).to.deep.equal([id, id, id]);
    });

    it('computes jittered, capped delays', () => {
      expect(retryDelayMs(1, () => 0)).to.equal(RETRY_BASE_DELAY_MS / 2);
      expect(retryDelayMs(1, () => 1)).to.equal(RETRY_BASE_DELAY_MS);
      expect(retryDelayMs(3, () => 1)).to.equal(RETRY_BASE_DELAY_MS * 4);
      expect(retryDelayMs(40, () => 1)).to.equal(RETRY_MAX_DELAY_MS);
      const spread = new Set(Array.from({ length: 20 }, () => retryDelayMs(2)));
      expect(spread.size).to.be.greaterThan(1);
    });

    it('abandons after the configured number of attempts and raises an alert without the recipient', async () => {
      const logs = captureLogs();
      const sms = scriptedProvider(new DeliveryError(`provider unavailable for ${MOBILE}`, true));
      const outbox = notifications({ adapters: { sms }, logger: logs.logger }, { OUTBOX_MAX_ATTEMPTS: '3' });
      const id = await enqueueCode(outbox);
      for (let attempt = 1; attempt <= 3; attempt++) {
        expect(await outbox.deliverDue()).to.equal(1);
        await makeRetriesDue(db.dataSource);
      }
      const row = await outboxRow(db.dataSource, id);
      expect(row).to.include({ status: 'abandoned', attempts: 3 });
      expect(row.last_error).to.equal('DeliveryError: provider unavailable for [number]');
      expect(await outbox.deliverDue()).to.equal(0);
      expect(sms.calls).to.have.length(3);

      const alerts = logs.lines.filter((line) => line.alert === 'outbox_message_abandoned');
      expect(alerts).to.have.length(1);
      expect(alerts[0]).to.include({ level: 'error', messageId: id, template: 'sign-in-security-code', channel: 'sms', attempts: 3 });
      const everything = logs.raw.join('');
      expect(everything).not.to.include('7700900123');
      expect(everything).not.to.include('123456');
    });

    it('abandons at once on a permanent error', async () => {
      const logs = captureLogs();
      const email = scriptedProvider(new DeliveryError('mailbox does not exist', false));
      const outbox = notifications({ adapters: { email }, logger: logs.logger });
      const id = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      expect(await outbox.deliverDue()).to.equal(1);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'abandoned', attempts: 1, last_error: 'DeliveryError: mailbox does not exist' });
      await makeRetriesDue(db.dataSource);
      expect(await outbox.deliverDue()).to.equal(0);
      expect(email.calls).to.have.length(1);
      expect(logs.lines.filter((line) => line.alert === 'outbox_message_abandoned' && line.level === 'error')).to.have.length(1);
      expect(logs.raw.join('')).not.to.include(EMAIL);
    });

    it('treats an unexpected adapter error as retryable', async () => {
      const email = scriptedProvider('accept', [new TypeError('socket hang up')]);
      const outbox = notifications({ adapters: { email } });
      const id = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', last_error: 'TypeError: socket hang up' });
    });

    it('never delivers a message whose deadline has passed', async () => {
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox, { deliverBefore: new Date(Date.now() - 1000) });
      expect(await outbox.deliverDue()).to.equal(0);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'expired', sent_at: null });
      expect(sms.calls).to.deep.equal([]);
    });

    it('drops a failed code message once its code has expired, instead of sending it late', async () => {
      const sms = scriptedProvider('accept', [new DeliveryError('provider answered 500', true)]);
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox, { deliverBefore: new Date(Date.now() + 60_000) });
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', attempts: 1 });
      // The provider recovers only after the code has expired.
      await db.dataSource.query(`UPDATE outbox_message SET deliver_before = now() - interval '1 second' WHERE id = $1`, [id]);
      await makeRetriesDue(db.dataSource);
      expect(await outbox.deliverDue()).to.equal(0);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'expired', attempts: 1 });
      expect(sms.calls).to.have.length(1);
    });

    it('gives each attempt a deadline, aborts the adapter and retries later', async () => {
      const sms = scriptedProvider('accept', ['hang']);
      const outbox = notifications({ adapters: { sms }, deliveryTimeoutMs: 150 });
      const id = await enqueueCode(outbox);
      const started = Date.now();
      expect(await outbox.deliverDue()).to.equal(1);
      expect(Date.now() - started).to.be.lessThan(2000);
      expect(sms.aborted.map((message) => message.id)).to.deep.equal([id]);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', attempts: 1, last_error: 'DeliveryError: Delivery timed out' });
      await makeRetriesDue(db.dataSource);
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'sent', attempts: 2 });
    });

    it('stops waiting at the deadline even if an adapter ignores the abort', async () => {
      const sms = scriptedProvider('accept', [() => new Promise<void>(() => undefined)]);
      const outbox = notifications({ adapters: { sms }, deliveryTimeoutMs: 100 });
      const id = await enqueueCode(outbox);
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', last_error: 'DeliveryError: Delivery timed out' });
    });

    it('retries a message whose sender died mid-send once its claim runs out', async () => {
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox);
      // What a crashed instance leaves: claimed, attempt counted, lease still running.
      await db.dataSource.query(`UPDATE outbox_message SET status = 'processing', attempts = 1, next_attempt_at = now() + interval '30 seconds' WHERE id = $1`, [id]);
      expect(await outbox.deliverDue(), 'a live claim is left alone').to.equal(0);
      expect(sms.calls).to.have.length(0);
      await db.dataSource.query(`UPDATE outbox_message SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [id]);
      expect(await outbox.deliverDue()).to.equal(1);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'sent', attempts: 2 });
      expect(sms.calls.map((call) => call.id)).to.deep.equal([id]);
    });

    it('abandons an interrupted message that has no attempts left', async () => {
      const logs = captureLogs();
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { sms }, logger: logs.logger }, { OUTBOX_MAX_ATTEMPTS: '2' });
      const id = await enqueueCode(outbox);
      await db.dataSource.query(`UPDATE outbox_message SET status = 'processing', attempts = 2, next_attempt_at = now() - interval '1 second' WHERE id = $1`, [id]);
      expect(await outbox.deliverDue()).to.equal(0);
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'abandoned', attempts: 2 });
      expect(sms.calls).to.have.length(0);
      expect(logs.lines.some((line) => line.alert === 'outbox_message_abandoned' && line.messageId === id)).to.equal(true);
    });

    it('does not overwrite the outcome once another instance has reclaimed the message', async () => {
      const logs = captureLogs();
      let id = '';
      const sms = scriptedProvider('accept', [async () => {
        // While this attempt is in flight its lease runs out and another instance claims the row.
        await db.dataSource.query(`UPDATE outbox_message SET attempts = attempts + 1 WHERE id = $1`, [id]);
        throw new DeliveryError('provider answered 500', true);
      }]);
      const outbox = notifications({ adapters: { sms }, logger: logs.logger });
      id = await enqueueCode(outbox);
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'processing', attempts: 2, last_error: null });
      expect(logs.lines.some((line) => line.messageId === id && String(line.msg).includes('reclaimed'))).to.equal(true);
    });

    it('claims at most `limit` messages per call', async () => {
      const outbox = notifications();
      for (let index = 0; index < 5; index++) await enqueueCode(outbox);
      expect(await outbox.deliverDue(2)).to.equal(2);
      expect(await outbox.deliverDue(2)).to.equal(2);
      expect(await outbox.deliverDue(2)).to.equal(1);
      expect((await outboxRows(db.dataSource)).every((row) => row.status === 'sent')).to.equal(true);
    });

    it('delivers each message once when two instances race for the same rows', async function () {
      this.timeout(60_000);
      // A second, independent connection pool: on PostgreSQL this is a real concurrent session;
      // on PGlite statements from both interleave on the one session.
      const otherDb = await testDb.open();
      try {
        const delivered: string[] = [];
        const slowProvider = (): ReturnType<typeof scriptedProvider> => scriptedProvider(async (message) => {
          delivered.push(message.id);
          await sleep(5);
        });
        const a = createNotifications({ config: testConfig(testDb.env), logger: silent, dataSource: db.dataSource, adapters: { sms: slowProvider() } });
        const b = createNotifications({ config: testConfig(testDb.env), logger: silent, dataSource: otherDb.dataSource, adapters: { sms: slowProvider() } });
        const ids: string[] = [];
        for (let index = 0; index < 60; index++) ids.push(await enqueueCode(a, { to: `+4477009${String(index).padStart(5, '0')}` }));

        let attempted = 0;
        const drain = async (instance: Notifications): Promise<void> => {
          for (;;) {
            const count = await instance.deliverDue(7);
            attempted += count;
            if (count === 0) return;
          }
        };
        await Promise.all([drain(a), drain(b), drain(a), drain(b)]);

        expect(delivered).to.have.length(60);
        expect(new Set(delivered).size).to.equal(60);
        expect(attempted).to.equal(60);
        const rows = await outboxRows(db.dataSource);
        expect(rows.every((row) => row.status === 'sent' && row.attempts === 1)).to.equal(true);
        expect(rows.map((row) => row.id).sort()).to.deep.equal([...ids].sort());
      } finally {
        await otherDb.close();
      }
    });
  });

  describe('deliverNow (a journey that must say at once whether a code went)', () => {
    async function enqueueCode(outbox: Notifications): Promise<string> {
      return db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
    }

    it('sends the message straight away and reports sent', async () => {
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox);
      expect(await outbox.deliverNow(id)).to.equal('sent');
      expect(sms.calls.map((call) => call.id)).to.deep.equal([id]);
      expect(await outbox.deliverNow(id), 'never twice').to.equal('sent');
      expect(sms.calls).to.have.length(1);
    });

    it('reports queued when the provider is down, so the page can say the code was not sent', async () => {
      const sms = scriptedProvider(new DeliveryError('provider answered 500', true));
      const outbox = notifications({ adapters: { sms } });
      const id = await enqueueCode(outbox);
      expect(await outbox.deliverNow(id)).to.equal('queued');
      expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', attempts: 1, sent_at: null });
    });

    it('reports abandoned on a permanent failure', async () => {
      const outbox = notifications({ adapters: { sms: scriptedProvider(new DeliveryError('not a mobile number', false)) } });
      expect(await outbox.deliverNow(await enqueueCode(outbox))).to.equal('abandoned');
    });

    it('refuses an id that is not in the outbox', async () => {
      const outbox = notifications();
      let failure: unknown;
      try {
        await outbox.deliverNow('00000000-0000-4000-8000-000000000000');
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(CareloginError);
    });
  });

  describe('secrets at rest', () => {
    it('outside development, removes codes and reset links from the table once they are no longer needed', async () => {
      const sms = scriptedProvider('accept', [new DeliveryError('provider answered 500', true)]);
      const email = scriptedProvider();
      const outbox = notifications({ adapters: { sms, email } }, { DEV_OUTBOX: 'false' });
      const code = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
      const reset = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-reset-link', to: EMAIL, data: { link: 'http://localhost:3000/reset/secret-token' } }));
      const notice = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      const stale = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'mobile-confirmation-code', to: MOBILE, data: { code: '654321' }, deliverBefore: new Date(Date.now() - 1000) }));
      await outbox.deliverDue();

      expect((await outboxRow(db.dataSource, code)).body, 'kept while a retry still needs it').to.include('123456');
      expect(await outboxRow(db.dataSource, reset)).to.include({ status: 'sent', body: REMOVED_BODY });
      expect(await outboxRow(db.dataSource, stale)).to.include({ status: 'expired', body: REMOVED_BODY });
      expect((await outboxRow(db.dataSource, notice)).body, 'messages without secrets are kept').to.include('password for your carelogin account has been changed');

      await makeRetriesDue(db.dataSource);
      await outbox.deliverDue();
      expect(await outboxRow(db.dataSource, code)).to.include({ status: 'sent', body: REMOVED_BODY });
      expect(sms.calls[1]!.body, 'the retry still had the code to send').to.include('123456');
    });

    it('in development, keeps bodies so the dev outbox can show them', async () => {
      const outbox = notifications();
      const id = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
      await outbox.deliverDue();
      expect((await outboxRow(db.dataSource, id)).body).to.include('123456');
    });

    it('deletes finished messages after the retention period', async () => {
      const outbox = notifications({}, { OUTBOX_POLL_MS: '20' });
      const old = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      const oldQueued = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      const recent = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
      await outbox.deliverDue(1);
      await db.dataSource.query(`UPDATE outbox_message SET status = 'sent', created_at = now() - $2::double precision * interval '1 day' WHERE id = $1`, [old, RETENTION_DAYS + 1]);
      await db.dataSource.query(`UPDATE outbox_message SET created_at = now() - $2::double precision * interval '1 day', next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [oldQueued, RETENTION_DAYS + 1]);
      outbox.startWorker();
      try {
        for (let wait = 0; wait < 100 && (await outboxRows(db.dataSource)).some((row) => row.id === old); wait++) await sleep(10);
      } finally {
        await outbox.stopWorker();
      }
      const ids = (await outboxRows(db.dataSource)).map((row) => row.id);
      expect(ids).not.to.include(old);
      expect(ids, 'unfinished messages are never purged').to.include(oldQueued);
      expect(ids).to.include(recent);
    });
  });

  describe('worker', () => {
    it('delivers in the background and, on stop, lets the batch in flight finish', async () => {
      let release!: () => void;
      const inDelivery = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const deliveryStarted = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const sms = scriptedProvider('accept', [async () => {
        entered();
        await inDelivery;
      }]);
      const outbox = notifications({ adapters: { sms } }, { OUTBOX_POLL_MS: '20' });
      const first = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
      outbox.startWorker();
      outbox.startWorker(); // idempotent
      await deliveryStarted;

      const stopped = outbox.stopWorker();
      let stopResolved = false;
      void stopped.then(() => {
        stopResolved = true;
      });
      await sleep(50);
      expect(stopResolved, 'stop waits for the batch in flight').to.equal(false);
      release();
      await stopped;
      expect(await outboxRow(db.dataSource, first)).to.include({ status: 'sent' });

      const second = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '654321' } }));
      await sleep(120);
      expect(await outboxRow(db.dataSource, second), 'no polling after stop').to.include({ status: 'queued' });
    });

    it('keeps polling after the database fails, and says so once', async () => {
      const logs = captureLogs();
      const broken = await testDb.open();
      const outbox = createNotifications({ config: testConfig({ ...testDb.env, OUTBOX_POLL_MS: '10' }), logger: logs.logger, dataSource: broken.dataSource });
      await broken.close();
      outbox.startWorker();
      await sleep(100);
      await outbox.stopWorker();
      const warnings = logs.lines.filter((line) => String(line.msg).includes('could not read the outbox'));
      expect(warnings).to.have.length(1);
    });

    it('picks up new messages on the next poll', async () => {
      const sms = scriptedProvider();
      const outbox = notifications({ adapters: { sms } }, { OUTBOX_POLL_MS: '20' });
      outbox.startWorker();
      try {
        const id = await db.dataSource.transaction((manager) => outbox.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
        for (let wait = 0; wait < 100 && sms.calls.length === 0; wait++) await sleep(10);
        expect(sms.calls.map((call) => call.id)).to.deep.equal([id]);
      } finally {
        await outbox.stopWorker();
      }
    });
  });
});
