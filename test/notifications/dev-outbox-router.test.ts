import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { expect } from 'chai';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { ConfigError } from '../../src/errors.js';
import { createRenderer } from '../../src/web/renderer.js';
import { createNotifications, type Notifications } from '../../src/notifications/outbox.js';
import { createDevOutboxRouter, type DevOutboxMessage } from '../../src/notifications/dev-outbox-router.js';
import { clearOutbox } from './helpers.js';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const ALICE_MOBILE = '+447700900111';

const PRODUCTION_ENV = {
  CARELOGIN_ENV: 'production',
  DATABASE_URL: 'postgres://carelogin@db.internal/carelogin',
  KEYSTORE_JSON: '{"keys":[]}',
  ISSUER: 'https://login.carelogin.example',
  NOTIFY_API_KEY: 'carelogin-key',
};

describe('development outbox', () => {
  let testDb: TestDatabase;
  let db: Database;
  let server: http.Server;
  let baseUrl: string;
  let notifications: Notifications;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    const config = testConfig(testDb.env);
    notifications = createNotifications({ config, logger: createLogger({ level: 'silent' }), dataSource: db.dataSource });
    const app = new Koa();
    app.use(createDevOutboxRouter({ config, dataSource: db.dataSource, renderer: createRenderer() }).routes());
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await clearOutbox(db.dataSource);
  });

  async function seed(): Promise<{ aliceCode: string; aliceEmail: string; bobReset: string }> {
    // Separate transactions, oldest first, so "newest first" has a definite order.
    const aliceEmail = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'email-confirmation-code', to: ALICE, data: { code: '111111' } }));
    const bobReset = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'password-reset-link', to: BOB, data: { link: 'http://localhost:3000/reset/abc' } }));
    const aliceCode = await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'sign-in-security-code', to: ALICE_MOBILE, data: { code: '222222' } }));
    await notifications.deliverDue();
    return { aliceCode, aliceEmail, bobReset };
  }

  async function getJson<T>(path: string): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(`${baseUrl}${path}`, { headers: { Accept: 'application/json' } });
    return { status: response.status, body: (await response.json()) as T, headers: response.headers };
  }

  it('lists every message newest first as JSON, with the code readable', async () => {
    const ids = await seed();
    const { status, body, headers } = await getJson<{ messages: DevOutboxMessage[] }>('/dev/outbox');
    expect(status).to.equal(200);
    expect(headers.get('cache-control')).to.equal('no-store');
    expect(body.messages.map((message) => message.id)).to.deep.equal([ids.aliceCode, ids.bobReset, ids.aliceEmail]);
    const [sms, reset, email] = body.messages;
    expect(sms).to.include({ recipient: ALICE_MOBILE, channel: 'sms', template: 'sign-in-security-code', subject: null, code: '222222', status: 'sent', attempts: 1 });
    expect(sms!.body).to.include('222222');
    expect(reset).to.include({ recipient: BOB, channel: 'email', template: 'password-reset-link', subject: 'Reset your carelogin password', code: null });
    expect(reset!.body).to.include('http://localhost:3000/reset/abc');
    expect(email).to.include({ code: '111111' });
    expect(Number.isNaN(Date.parse(email!.createdAt))).to.equal(false);
    expect(Date.parse(email!.sentAt!)).to.be.at.least(Date.parse(email!.createdAt));
  });

  it('filters by recipient (?to=, ignoring case) and template', async () => {
    await seed();
    const byEmail = await getJson<{ messages: DevOutboxMessage[] }>(`/dev/outbox?to=${encodeURIComponent('ALICE@example.com')}`);
    expect(byEmail.body.messages.map((message) => message.recipient)).to.deep.equal([ALICE]);
    const byTemplate = await getJson<{ messages: DevOutboxMessage[] }>('/dev/outbox?template=password-reset-link');
    expect(byTemplate.body.messages.map((message) => message.recipient)).to.deep.equal([BOB]);
  });

  it('answers /dev/outbox/latest with the newest matching message for test automation', async () => {
    const ids = await seed();
    await db.dataSource.transaction((manager) => notifications.enqueue(manager, { template: 'sign-in-security-code', to: ALICE_MOBILE, data: { code: '333333' } }));
    const latest = await getJson<DevOutboxMessage>(`/dev/outbox/latest?to=${encodeURIComponent(ALICE_MOBILE)}`);
    expect(latest.status).to.equal(200);
    expect(latest.body).to.include({ code: '333333', status: 'queued' });
    const byTemplate = await getJson<DevOutboxMessage>(`/dev/outbox/latest?to=${ALICE}&template=email-confirmation-code`);
    expect(byTemplate.body).to.include({ id: ids.aliceEmail, code: '111111' });
    const none = await getJson<{ error: string }>(`/dev/outbox/latest?to=${encodeURIComponent('nobody@example.com')}`);
    expect(none.status).to.equal(404);
    expect(none.body.error).to.equal('not_found');
    const missing = await getJson<{ error: string }>('/dev/outbox/latest');
    expect(missing.status).to.equal(400);
  });

  it('shows an NHS-styled HTML page with the messages, newest first, working without JavaScript', async () => {
    await seed();
    const response = await fetch(`${baseUrl}/dev/outbox`, { headers: { Accept: 'text/html' } });
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/html/);
    expect(response.headers.get('cache-control')).to.equal('no-store');
    const html = await response.text();
    expect(html).to.include('<title>Development outbox – carelogin</title>');
    expect(html).to.match(/<h1 class="nhsuk-heading-l">Development outbox<\/h1>/);
    expect(html).to.include('nhsuk-summary-list').and.include('nhsuk-card').and.include('nhsuk-tag--green');
    expect(html).to.include('<form method="get" action="/dev/outbox"').and.include('name="to"');
    expect(html).to.include('<label class="nhsuk-label" for="to"');
    for (const text of [ALICE, BOB, ALICE_MOBILE, '111111', '222222', 'Reset your carelogin password', 'sign-in-security-code', 'Text message', 'Sent']) {
      expect(html).to.include(text);
    }
    expect(html.indexOf('222222'), 'newest first').to.be.lessThan(html.indexOf('111111'));
    expect(html).not.to.include('style=');
  });

  it('filters the HTML page by recipient and shows an empty state', async () => {
    await seed();
    const filtered = await (await fetch(`${baseUrl}/dev/outbox?to=${encodeURIComponent(BOB)}`)).text();
    expect(filtered).to.include(BOB).and.include('value="bob@example.com"').and.not.include('111111');
    const empty = await (await fetch(`${baseUrl}/dev/outbox?to=${encodeURIComponent('nobody@example.com')}`)).text();
    expect(empty).to.include('No messages for nobody@example.com');
  });

  it('escapes what it shows', async () => {
    await db.dataSource.query(
      `INSERT INTO outbox_message (channel, recipient, template, subject, body, next_attempt_at) VALUES ('email', $1, 'password-changed', $2, $3, now())`,
      [ALICE, '<img src=x onerror=alert(1)>', 'Line one\n<script>alert(1)</script>'],
    );
    const html = await (await fetch(`${baseUrl}/dev/outbox`)).text();
    expect(html).not.to.include('<script>alert(1)</script>').and.not.include('<img src=x');
    expect(html).to.include('&lt;script&gt;alert(1)&lt;/script&gt;').and.include('Line one<br>');
  });

  it('cannot exist in production: config refuses DEV_OUTBOX, and the router refuses a production config', () => {
    expect(() => loadConfig({ ...PRODUCTION_ENV, DEV_OUTBOX: 'true' })).to.throw(ConfigError, /DEV_OUTBOX/);
    const production = loadConfig(PRODUCTION_ENV);
    expect(production.mode).to.equal('production');
    expect(() => createDevOutboxRouter({ config: production, dataSource: db.dataSource, renderer: createRenderer() })).to.throw(ConfigError, /production/);
    // Even a config object forged to say devOutbox: true in production is refused.
    const forged = { ...production, notifications: { ...production.notifications, devOutbox: true } };
    expect(() => createDevOutboxRouter({ config: forged, dataSource: db.dataSource, renderer: createRenderer() })).to.throw(ConfigError, /production/);
  });

  it('refuses to be mounted when DEV_OUTBOX is off', () => {
    const config = testConfig({ ...testDb.env, DEV_OUTBOX: 'false' });
    expect(() => createDevOutboxRouter({ config, dataSource: db.dataSource, renderer: createRenderer() })).to.throw(ConfigError, /DEV_OUTBOX/);
  });
});
