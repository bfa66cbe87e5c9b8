import type { EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';
import { ipThrottleKey, type CapUse } from './attempt-counters.js';

/**
 * Text message abuse across journeys (security-bar B4: SMS pumping and toll fraud). The
 * per-journey resend cap lives in security-codes.ts; a fraudster simply starts new journeys, so
 * every security code text is also counted per client IP and per destination prefix, and every
 * text handed to the provider counts towards a daily budget whose alarm tells operations that
 * something is spending money. All counters are `attempt_counter` rows changed by one atomic
 * statement each, so any number of instances share them.
 */

const HOUR_SECONDS = 3600;

export type SmsThrottleScope = 'ip' | 'prefix';

/**
 * The number without its last 4 digits (+447700900123 → +44770090): a block of 10,000 numbers.
 * SMS pumping sends to consecutive numbers in a range the fraudster shares revenue on, so a cap
 * per number would never trip while a cap per block does. Shorter input is used whole.
 */
export function smsDestinationPrefix(destination: string): string {
  const digits = destination.replace(/\D/g, '');
  const kept = digits.length > 8 ? digits.slice(0, -4) : digits;
  return `+${kept}`;
}

// Not hashed, unlike address keys: a prefix names 10,000 numbers, not a person, and operators
// need to see which range is being pumped.
const ipKey = (ip: string): string => `sms-sends:${ipThrottleKey(ip)}`;
const prefixKey = (destination: string): string => `sms-sends:prefix:${smsDestinationPrefix(destination)}`;

/** An hourly cap one security code text is counted against. */
export interface SmsSendCap extends CapUse {
  readonly scope: SmsThrottleScope;
}

/**
 * The caps one security code text counts against, in the order they are counted (countWithinCaps):
 * the client IP (IPv6 by /64), then the destination's number block. The IP comes first, so one
 * abusive address over its cap does not also use up the block's allowance, which legitimate people
 * in that block share. `ip` null (no client, e.g. a background job): the block only.
 */
export function smsSendCaps(config: Config, request: { ip: string | null; destination: string }): SmsSendCap[] {
  const caps: SmsSendCap[] = [];
  if (request.ip) caps.push({ scope: 'ip', key: ipKey(request.ip), cap: config.limits.smsPerIpPerHour, windowSeconds: HOUR_SECONDS });
  caps.push({ scope: 'prefix', key: prefixKey(request.destination), cap: config.limits.smsPerPrefixPerHour, windowSeconds: HOUR_SECONDS });
  return caps;
}

export interface SmsBudgetCount {
  /** Texts handed to the provider so far this UTC day, this one included. */
  readonly count: number;
  /** This text is the first over the budget: exactly one caller, on any instance, sees true. */
  readonly crossed: boolean;
  /** The budget is used up (count > budget). */
  readonly over: boolean;
}

/**
 * Counts one text towards today's budget (UTC day from the database clock, so instances with
 * skewed clocks agree). One statement increments and returns the new count; PostgreSQL row-locks
 * the day's row, so every caller gets a distinct count and only the one that gets budget + 1 has
 * crossed it: the alarm fires once a day however many instances send.
 */
export async function countSmsHandOff(db: Pick<EntityManager, 'query'>, budget: number): Promise<SmsBudgetCount> {
  const [row] = await queryRows<{ failures: number | string }>(
    db,
    `INSERT INTO attempt_counter (key, failures, window_started_at, locked_until, consecutive_failures, updated_at)
     VALUES ('sms-daily-budget:' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1, now(), NULL, 0, now())
     ON CONFLICT (key) DO UPDATE SET failures = attempt_counter.failures + 1, updated_at = now()
     RETURNING failures`,
    [],
  );
  const count = Number(row?.failures ?? 0);
  return { count, crossed: count === budget + 1, over: count > budget };
}

/** What became of the code text a step sent: the page a code step shows depends on it. */
export type CodeTextState =
  /** A live code went out (or is going): the usual "enter the code" page. */
  | { readonly kind: 'sent' }
  /** The newest code's text could not be handed to the provider, and nothing was sent (G3). */
  | { readonly kind: 'not-sent' }
  /** No live code because the text was held back by the per-IP or number-block cap (B4): seconds until one may go. */
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number }
  /** No live code and no cap reached (used up, expired, or never sent): the usual page too. */
  | { readonly kind: 'none' };

/**
 * Read-only: what became of the code text this journey's step sent to this destination, so the
 * page can answer "we have sent you a code", "we could not send a code" (G3) or 429 (B4) without a
 * journey fact to carry the outcome. One statement in the usual case.
 */
export async function codeTextState(
  db: Pick<EntityManager, 'query'>,
  config: Config,
  request: { ip: string | null; destination: string; journeyId: string; purpose: string },
): Promise<CodeTextState> {
  const [newest] = await queryRows<{ live: boolean; undelivered: boolean }>(
    db,
    `SELECT (consumed_at IS NULL AND invalidated_at IS NULL AND expires_at > now()) AS live, undelivered_at IS NOT NULL AS undelivered
       FROM security_code WHERE journey_id = $1 AND purpose = $2 AND destination = $3
      ORDER BY created_at DESC LIMIT 1`,
    [request.journeyId, request.purpose, request.destination],
  );
  if (newest?.live) return { kind: newest.undelivered ? 'not-sent' : 'sent' };
  const caps: [string, number][] = [[prefixKey(request.destination), config.limits.smsPerPrefixPerHour]];
  if (request.ip) caps.unshift([ipKey(request.ip), config.limits.smsPerIpPerHour]);
  let wait: number | null = null;
  for (const [key, cap] of caps) {
    const [row] = await queryRows<{ retry_after: number | string }>(
      db,
      `SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM (window_started_at + $2::int * interval '1 second' - now()))))::int AS retry_after
         FROM attempt_counter WHERE key = $1 AND failures >= $3 AND window_started_at > now() - $2::int * interval '1 second'`,
      [key, HOUR_SECONDS, cap],
    );
    if (row) wait = Math.max(wait ?? 0, Number(row.retry_after));
  }
  return wait === null ? { kind: 'none' } : { kind: 'throttled', retryAfterSeconds: wait };
}
