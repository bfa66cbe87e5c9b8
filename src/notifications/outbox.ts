import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { CareloginError, DeliveryError } from '../errors.js';
import { isEmailAddress } from '../accounts/email-address.js';
import { queryRows } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Audit } from '../security/audit.js';
import { countSmsHandOff } from '../security/sms-throttle.js';
import type { OutboxChannel, OutboxStatus } from '../../entities/outbox-message.js';
import { TEMPLATES, TEMPLATE_IDS, renderTemplate, type Channel, type RenderContext, type TemplateData, type TemplateId } from './templates.js';
import { createDeliveryAdapters } from './adapters/index.js';
import { BreakerOpenError, createDeliveryBreaker, type DeliveryBreaker } from './delivery-breaker.js';
import { DELIVERY_TIMEOUT_MS, safeErrorText, timeoutError, type DeliverableMessage, type DeliveryAdapters } from './adapters/delivery-adapter.js';

export type { DeliveryAdapter, DeliveryAdapters, DeliverableMessage, LogoutDeliveryAdapter, LogoutNotice } from './adapters/delivery-adapter.js';
export type { TemplateId, TemplateData } from './templates.js';
export type { OutboxChannel, OutboxStatus } from '../../entities/outbox-message.js';

/** The outbox channel (and template) of back-channel logout tokens. */
export const BACKCHANNEL_LOGOUT = 'backchannel-logout';

/** A back-channel logout token to send: who is signed out where. The token itself is made at send time. */
export interface OutgoingLogout {
  readonly clientId: string;
  readonly sub: string;
  readonly sid?: string;
}

export interface OutgoingMessage<T extends TemplateId = TemplateId> {
  template: T;
  to: string;
  data: TemplateData<T>;
  accountId?: string | null;
  /** Drop instead of delivering after this time (security codes: their expiry). */
  deliverBefore?: Date;
  /**
   * The caller will try it with `deliverNow` once its transaction has committed (a security code
   * text, G3), so the worker leaves it alone for a claim lease: it only steps in if that caller
   * died first.
   */
  deliverAtOnce?: boolean;
}

/** How `deliverNow` treats a failed attempt. */
export interface DeliverNowOptions {
  /**
   * Drop the message instead of queueing a retry (it becomes 'expired'), for a security code the
   * person is told could not be sent: they ask again, and a late text would only confuse (G3).
   */
  readonly dropIfNotSent?: boolean;
}

export interface Notifications {
  /** Renders and inserts the message in the caller's transaction, so it commits (or not) with the change that needs it. Returns the message id. */
  enqueue<T extends TemplateId>(manager: EntityManager, message: OutgoingMessage<T>): Promise<string>;
  /**
   * Inserts a back-channel logout token to send, in the caller's transaction (D13). It is retried
   * until BACKCHANNEL_LOGOUT_RETRY_SECONDS have passed, with no attempt cap. Returns its id.
   */
  enqueueLogout(manager: EntityManager, logout: OutgoingLogout): Promise<string>;
  /** Delivers due messages once (for tests and the worker). Returns how many were attempted. */
  deliverDue(limit?: number): Promise<number>;
  /**
   * Tries one committed message now, within the per-attempt deadline, and says how it went, for
   * a journey that must tell the person straight away when a code could not be sent (security-bar
   * G3). 'queued' means it failed and will be retried ('expired' instead with `dropIfNotSent`);
   * 'processing' that another instance has it. While the channel's circuit breaker is open it
   * fails at once. Call it after the enqueuing transaction has committed.
   */
  deliverNow(id: string, options?: DeliverNowOptions): Promise<OutboxStatus>;
  startWorker(): void;
  /** Stops polling, lets the in-flight batch finish (graceful shutdown). */
  stopWorker(): Promise<void>;
}

export interface NotificationsDeps {
  config: Config;
  logger: Logger;
  dataSource: DataSource;
  /** Replaces the adapters config would choose (tests, or a custom provider). */
  adapters?: Partial<DeliveryAdapters>;
  /** Per-attempt deadline; tests shorten it. Never more than DELIVERY_TIMEOUT_MS. */
  deliveryTimeoutMs?: number;
  /** Records sms.daily_budget_exceeded (B4). */
  audit?: Audit;
}

/**
 * How long a claimed message stays reserved for the instance that claimed it. An instance that dies
 * mid-send loses its claim after this, and another one retries the message (at-least-once: the
 * provider may then see it twice, with the same reference). Far longer than a batch can take.
 */
