import Router from '@koa/router';
import type { Context } from 'koa';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Renderer } from '../web/renderer.js';
import type { OutboxStatus } from '../../entities/outbox-message.js';

export interface DevOutboxRouterDeps {
  readonly config: Config;
  readonly dataSource: DataSource;
  readonly renderer: Renderer;
}

/** One message as /dev/outbox shows it (JSON field names are part of the test-automation contract). */
export interface DevOutboxMessage {
  readonly id: string;
  readonly recipient: string;
  readonly channel: 'email' | 'sms';
  readonly template: string;
  readonly subject: string | null;
  readonly body: string;
  /** The first 6-digit number in the body, for scripts that read security codes. */
  readonly code: string | null;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly createdAt: string;
  readonly sentAt: string | null;
}

interface OutboxRow {
  id: string;
  recipient: string;
  channel: 'email' | 'sms';
  template: string;
  subject: string | null;
  body: string;
  status: OutboxStatus;
  attempts: number;
  created_at: Date | string;
  sent_at: Date | string | null;
}

const PAGE_SIZE = 100;

const STATUS_TAGS: Record<OutboxStatus, { text: string; colour: string }> = {
  queued: { text: 'Queued', colour: 'blue' },
  processing: { text: 'Sending', colour: 'yellow' },
  sent: { text: 'Sent', colour: 'green' },
  abandoned: { text: 'Abandoned', colour: 'red' },
  expired: { text: 'Expired', colour: 'grey' },
};

/**
 * The development outbox: every email and text message carelogin has queued, newest first, with
 * security codes in clear. That is its purpose on a developer's machine and in test automation, and
 * why it must never exist in production: this factory refuses, and config refuses DEV_OUTBOX there.
 *
 *   GET /dev/outbox[?to=…&template=…]        HTML page, or { messages: [...] } when JSON is preferred
 *   GET /dev/outbox/latest?to=…[&template=…] the newest matching message as JSON (404 if none)
 */
export function createDevOutboxRouter(deps: DevOutboxRouterDeps): Router {
  const { config, dataSource, renderer } = deps;
  if (config.mode === 'production') throw new ConfigError('The development outbox shows security codes and cannot be used in production');
  if (!config.notifications.devOutbox) throw new ConfigError('The development outbox is turned off (DEV_OUTBOX=false); do not mount its router');

  const router = new Router();

  async function find(filter: { to?: string; template?: string }, limit: number): Promise<DevOutboxMessage[]> {
    const rows: OutboxRow[] = await dataSource.query(
      `SELECT id, recipient, channel, template, subject, body, status, attempts, created_at, sent_at
         FROM outbox_message
        WHERE channel IN ('email', 'sms')
          AND ($1::text IS NULL OR lower(recipient) = lower($1::text))
          AND ($2::text IS NULL OR template = $2::text)
        ORDER BY created_at DESC, id DESC
        LIMIT $3`,
      [filter.to ?? null, filter.template ?? null, limit],
    );
    return rows.map(toMessage);
  }

  router.get('/dev/outbox/latest', async (ctx) => {
    noStore(ctx);
    const to = queryValue(ctx, 'to');
    if (!to) {
      ctx.status = 400;
      ctx.body = { error: 'bad_request', error_description: 'Give the recipient: /dev/outbox/latest?to=…' };
      return;
    }
    const [message] = await find({ to, template: queryValue(ctx, 'template') }, 1);
    if (!message) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'No message for that recipient yet' };
      return;
    }
    ctx.body = message;
  });

  router.get('/dev/outbox', async (ctx) => {
    noStore(ctx);
    const to = queryValue(ctx, 'to');
    const template = queryValue(ctx, 'template');
    const messages = await find({ to, template }, PAGE_SIZE);
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { messages };
      return;
    }
    ctx.type = 'html';
    ctx.body = renderer.render('dev-outbox/index.njk', {
      title: 'Development outbox',
      cspNonce: ctx.state.cspNonce,
      to,
      template,
      pageSize: PAGE_SIZE,
      messages: messages.map(toView),
    });
  });

  return router;
}

function noStore(ctx: Context): void {
  // Security codes must not sit in a browser or proxy cache, even in development.
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Robots-Tag', 'noindex');
}

function queryValue(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed.slice(0, 320) : undefined;
}

function toMessage(row: OutboxRow): DevOutboxMessage {
  return {
    id: row.id,
    recipient: row.recipient,
    channel: row.channel,
    template: row.template,
    subject: row.subject,
    body: row.body,
    code: /(?<!\d)\d{6}(?!\d)/.exec(row.body)?.[0] ?? null,
    status: row.status,
    attempts: Number(row.attempts),
    createdAt: new Date(row.created_at).toISOString(),
    sentAt: row.sent_at === null ? null : new Date(row.sent_at).toISOString(),
  };
}

function readableTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function toView(message: DevOutboxMessage): Record<string, unknown> {
  return {
    ...message,
    heading: message.subject ?? (message.channel === 'sms' ? 'Text message' : message.template),
    channelText: message.channel === 'sms' ? 'Text message' : 'Email',
    statusTag: STATUS_TAGS[message.status] ?? { text: message.status, colour: 'white' },
    createdAtText: readableTime(message.createdAt),
    sentAtText: message.sentAt ? readableTime(message.sentAt) : undefined,
    // Paragraphs of lines, so the page keeps the message's layout without inline styles (CSP).
    paragraphs: message.body.split(/\n{2,}/).map((paragraph) => paragraph.split('\n')),
  };
}
