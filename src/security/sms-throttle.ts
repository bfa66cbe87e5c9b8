import type { EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';
import { countWithinCap, ipThrottleKey } from './attempt-counters.js';

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

export type SmsSendCheck = { readonly ok: true } | { readonly ok: false; readonly scope: SmsThrottleScope; readonly retryAfterSeconds: number };

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

async function retryAfter(manager: Pick<EntityManager, 'query'>, key: string): Promise<number> {
  const [row]: { retry_after: number | string }[] = await manager.query(
    `SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM (window_started_at + $2::int * interval '1 second' - now()))))::int AS retry_after FROM attempt_counter WHERE key = $1`,
    [key, HOUR_SECONDS],
  );
  return Number(row?.retry_after ?? HOUR_SECONDS);
}

/**
 * Counts one security code text against the client IP (IPv6 by /64) and the destination prefix,
 * in the caller's transaction (a send that rolls back is not counted). The IP is checked first, so
 * one abusive address over its cap does not also use up the prefix's allowance, which legitimate
 * people in that number block share. `ip` null (no client, e.g. a background job): prefix only.
 */
export async function countSmsSend(manager: Pick<EntityManager, 'query'>, config: Config, request: { ip: string | null; destination: string }): Promise<SmsSendCheck> {
  if (request.ip) {
    const key = ipKey(request.ip);
    if (!(await countWithinCap(manager, key, config.limits.smsPerIpPerHour, HOUR_SECONDS))) {
      return { ok: false, scope: 'ip', retryAfterSeconds: await retryAfter(manager, key) };
    }
  }
  const key = prefixKey(request.destination);
  if (!(await countWithinCap(manager, key, config.limits.smsPerPrefixPerHour, HOUR_SECONDS))) {
    return { ok: false, scope: 'prefix', retryAfterSeconds: await retryAfter(manager, key) };
  }
  return { ok: true };
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

/**
 * Read-only: why a step that texts a code on arrival has no code to show for it. Null when the
 * journey holds a live code for this destination (it was sent) or neither cap is reached; else
 * the seconds until a text can go again. Lets the page answer 429 instead of "we have sent you a
 * code" when the arrival's send was throttled, without a journey fact to carry the refusal.
 */
export async function smsSendRefusal(
  db: Pick<EntityManager, 'query'>,
  config: Config,
  request: { ip: string | null; destination: string; journeyId: string; purpose: string },
): Promise<number | null> {
  const live: unknown[] = await db.query(
    `SELECT 1 FROM security_code WHERE journey_id = $1 AND purpose = $2 AND destination = $3
       AND consumed_at IS NULL AND invalidated_at IS NULL AND expires_at > now() LIMIT 1`,
    [request.journeyId, request.purpose, request.destination],
  );
  if (live.length > 0) return null;
  const caps: [string, number][] = [[prefixKey(request.destination), config.limits.smsPerPrefixPerHour]];
  if (request.ip) caps.unshift([ipKey(request.ip), config.limits.smsPerIpPerHour]);
  let wait: number | null = null;
  for (const [key, cap] of caps) {
    const [row]: { retry_after: number | string }[] = await db.query(
      `SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM (window_started_at + $2::int * interval '1 second' - now()))))::int AS retry_after
         FROM attempt_counter WHERE key = $1 AND failures >= $3 AND window_started_at > now() - $2::int * interval '1 second'`,
      [key, HOUR_SECONDS, cap],
    );
    if (row) wait = Math.max(wait ?? 0, Number(row.retry_after));
  }
  return wait;
}