export const CLAIM_LEASE_MS = 60_000;
/** Backoff after the first failure; doubles per attempt, with jitter, up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 30_000;
export const RETRY_MAX_DELAY_MS = 60 * 60_000;
export const DEFAULT_BATCH_SIZE = 20;
const MAX_BATCH_SIZE = 500;
/** Delivered, expired and abandoned messages are deleted after this (data minimisation). */
export const RETENTION_DAYS = 30;
const PURGE_EVERY_MS = 60 * 60_000;
/** What replaces a body that carried a security code or reset link once it is no longer needed. */
export const REMOVED_BODY = '[removed after delivery: it contained a security code or link]';
const SECRET_TEMPLATES: string[] = TEMPLATE_IDS.filter((id) => TEMPLATES[id].secret);

/**
 * Delay before retry number `attempt + 1`, after `attempt` failed attempts: exponential, with
 * "equal jitter" (half fixed, half random) so instances that failed together do not retry together,
 * yet every retry waits at least half the nominal delay.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const nominal = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

interface ClaimedRow {
  id: string;
  channel: OutboxChannel;
  recipient: string;
  template: string;
  subject: string | null;
  body: string | null;
  attempts: number;
  deliver_before: Date | string | null;
  sub: string | null;
  sid: string | null;
}

interface StatusRow {
  id: string;
  template: string;
  channel: OutboxChannel;
  recipient: string;
  attempts: number;
}

const CLAIMED_COLUMNS = 'id, channel, recipient, template, subject, body, attempts, deliver_before, sub, sid';

/**
 * Who a row is for, as it may be logged: a message's id, template and channel; a logout token's
 * service too (a client_id, not personal). Never a recipient address, a body or a token.
 */
function about(row: StatusRow | ClaimedRow): Record<string, unknown> {
  const fields: Record<string, unknown> = { messageId: row.id, template: row.template, channel: row.channel };
  if (row.channel === BACKCHANNEL_LOGOUT) fields.clientId = row.recipient;
  return fields;
}

/** SQL for the terminal sweeps: $1 whether to scrub, $2 the secret templates, $3 the placeholder. */
const SCRUB_BODY = `body = CASE WHEN $1::boolean AND template = ANY($2::text[]) THEN $3::text ELSE body END`;

const PHONE_PATTERN = /^\+?[0-9][0-9 ]{6,19}$/;
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s<>"]+/gi;

