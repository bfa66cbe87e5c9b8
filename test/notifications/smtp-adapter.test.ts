import { expect } from 'chai';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { ConfigError, DeliveryError } from '../../src/errors.js';
import { createNotifications, type Notifications } from '../../src/notifications/outbox.js';
import { createSmtpAdapter } from '../../src/notifications/adapters/index.js';
import { decodeQuotedPrintable, startFakeSmtp, type FakeSmtp } from './fakes/fake-smtp.js';
import { clearOutbox, makeRetriesDue, outboxRow } from './helpers.js';

const EMAIL = 'patient.three@example.com';
const FROM = 'carelogin <no-reply@carelogin.example>';

describe('SMTP adapter (against a local fake SMTP server)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let smtp: FakeSmtp;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    smtp = await startFakeSmtp();
  });

  after(async () => {
    await smtp.close();
    await db.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await clearOutbox(db.dataSource);
    smtp.received.length = 0;
    smtp.mode = 'ok';
  });

  function outbox(): Notifications {
    return createNotifications({
      config: testConfig({ ...testDb.env, EMAIL_ADAPTER: 'smtp', SMTP_URL: smtp.url, SMTP_FROM: FROM }),
      logger: createLogger({ level: 'silent' }),
      dataSource: db.dataSource,
    });
  }

  it('sends the rendered email as plain text, with a Message-ID made from our message id', async () => {
    const notifications = outbox();
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'email-confirmation-code', to: EMAIL, data: { code: '864213' } }));
    expect(await notifications.deliverDue()).to.equal(1);

    expect(smtp.received).to.have.length(1);
    const mail = smtp.received[0]!;
    expect(mail.from).to.equal('no-reply@carelogin.example');
    expect(mail.to).to.deep.equal([EMAIL]);
    const [headers = '', ...bodyParts] = mail.data.split('\r\n\r\n');
    const body = decodeQuotedPrintable(bodyParts.join('\r\n\r\n'));
    expect(headers).to.match(/^Subject: Confirm your email address for carelogin$/m);
    expect(headers).to.match(new RegExp(`^Message-ID: <${id}@carelogin\\.example>$`, 'mi'));
    expect(headers).to.match(new RegExp(`^X-Entity-Ref-ID: ${id}$`, 'mi'));
    expect(headers).to.match(/^Content-Type: text\/plain/m);
    expect(body).to.include('864213').and.include('expires in 10 minutes');
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'sent', attempts: 1 });
  });

  it('retries after a temporary refusal (4xx) and delivers once the relay accepts', async () => {
    const notifications = outbox();
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
    smtp.mode = 'temporary-failure';
    await notifications.deliverDue();
    const failed = await outboxRow(db.dataSource, id);
    expect(failed).to.include({ status: 'queued', attempts: 1 });
    expect(failed.last_error).to.match(/451/);
    smtp.mode = 'ok';
    await makeRetriesDue(db.dataSource);
    await notifications.deliverDue();
    expect(await outboxRow(db.dataSource, id)).to.include({ status: 'sent', attempts: 2 });
    expect(smtp.received).to.have.length(1);
  });

  it('abandons at once when the relay rejects the recipient (5xx)', async () => {
    const notifications = outbox();
    const id = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-changed', to: EMAIL, data: {} }));
    smtp.mode = 'reject-recipient';
    await notifications.deliverDue();
    const row = await outboxRow(db.dataSource, id);
    expect(row).to.include({ status: 'abandoned', attempts: 1 });
    expect(row.last_error).to.match(/550/).and.not.include(EMAIL);
  });

  it('times out on a relay that never answers, as a retryable failure', async () => {
    smtp.mode = 'silent';
    const adapter = createSmtpAdapter({ url: smtp.url, from: FROM }, { timeoutMs: 200 });
    const started = Date.now();
    let failure: unknown;
    try {
      await adapter.deliver({ id: 'b2', channel: 'email', recipient: EMAIL, subject: 'Hello', body: 'Hello' });
    } catch (error) {
      failure = error;
    } finally {
      adapter.close();
    }
    expect(Date.now() - started).to.be.lessThan(2000);
    expect(failure).to.be.instanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).to.equal(true);
  });

  it('refuses text messages and a missing SMTP_URL', async () => {
    const adapter = createSmtpAdapter({ url: smtp.url, from: FROM });
    let failure: unknown;
    try {
      await adapter.deliver({ id: 'c3', channel: 'sms', recipient: '+447700900123', body: 'x' });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).to.equal(false);
    expect(() => createSmtpAdapter({ from: FROM })).to.throw(ConfigError);
  });
});
