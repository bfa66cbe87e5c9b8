import { expect } from 'chai';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { ConfigError, DeliveryError } from '../../src/errors.js';
import { createNotifications, type Notifications } from '../../src/notifications/outbox.js';
import { createDeliveryAdapters, createNotifyAdapter } from '../../src/notifications/adapters/index.js';
import { startFakeNotify, type FakeNotify } from './fakes/fake-notify.js';
import { captureLogs, clearOutbox, makeRetriesDue, outboxRow } from './helpers.js';

const EMAIL_TEMPLATE = '4f8b1c0e-2a5c-4c4e-9f0a-1d2e3f4a5b6c';
const SMS_TEMPLATE = '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d';
const EMAIL = 'patient.two@example.com';
const MOBILE = '07700900456';

describe('GOV.UK Notify adapter (against a local fake of the Notify API)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let notify: FakeNotify;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    notify = await startFakeNotify();
  });

  after(async () => {
    await notify.close();
    await db.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await clearOutbox(db.dataSource);
    notify.received.length = 0;
    notify.mode = 'ok';
  });

  function notifyEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...testDb.env,
      EMAIL_ADAPTER: 'notify',
      SMS_ADAPTER: 'notify',
      NOTIFY_API_KEY: notify.apiKey,
      NOTIFY_BASE_URL: notify.baseUrl,
      NOTIFY_EMAIL_TEMPLATE_ID: EMAIL_TEMPLATE,
      NOTIFY_SMS_TEMPLATE_ID: SMS_TEMPLATE,
      ...overrides,
    };
  }

  function outbox(options: { logger?: ReturnType<typeof createLogger>; deliveryTimeoutMs?: number; env?: Record<string, string> } = {}): Notifications {
    return createNotifications({
      config: testConfig(notifyEnv(options.env)),
      logger: options.logger ?? createLogger({ level: 'silent' }),
      dataSource: db.dataSource,
      deliveryTimeoutMs: options.deliveryTimeoutMs,
    });
  }

  it('sends email and text messages through the two generic templates, referenced by our message id', async () => {
    const notifications = outbox();
    const emailId = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'email-confirmation-code', to: EMAIL, data: { code: '246810' } }));
    const smsId = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '135791' } }));
    expect(await notifications.deliverDue()).to.equal(2);

    expect(notify.unauthorised, 'every request carried a valid Notify JWT').to.equal(0);
    const email = notify.received.find((received) => received.type === 'email');
    const sms = notify.received.find((received) => received.type === 'sms');
    expect(email).to.deep.include({ templateId: EMAIL_TEMPLATE, to: EMAIL, reference: emailId });
    expect(email!.personalisation).to.have.keys(['subject', 'body']);
    expect(email!.personalisation.subject).to.equal('Confirm your email address for carelogin');
    expect(email!.personalisation.body).to.include('246810');
    expect(sms).to.deep.equal({
      type: 'sms',
      templateId: SMS_TEMPLATE,
      to: MOBILE,
      personalisation: { body: 'Your carelogin security code is 135791. It expires in 10 minutes. Do not share it with anyone.' },
      reference: smsId,
    });
    expect(await outboxRow(db.dataSource, emailId)).to.include({ status: 'sent', attempts: 1 });
    expect(await outboxRow(db.dataSource, smsId)).to.include({ status: 'sent', attempts: 1 });
  });

  it('retries when Notify answers 500, and delivers once it recovers', async () => {
    const notifications = outbox();
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
    notify.mode = 'server-error';
    await notifications.deliverDue();
    const failed = await outboxRow(db.dataSource, id);
    expect(failed).to.include({ status: 'queued', attempts: 1, sent_at: null });
    expect(failed.last_error).to.match(/answered 500/);
    notify.mode = 'ok';
    await makeRetriesDue(db.dataSource);
    await notifications.deliverDue();
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'sent', attempts: 2 });
    expect(notify.received.map((received) => received.reference)).to.deep.equal([id]);
  });

  it('retries when Notify rate-limits (429)', async () => {
    const notifications = outbox();
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
    notify.mode = 'rate-limited';
    await notifications.deliverDue();
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', attempts: 1 });
  });

  it('abandons at once when Notify refuses the request (400), without logging the recipient', async () => {
    const logs = captureLogs();
    const notifications = outbox({ logger: logs.logger });
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
    notify.mode = 'bad-request';
    await notifications.deliverDue();
    const row = await outboxRow(db.dataSource, id);
    expect(row).to.include({ status: 'abandoned', attempts: 1 });
    expect(row.last_error).to.include('answered 400').and.include('[address]').and.not.include(EMAIL);
    expect(logs.lines.some((line) => line.alert === 'outbox_message_abandoned' && line.messageId === id)).to.equal(true);
    expect(logs.raw.join('')).not.to.include(EMAIL);
  });

  it('abandons at once when the API key is wrong (403)', async () => {
    const wrongKey = `carelogin_test-${notify.serviceId}-00000000-0000-4000-8000-000000000000`;
    const notifications = outbox({ env: { NOTIFY_API_KEY: wrongKey } });
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
    await notifications.deliverDue();
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'abandoned' });
    expect(notify.unauthorised).to.be.greaterThan(0);
  });

  it('gives up on a slow Notify at the deadline and retries later', async () => {
    const notifications = outbox({ deliveryTimeoutMs: 200 });
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'sign-in-security-code', to: MOBILE, data: { code: '123456' } }));
    notify.mode = 'hang';
    const started = Date.now();
    await notifications.deliverDue();
    expect(Date.now() - started).to.be.lessThan(2000);
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'queued', attempts: 1, last_error: 'DeliveryError: Delivery timed out' });
  });

  it('retries when Notify cannot be reached at all', async () => {
    const adapter = createNotifyAdapter({ apiKey: notify.apiKey, baseUrl: 'http://127.0.0.1:9', emailTemplateId: EMAIL_TEMPLATE, smsTemplateId: SMS_TEMPLATE });
    let failure: unknown;
    try {
      await adapter.deliver({ id: 'a1', channel: 'sms', recipient: MOBILE, body: 'x' });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).to.equal(true);
    expect((failure as DeliveryError).message).to.match(/Could not reach GOV.UK Notify/);
  });

  it('stops the start when a Notify template id is missing', () => {
    expect(() => createDeliveryAdapters(testConfig(notifyEnv({ NOTIFY_SMS_TEMPLATE_ID: '' })))).to.throw(ConfigError, /NOTIFY_SMS_TEMPLATE_ID/);
    expect(() => createDeliveryAdapters(testConfig({ ...notifyEnv(), NOTIFY_EMAIL_TEMPLATE_ID: '' }))).to.throw(ConfigError, /NOTIFY_EMAIL_TEMPLATE_ID/);
    expect(() => createNotifyAdapter({})).to.throw(ConfigError, /NOTIFY_API_KEY/);
  });
});