/** The transactional outbox for email and text messages (security-bar §5, G3, G4). */
export function createNotifications(deps: NotificationsDeps): Notifications {
  const { config, logger, dataSource, audit } = deps;
  const log = logger.child({ component: 'outbox' });
  const adapters = createDeliveryAdapters(config, deps.adapters);
  const maxAttempts = config.notifications.maxAttempts;
  // Only the channels this instance can deliver are claimed (a logout row waits for one with the provider).
  const channels: OutboxChannel[] = ['email', 'sms', ...(adapters.backchannelLogout ? [BACKCHANNEL_LOGOUT] as const : [])];
  // One provider per channel, so one breaker each. Logout tokens go to each service's own
  // endpoint: one service being down says nothing about the others, so they have none.
  const breakers: Record<'email' | 'sms', DeliveryBreaker> = {
    email: createDeliveryBreaker({ channel: 'email', ...config.notifications.breaker, logger: log }),
    sms: createDeliveryBreaker({ channel: 'sms', ...config.notifications.breaker, logger: log }),
  };
  /** The channels to claim now: not one whose provider's breaker is open (its attempts would be spent untried). */
  const claimableChannels = (): OutboxChannel[] => channels.filter((channel) => channel === BACKCHANNEL_LOGOUT || breakers[channel].accepting);
  const timeoutMs = Math.min(deps.deliveryTimeoutMs ?? DELIVERY_TIMEOUT_MS, DELIVERY_TIMEOUT_MS);
  const context: RenderContext = {
    securityCodeMinutes: Math.max(1, Math.round(config.ttl.securityCode / 60)),
    serviceUrl: config.issuer,
    resetLinkMinutes: Math.max(1, Math.round(config.ttl.resetLink / 60)),
  };
  const serviceOrigin = new URL(config.issuer).origin;
  // Outside development nobody needs to read a code or reset link after it has gone, and anyone who
  // can read the table (a backup, a support query) must not be able to use one.
  const scrubSecrets = !config.notifications.devOutbox;

  async function enqueue<T extends TemplateId>(manager: EntityManager, message: OutgoingMessage<T>): Promise<string> {
    const rendered = renderTemplate(message.template, message.data, context);
    assertRecipient(rendered.channel, message.to);
    assertOnlyOwnLinks(`${rendered.subject ?? ''}\n${rendered.body}`, serviceOrigin, message.template);
    const id = randomUUID();
    // DB time (now()) for scheduling, so instances with skewed clocks agree on what is due.
    await queryRows(
      manager,
      `INSERT INTO outbox_message (id, channel, recipient, template, subject, body, status, attempts, next_attempt_at, deliver_before, account_id)
       VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, now() + $9::double precision * interval '1 millisecond', $7, $8)`,
      [id, rendered.channel, message.to, message.template, rendered.subject ?? null, rendered.body, message.deliverBefore ?? null, message.accountId ?? null, message.deliverAtOnce ? CLAIM_LEASE_MS : 0],
    );
    return id;
  }

  async function enqueueLogout(manager: EntityManager, logout: OutgoingLogout): Promise<string> {
    const id = randomUUID();
    // Only who and where: the token is built and signed when it is sent. Its give-up time is DB time too.
    await queryRows(
      manager,
      `INSERT INTO outbox_message (id, channel, recipient, template, subject, body, status, attempts, next_attempt_at, deliver_before, account_id, sub, sid)
       VALUES ($1, $2, $3, $2, NULL, NULL, 'queued', 0, now(), now() + $4::double precision * interval '1 second', NULL, $5, $6)`,
      [id, BACKCHANNEL_LOGOUT, logout.clientId, config.notifications.backchannelLogoutRetrySeconds, logout.sub, logout.sid ?? null],
    );
    return id;
  }

  /**
   * Rows whose send deadline passed are dropped, never delivered late (a stale code is only
   * confusing). A logout token's deadline is its retry window: missing it is a failure, so abandoned.
   */
  async function expireStale(): Promise<void> {
    const rows = await update<StatusRow>(
      `UPDATE outbox_message
          SET status = CASE WHEN channel = $4 THEN 'abandoned' ELSE 'expired' END,
              last_error = COALESCE(last_error, 'not delivered before its deadline'), ${SCRUB_BODY}
       WHERE deliver_before <= now()
         AND (status = 'queued' OR (status = 'processing' AND next_attempt_at <= now()))
       RETURNING id, template, channel, recipient, attempts`,
      [scrubSecrets, SECRET_TEMPLATES, REMOVED_BODY, BACKCHANNEL_LOGOUT],
    );
    for (const row of rows) {
      if (row.channel === BACKCHANNEL_LOGOUT) alertAbandoned(row, 'retried for BACKCHANNEL_LOGOUT_RETRY_SECONDS without success');
      else log.info({ ...about(row), attempts: row.attempts }, 'outbox message expired before it could be delivered');
    }
  }

  /** Claims that ran out (an instance died mid-send) with no attempts left, or rows left over after maxAttempts was lowered. */
  async function abandonExhausted(): Promise<void> {
    const rows = await update<StatusRow>(
      `UPDATE outbox_message SET status = 'abandoned', last_error = COALESCE(last_error, 'delivery was interrupted and no attempts are left'), ${SCRUB_BODY}
       WHERE status IN ('queued', 'processing') AND next_attempt_at <= now() AND attempts >= $4 AND channel <> $5
       RETURNING id, template, channel, recipient, attempts`,
      [scrubSecrets, SECRET_TEMPLATES, REMOVED_BODY, maxAttempts, BACKCHANNEL_LOGOUT],
    );
    for (const row of rows) alertAbandoned(row, 'no attempts left');
  }

  /**
   * One statement claims due rows: the subquery locks them (skipping rows another instance is
   * claiming right now) and the UPDATE moves them to 'processing' with a lease, so two instances
   * never get the same row. `attempts` is counted at claim time so a message that crashes the
   * process is still capped, and it doubles as a fencing token for the updates that follow.
   * Logout tokens are capped by their deadline instead (BACKCHANNEL_LOGOUT_RETRY_SECONDS).
   */
  async function claim(limit: number): Promise<ClaimedRow[]> {
    return update<ClaimedRow>(
      `UPDATE outbox_message
          SET status = 'processing', attempts = attempts + 1,
              next_attempt_at = now() + $2::double precision * interval '1 millisecond'
        WHERE id IN (
          SELECT id FROM outbox_message
           WHERE status IN ('queued', 'processing') AND next_attempt_at <= now()
             AND channel = ANY($4::text[])
             AND (attempts < $3 OR channel = $5)
             AND (deliver_before IS NULL OR deliver_before > now())
           ORDER BY next_attempt_at
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
        RETURNING ${CLAIMED_COLUMNS}`,
      [limit, CLAIM_LEASE_MS, maxAttempts, claimableChannels(), BACKCHANNEL_LOGOUT],
    );
  }

  async function finish(row: ClaimedRow, status: OutboxStatus, fields: { lastError?: string; retryInMs?: number }): Promise<boolean> {
    const sets = ['status = $3'];
    const params: unknown[] = [row.id, row.attempts, status];
    if (status === 'sent') sets.push('sent_at = now()', 'last_error = NULL');
    if (fields.lastError !== undefined) {
      params.push(fields.lastError);
      sets.push(`last_error = $${params.length}`);
    }
    if (status !== 'queued' && scrubSecrets && row.body !== null && SECRET_TEMPLATES.includes(row.template)) {
      params.push(REMOVED_BODY);
      sets.push(`body = $${params.length}`);
    }
    if (fields.retryInMs !== undefined) {
      params.push(fields.retryInMs);
      sets.push(`next_attempt_at = now() + $${params.length}::double precision * interval '1 millisecond'`);
    }
    const updated = await update<{ id: string }>(
      `UPDATE outbox_message SET ${sets.join(', ')} WHERE id = $1 AND status = 'processing' AND attempts = $2 RETURNING id`,
      params,
    );
    if (updated.length === 0) {
      // Our lease ran out and another instance took the message over; its outcome stands.
      log.warn({ ...about(row), attempt: row.attempts, outcome: status }, 'outbox message was reclaimed by another instance before this attempt finished');
      return false;
    }
    return true;
  }

  function alertAbandoned(row: StatusRow, reason: string): void {
    // Error level so monitoring pages someone: a person did not get a message they needed, or a
    // service was never told to end a session.
    log.error({ alert: 'outbox_message_abandoned', ...about(row), attempts: row.attempts, reason }, 'outbox message abandoned: it will not be delivered');
  }

  /**
   * The daily SMS budget (B4). Counted when a text is handed to the adapter, not when it is
   * enqueued: hand-offs are what the provider bills (a retry after a timeout may be billed again;
   * an expired code is never sent), and the worker counts outside any request's transaction, so
   * the one shared row per day is never held locked while a sign-in's transaction runs.
   * Crossing the budget raises one alarm (one instance, one line); sending goes on unless
   * SMS_DAILY_BUDGET_HARD_STOP holds texts back until the next UTC day.
   */
  async function withinSmsBudget(row: ClaimedRow): Promise<boolean> {
    const budget = config.limits.smsDailyBudget;
    const counted = await countSmsHandOff(dataSource, budget);
    if (counted.crossed) {
      const hardStop = config.limits.smsDailyBudgetHardStop;
      // Error level, so monitoring pages someone: texts cost money and pumping is how it leaks.
      log.error({ event: 'sms_daily_budget_exceeded', alert: 'sms_daily_budget_exceeded', budget, count: counted.count, hardStop }, 'daily SMS budget exceeded');
      await audit?.record('sms.daily_budget_exceeded', { detail: { budget, count: counted.count, hardStop } });
    }
    if (!counted.over || !config.limits.smsDailyBudgetHardStop) return true;
    // Held, not failed: the attempt is given back and the row waits for the next UTC day (codes
    // past their deadline expire as usual).
    const held = await update<{ id: string }>(
      `UPDATE outbox_message SET status = 'queued', attempts = attempts - 1, last_error = 'held: daily SMS budget reached',
              next_attempt_at = (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
        WHERE id = $1 AND status = 'processing' AND attempts = $2 RETURNING id`,
      [row.id, row.attempts],
    );
    if (held.length === 1) log.warn({ messageId: row.id, template: row.template }, 'text message held: daily SMS budget reached');
    return false;
  }

  /** The adapter call for a claimed row: a rendered message, or a logout token to build and send. */
  function send(row: ClaimedRow, signal: AbortSignal): Promise<void> {
    if (row.channel === BACKCHANNEL_LOGOUT) {
      // Claimed only when this instance has the adapter (see `channels`).
      return adapters.backchannelLogout!.deliver({ id: row.id, clientId: row.recipient, sub: row.sub ?? '', ...(row.sid ? { sid: row.sid } : {}) }, signal);
    }
    const message: DeliverableMessage = {
      id: row.id,
      channel: row.channel,
      recipient: row.recipient,
      ...(row.subject === null ? {} : { subject: row.subject }),
      body: row.body ?? '',
    };
    const adapter = adapters[row.channel];
    return breakers[row.channel].deliver(() => adapter.deliver(message, signal));
  }

  /**
   * A hand-off the open breaker refused was never tried: the attempt is given back and the row
   * waits for the breaker's trial, so an outage does not use up a message's attempts (G4).
   */
  async function giveBack(row: ClaimedRow): Promise<void> {
    await update(
      `UPDATE outbox_message SET status = 'queued', attempts = attempts - 1, last_error = 'not tried: the provider is failing (circuit breaker open)',
              next_attempt_at = now() + $3::double precision * interval '1 second'
        WHERE id = $1 AND status = 'processing' AND attempts = $2`,
      [row.id, row.attempts, config.notifications.breaker.openSeconds],
    );
  }

  /**
   * One attempt at a claimed row. Returns the row's status afterwards, or undefined when the
   * outcome could not be recorded (another instance took the row over) or the row was held back.
   */
  async function attempt(row: ClaimedRow, options: DeliverNowOptions = {}): Promise<OutboxStatus | undefined> {
    const deliverBefore = row.deliver_before === null ? null : new Date(row.deliver_before);
    if (deliverBefore && deliverBefore.getTime() <= Date.now()) {
      if (row.channel !== BACKCHANNEL_LOGOUT) return recorded(await finish(row, 'expired', { lastError: 'not delivered before its deadline' }), 'expired');
      const abandoned = await finish(row, 'abandoned', { lastError: 'not delivered before its deadline' });
      if (abandoned) alertAbandoned(row, 'retried for BACKCHANNEL_LOGOUT_RETRY_SECONDS without success');
      return recorded(abandoned, 'abandoned');
    }
    if (row.channel === 'sms' && !(await withinSmsBudget(row))) return undefined;
    try {
      await withDeadline((signal) => send(row, signal), timeoutMs);
    } catch (error) {
      const retryable = !(error instanceof DeliveryError) || error.retryable;
      const lastError = safeErrorText(error);
      if (options.dropIfNotSent && row.channel !== BACKCHANNEL_LOGOUT) {
        const dropped = await finish(row, 'expired', { lastError });
        if (dropped) log.warn({ ...about(row), attempt: row.attempts, error: lastError }, 'outbox message not delivered at once: dropped (the person is told and can ask again)');
        return recorded(dropped, 'expired');
      }
      if (error instanceof BreakerOpenError) {
        await giveBack(row);
        return 'queued';
      }
      // Logout tokens are retried until their deadline (expireStale), not up to maxAttempts.
      if (!retryable || (row.attempts >= maxAttempts && row.channel !== BACKCHANNEL_LOGOUT)) {
        const abandoned = await finish(row, 'abandoned', { lastError });
        if (abandoned) alertAbandoned(row, retryable ? `failed ${row.attempts} times: ${lastError}` : `permanent failure: ${lastError}`);
        return recorded(abandoned, 'abandoned');
      }
      const retryInMs = retryDelayMs(row.attempts);
      const queued = await finish(row, 'queued', { lastError, retryInMs });
      if (queued) log.warn({ ...about(row), attempt: row.attempts, retryInMs, error: lastError }, 'outbox delivery failed; will retry');
      return recorded(queued, 'queued');
    }
    const sent = await finish(row, 'sent', {});
    if (sent) log.info({ ...about(row), attempt: row.attempts }, 'outbox message delivered');
    return recorded(sent, 'sent');
  }

  async function deliverDue(limit = DEFAULT_BATCH_SIZE): Promise<number> {
    const size = Math.max(1, Math.min(MAX_BATCH_SIZE, Math.floor(limit)));
    await expireStale();
    await abandonExhausted();
    const rows = await claim(size);
    // Each attempt has its own deadline, so the batch takes about one timeout at worst.
    await Promise.all(rows.map((row) => attempt(row).catch((error: unknown) => {
      // Recording the outcome failed (database gone): the lease runs out and the message is retried.
      log.warn({ ...about(row), error: safeErrorText(error) }, 'could not record the outcome of an outbox delivery');
    })));
    return rows.length;
  }

  async function deliverNow(id: string, options: DeliverNowOptions = {}): Promise<OutboxStatus> {
    // Same claim as deliverDue, for one row and regardless of its backoff; expiry is checked in attempt().
    const [row] = await update<ClaimedRow>(
      `UPDATE outbox_message
          SET status = 'processing', attempts = attempts + 1,
              next_attempt_at = now() + $2::double precision * interval '1 millisecond'
        WHERE id IN (
          SELECT id FROM outbox_message
           WHERE id = $1 AND status = 'queued' AND channel = ANY($4::text[]) AND (attempts < $3 OR channel = $5)
           FOR UPDATE SKIP LOCKED)
        RETURNING ${CLAIMED_COLUMNS}`,
      [id, CLAIM_LEASE_MS, maxAttempts, channels, BACKCHANNEL_LOGOUT],
    );
    const status = row ? await attempt(row, options) : undefined;
    if (status) return status;
    const [current] = (await dataSource.query('SELECT status FROM outbox_message WHERE id = $1', [id])) as { status: OutboxStatus }[];
    if (!current) throw invalidMessage('deliverNow: no such message (was its transaction committed?)');
    return current.status;
  }

  function update<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return queryRows<R>(dataSource, sql, params);
  }

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let failing = false;
  let lastPurge = 0;

  async function purgeOld(): Promise<void> {
    if (Date.now() - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = Date.now();
    await dataSource.query(
      `DELETE FROM outbox_message WHERE status IN ('sent', 'expired', 'abandoned') AND created_at < now() - $1::double precision * interval '1 day'`,
      [RETENTION_DAYS],
    );
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      timer = undefined;
      inFlight = tick().finally(() => {
        inFlight = undefined;
      });
    }, delayMs);
    // The worker alone must not keep the process alive (tests, CLI tools that build the app).
    timer.unref();
  }

  async function tick(): Promise<void> {
    let attempted = 0;
    try {
      attempted = await deliverDue(DEFAULT_BATCH_SIZE);
      await purgeOld();
      if (failing) log.info('outbox worker recovered');
      failing = false;
    } catch (error) {
      // The database is probably away; say so once per outage, keep polling, never crash.
      if (!failing) log.warn({ error: safeErrorText(error) }, 'outbox worker could not read the outbox; will keep trying');
      failing = true;
    }
    // A full batch suggests more are waiting: go again straight away.
    if (running) schedule(attempted >= DEFAULT_BATCH_SIZE ? 0 : config.notifications.pollMs);
  }

  return {
    enqueue,
    enqueueLogout,
    deliverDue,
    deliverNow,
    startWorker() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stopWorker() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
  };
}

