import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { startLogoutReceiver, verifyLogoutToken, type LogoutReceiver } from '../helpers/logout-receiver.js';
import { captureLogs, clearOutbox, makeRetriesDue, outboxRow, outboxRows, type LogCapture } from '../notifications/helpers.js';
import type { LogoutTarget } from '../../src/provider/logout.js';

const RP_ORIGIN = 'http://localhost:9';
const SESSIONS_RP = 'sessions-rp';
const SUB_ONLY_RP = 'sub-only-rp';

/**
 * Back-channel logout tokens go through the transactional outbox (D13): recorded with the change
 * that ends the sessions, tried at once after the commit, retried by the worker, given up after
 * BACKCHANNEL_LOGOUT_RETRY_SECONDS. Real HTTP receivers stand in for the services.
 */
describe('back-channel logout delivery (outbox)', function () {
  this.timeout(30_000);
  let receiver: LogoutReceiver;
  let subOnly: LogoutReceiver;
  let logs: LogCapture;
  let test: TestIdp;
  let statuses: number[];

  before(async () => {
    receiver = await startLogoutReceiver();
    statuses = receiver.statuses;
    subOnly = await startLogoutReceiver();
    logs = captureLogs('info');
    test = await startTestIdp({
      logger: logs.logger,
      // The logout channel is not capped by OUTBOX_MAX_ATTEMPTS: only its retry window bounds it.
      env: { OUTBOX_MAX_ATTEMPTS: '2', BACKCHANNEL_LOGOUT_RETRY_SECONDS: '3600' },
      rp: { clientId: SESSIONS_RP, redirectUri: `${RP_ORIGIN}/callback`, backchannelLogoutUri: receiver.uri, backchannelLogoutSessionRequired: true },
      extraClients: [
        { clientId: SUB_ONLY_RP, redirectUri: `${RP_ORIGIN}/sub-only`, backchannelLogoutUri: subOnly.uri },
        { clientId: 'quiet-rp', redirectUri: `${RP_ORIGIN}/quiet` },
      ],
    });
  });
  after(async () => {
    await test.close();
    await receiver.close();
    await subOnly.close();
  });
  beforeEach(async () => {
    await clearOutbox(test.idp.db.dataSource);
    receiver.tokens.length = 0;
    subOnly.tokens.length = 0;
    statuses.length = 0;
    logs.lines.length = 0;
    logs.raw.length = 0;
  });

  /** Records logout tokens as the callers do: in a transaction of their own. */
  function enqueue(idp: TestIdp, sub: string, targets: LogoutTarget[]): Promise<string[]> {
    return idp.idp.db.dataSource.transaction((manager) => idp.idp.services.backchannelLogout.enqueue(manager, sub, targets));
  }

  it('records only the service, sub and sid in the transaction, and sends a signed token at once after the commit', async () => {
    const sub = randomUUID();
    const sid = 'session-one';
    const [id, other, ...rest] = await enqueue(test, sub, [
      { clientId: SESSIONS_RP, sid },
      { clientId: SESSIONS_RP, sid }, // the same session twice: one token
      { clientId: SUB_ONLY_RP },
      { clientId: 'quiet-rp', sid: 'no-uri' }, // registered no back-channel URI
      { clientId: SESSIONS_RP }, // needs a sid and has none (Back-Channel Logout §2.6)
    ]);
    expect(rest, 'one row per service that takes tokens').to.deep.equal([]);
    expect(receiver.tokens, 'nothing is sent before deliverNow').to.deep.equal([]);

    const row = await outboxRow(test.idp.db.dataSource, id!);
    expect(row).to.include({ channel: 'backchannel-logout', template: 'backchannel-logout', recipient: SESSIONS_RP, sub, sid, subject: null, body: null, account_id: null, status: 'queued', attempts: 0 });
    // Its give-up time is BACKCHANNEL_LOGOUT_RETRY_SECONDS away (database time).
    const window = (new Date(row.deliver_before!).getTime() - new Date(row.created_at).getTime()) / 1000;
    expect(window).to.be.closeTo(3600, 2);

    await test.idp.services.backchannelLogout.deliverNow([id!, other!]);
    const [token] = await receiver.waitFor(1);
    expect(await verifyLogoutToken(token!, test.url, SESSIONS_RP)).to.include({ sub, sid });
    const [subToken] = await subOnly.waitFor(1);
    const subClaims = await verifyLogoutToken(subToken!, test.url, SUB_ONLY_RP);
    expect(subClaims.sub).to.equal(sub);
    expect(subClaims).not.to.have.property('sid');
    expect((await outboxRow(test.idp.db.dataSource, id!)).status).to.equal('sent');
    const delivered = logs.lines.filter((l) => l.msg === 'outbox message delivered');
    expect(delivered.map((l) => l.clientId)).to.have.members([SESSIONS_RP, SUB_ONLY_RP]);
  });

  it('records nothing when the transaction that ends the sessions rolls back', async () => {
    const failed = await test.idp.db.dataSource.transaction(async (manager) => {
      await test.idp.services.backchannelLogout.enqueue(manager, randomUUID(), [{ clientId: SESSIONS_RP, sid: 'rolled-back' }]);
      throw new Error('the sign-out failed');
    }).then(() => undefined, (error: unknown) => error);
    expect((failed as Error).message).to.equal('the sign-out failed');
    expect(await outboxRows(test.idp.db.dataSource)).to.deep.equal([]);
  });

  it('retries when the service first answers 500, and delivers a fresh token when it answers 200', async () => {
    statuses.push(500);
    const sub = randomUUID();
    const [id] = await enqueue(test, sub, [{ clientId: SESSIONS_RP, sid: 'retry-me' }]);
    await test.idp.services.backchannelLogout.deliverNow([id!]);
    const failed = await outboxRow(test.idp.db.dataSource, id!);
    expect(failed).to.include({ status: 'queued', attempts: 1, last_error: 'DeliveryError: the service answered HTTP 500' });
    expect(failed.due_in_seconds, 'backoff before the retry').to.be.greaterThan(10);
    expect(logs.lines.find((l) => l.msg === 'outbox delivery failed; will retry')).to.include({ clientId: SESSIONS_RP, attempt: 1 });

    expect(await test.idp.services.notifications.deliverDue(), 'not due yet').to.equal(0);
    await makeRetriesDue(test.idp.db.dataSource);
    expect(await test.idp.services.notifications.deliverDue()).to.equal(1);
    expect(await outboxRow(test.idp.db.dataSource, id!)).to.include({ status: 'sent', attempts: 2, last_error: null });
    const tokens = await receiver.waitFor(2);
    const [first, second] = await Promise.all(tokens.map((t) => verifyLogoutToken(t, test.url, SESSIONS_RP)));
    expect(second).to.include({ sub, sid: 'retry-me' });
    expect(second!.jti, 'signed at send time: each attempt is a new token').not.to.equal(first!.jti);
  });

  it('counts a 400 as a failure (the service could not log out) and a network error too', async () => {
    statuses.push(400);
    const [id] = await enqueue(test, randomUUID(), [{ clientId: SESSIONS_RP, sid: 'bad-request' }]);
    await test.idp.services.backchannelLogout.deliverNow([id!]);
    expect(await outboxRow(test.idp.db.dataSource, id!)).to.include({ status: 'queued', last_error: 'DeliveryError: the service answered HTTP 400' });

    const gone = await startLogoutReceiver();
    await gone.close();
    const unreachable = await startTestIdp({
      db: test.db,
      env: { BACKCHANNEL_LOGOUT_RETRY_SECONDS: '3600' },
      rp: { clientId: 'gone-rp', redirectUri: `${RP_ORIGIN}/gone`, backchannelLogoutUri: gone.uri },
    });
    try {
      const [lost] = await enqueue(unreachable, randomUUID(), [{ clientId: 'gone-rp' }]);
      await unreachable.idp.services.backchannelLogout.deliverNow([lost!]);
      const row = await outboxRow(test.idp.db.dataSource, lost!);
      expect(row.status).to.equal('queued');
      expect(row.last_error).to.match(/^DeliveryError: could not reach the service/);
    } finally {
      await unreachable.close();
    }
  });

  it('gives up once BACKCHANNEL_LOGOUT_RETRY_SECONDS have passed (not after OUTBOX_MAX_ATTEMPTS), with an alert that holds no token', async () => {
    receiver.tokens.length = 0;
    statuses.push(503, 503, 503, 503);
    const [id] = await enqueue(test, randomUUID(), [{ clientId: SESSIONS_RP, sid: 'never-accepted' }]);
    await test.idp.services.backchannelLogout.deliverNow([id!]);
    for (let round = 0; round < 3; round++) {
      await makeRetriesDue(test.idp.db.dataSource);
      await test.idp.services.notifications.deliverDue();
    }
    expect(await outboxRow(test.idp.db.dataSource, id!), 'past OUTBOX_MAX_ATTEMPTS=2 and still retried').to.include({ status: 'queued', attempts: 4 });

    // The retry window runs out.
    await test.idp.db.dataSource.query(`UPDATE outbox_message SET deliver_before = now() - interval '1 second', next_attempt_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect(await test.idp.services.notifications.deliverDue()).to.equal(0);
    expect(await outboxRow(test.idp.db.dataSource, id!)).to.include({ status: 'abandoned', attempts: 4 });
    const alert = logs.lines.find((l) => l.alert === 'outbox_message_abandoned');
    expect(alert).to.include({ level: 'error', channel: 'backchannel-logout', clientId: SESSIONS_RP, messageId: id });
    expect(receiver.tokens).to.have.length(4);
    const written = logs.raw.join('');
    for (const token of receiver.tokens) expect(written).not.to.include(token.split('.')[2]!);
    expect(written).not.to.include('logout_token');
    expect(written, 'nor the service\'s URI').not.to.include(receiver.uri);
  });

  it('abandons at once a token for a service that no longer takes them', async () => {
    const [id] = await enqueue(test, randomUUID(), [{ clientId: SESSIONS_RP, sid: 'unregistered-later' }]);
    // As if the registration had changed since: the row names a client oidc-provider does not know.
    await test.idp.db.dataSource.query(`UPDATE outbox_message SET recipient = 'removed-rp' WHERE id = $1`, [id]);
    await test.idp.services.backchannelLogout.deliverNow([id!]);
    expect(await outboxRow(test.idp.db.dataSource, id!)).to.include({ status: 'abandoned', attempts: 1 });
    expect(receiver.tokens).to.deep.equal([]);
  });

  it('still delivers after a crash between the commit and the first attempt (another instance\'s worker sends it)', async () => {
    const sub = randomUUID();
    // Committed, but the instance "crashes" before deliverNow.
    const [id] = await enqueue(test, sub, [{ clientId: SESSIONS_RP, sid: 'crashed' }]);
    const restarted = await startTestIdp({ db: test.db, dataDir: test.dataDir, background: true, env: { OUTBOX_POLL_MS: '50' } });
    try {
      const [token] = await receiver.waitFor(1);
      expect(await verifyLogoutToken(token!, restarted.url, SESSIONS_RP)).to.include({ sub, sid: 'crashed' });
      expect(await outboxRow(test.idp.db.dataSource, id!)).to.include({ status: 'sent', attempts: 1 });
    } finally {
      await restarted.close();
    }
  });

  it('never delivers a row twice when two instances\' workers race for them', async () => {
    const slow = await startLogoutReceiver({ delayMs: 30 });
    const first = await startTestIdp({
      db: test.db,
      rp: { clientId: 'race-rp', redirectUri: `${RP_ORIGIN}/race`, backchannelLogoutUri: slow.uri, backchannelLogoutSessionRequired: true },
    });
    const second = await startTestIdp({ db: test.db, dataDir: first.dataDir });
    try {
      const sub = randomUUID();
      const sids = Array.from({ length: 30 }, (_, i) => `race-${i}`);
      const ids = await enqueue(first, sub, sids.map((sid) => ({ clientId: 'race-rp', sid })));
      expect(ids).to.have.length(30);
      // Both instances drain the same rows at once, in small batches, until none is left.
      const drain = async (idp: TestIdp): Promise<void> => {
        while ((await idp.idp.services.notifications.deliverDue(4)) > 0) { /* next batch */ }
      };
      await Promise.all([drain(first), drain(second), drain(first), drain(second)]);
      // (Each instance signs with its own issuer URL here; the sid tells the rows apart.)
      const received = slow.tokens.map((t) => decodeJwt(t).sid);
      expect(received).to.have.length(30);
      expect(new Set(received)).to.have.property('size', 30);
      const rows = (await outboxRows(test.idp.db.dataSource)).filter((r) => ids.includes(r.id));
      expect(rows.every((r) => r.status === 'sent' && r.attempts === 1), JSON.stringify(rows.map((r) => [r.status, r.attempts]))).to.equal(true);
    } finally {
      await second.close();
      await first.close();
      await slow.close();
    }
  });

  it('cancelling a held mobile change records the tokens with the cancellation, and the services hear at once', async () => {
    const account = await createAccount(test);
    await signIn(test, { email: account.email, password: TEST_PASSWORD }, { rp: test.rps.get(SUB_ONLY_RP)!, browser: new Browser({ stopAt: RP_ORIGIN }), params: { vtr: '["P0.Cp.Cd"]' } });
    await test.idp.db.dataSource.transaction((manager) => test.idp.services.mobileChanges.hold(manager, { accountId: account.id, email: account.email, oldMobile: null, newMobile: '+447700900555' }));
    await clearOutbox(test.idp.db.dataSource);

    expect(await test.idp.services.mobileChanges.cancelHeldFor(account.id, {})).to.equal(true);
    const [token] = await subOnly.waitFor(1);
    expect((await verifyLogoutToken(token!, test.url, SUB_ONLY_RP)).sub).to.equal(account.id);
    const logouts = (await outboxRows(test.idp.db.dataSource)).filter((r) => r.channel === 'backchannel-logout');
    expect(logouts.map((r) => [r.recipient, r.sub, r.status])).to.deep.equal([[SUB_ONLY_RP, account.id, 'sent']]);
  });

  it('at /logout, records the token from oidc-provider\'s hook, so a service that is down still hears later', async () => {
    const p5 = PERSONAS.find((p) => p.key === 'p5')!;
    const browser = new Browser({ stopAt: RP_ORIGIN });
    const result = await signIn(test, { email: p5.email, password: p5.password, code: '190696' }, { browser, params: { vtr: '["P5.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(result.callbackUrl, result.request);
    const { sid, sub } = decodeJwt(tokens.id_token!) as { sid: string; sub: string };

    statuses.push(500);
    const confirm = await browser.get(`${test.url}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`);
    await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    const [row] = (await outboxRows(test.idp.db.dataSource)).filter((r) => r.recipient === SESSIONS_RP);
    expect(row).to.include({ channel: 'backchannel-logout', sub, sid, status: 'queued', attempts: 1 });
    await makeRetriesDue(test.idp.db.dataSource);
    await test.idp.services.notifications.deliverDue();
    const received = await receiver.waitFor(2);
    expect(await verifyLogoutToken(received[1]!, test.url, SESSIONS_RP)).to.include({ sub, sid });
    expect((await outboxRow(test.idp.db.dataSource, row!.id)).status).to.equal('sent');
  });
});