/** Runs `work` with an AbortSignal that fires at the deadline, and stops waiting then even if the work ignores it. */
async function withDeadline(work: (signal: AbortSignal) => Promise<void>, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = timeoutError();
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `status` when finish() recorded it; undefined when another instance had taken the row over. */
function recorded(finished: boolean, status: OutboxStatus): OutboxStatus | undefined {
  return finished ? status : undefined;
}

function invalidMessage(detail: string): CareloginError {
  // A bug in the caller (the journeys validate addresses first), not something to show a person.
  return new CareloginError('outbox_message_invalid', detail, { status: 500, expose: false });
}

function assertRecipient(channel: Channel, to: string): void {
  // The forms check addresses with the same rule, so an address a form accepted never fails here.
  const valid = channel === 'email' ? isEmailAddress(to) : PHONE_PATTERN.test(to);
  if (!valid) throw invalidMessage(`The recipient is not a valid ${channel === 'email' ? 'email address' : 'mobile number'}`);
}

/** Messages may only link to carelogin itself: a link anywhere else would teach people to trust phishing. */
function assertOnlyOwnLinks(text: string, serviceOrigin: string, template: string): void {
  for (const match of text.matchAll(URL_PATTERN)) {
    let origin: string | undefined;
    try {
      origin = new URL(match[0]).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== serviceOrigin) throw invalidMessage(`Template ${template} would link outside the service`);
  }
}
