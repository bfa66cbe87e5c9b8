import type { DataSource } from 'typeorm';
import { normaliseEmail, type Account } from '../../../entities/account.js';
import { locksOf, type AccountLock } from '../../accounts/account-locks.js';
import { isValidNhsNumber, normaliseNhsNumber } from '../../accounts/nhs-number.js';
import { queryRows } from '../../db/sql.js';
import type { CaseSummary } from '../../photo-id/cases.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How the support desk may name an account: exactly, by one of three keys, never by part of one. */
export type AccountKey = { readonly by: 'email'; readonly value: string } | { readonly by: 'nhs-number'; readonly value: string } | { readonly by: 'account-id'; readonly value: string };

export function isAccountId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * What was typed, as a key: an account ID (a UUID), an NHS number (ten digits with a valid check
 * digit, spaces allowed) or an email address (has an @). Anything else is not a key; there are no
 * wildcards, prefixes or names, so the search cannot be used to browse patients.
 */
export function parseAccountKey(typed: string): AccountKey | 'invalid-nhs-number' | undefined {
  const value = typed.normalize('NFC').trim();
  if (UUID.test(value)) return { by: 'account-id', value: value.toLowerCase() };
  if (/^[\d\s-]+$/.test(value)) {
    const digits = normaliseNhsNumber(value);
    return digits && isValidNhsNumber(digits) ? { by: 'nhs-number', value: digits } : 'invalid-nhs-number';
  }
  if (/^[^@\s]+@[^@\s]+$/.test(value) && value.length <= 320) return { by: 'email', value: normaliseEmail(value) };
  return undefined;
}

/** The account the key names exactly, if any. */
export async function findAccountId(dataSource: DataSource, key: AccountKey): Promise<string | undefined> {
  const where = key.by === 'email' ? 'email_normalised = $1' : key.by === 'nhs-number' ? 'nhs_number = $1' : 'id = $1::uuid';
  const [row] = await queryRows<{ id: string }>(dataSource, `SELECT id FROM account WHERE ${where}`, [key.value]);
  return row?.id;
}

/** How the account signs in, counted (never the secrets, the passkeys' names or the devices' labels). */
export interface SignInMethods {
  readonly authenticatorApp: boolean;
  readonly passkeys: number;
  readonly rememberedDevices: number;
}

export interface RecentEvent {
  readonly type: string;
  readonly at: Date;
}

/** Everything the account page shows. */
export interface SupportAccountView {
  readonly account: Account;
  readonly methods: SignInMethods;
  readonly locks: readonly AccountLock[];
  readonly openCase: CaseSummary | undefined;
  readonly recentEvents: readonly RecentEvent[];
}

/** The audit trail's most recent events of the account: type and time only, never their detail. */
export const RECENT_EVENTS = 20;

export async function signInMethodsOf(dataSource: DataSource, account: Account): Promise<SignInMethods> {
  const [row] = await queryRows<{ passkeys: string | number; devices: string | number }>(
    dataSource,
    `SELECT (SELECT count(*) FROM passkey WHERE account_id = $1) AS passkeys,
            (SELECT count(*) FROM remembered_device WHERE account_id = $1) AS devices`,
    [account.id],
  );
  return { authenticatorApp: account.authenticatorSecret !== null, passkeys: Number(row?.passkeys ?? 0), rememberedDevices: Number(row?.devices ?? 0) };
}

export async function recentEventsOf(dataSource: DataSource, accountId: string): Promise<RecentEvent[]> {
  const rows = await queryRows<{ type: string; at: Date | string }>(dataSource, `SELECT type, at FROM audit_event WHERE account_id = $1 ORDER BY id DESC LIMIT $2`, [accountId, RECENT_EVENTS]);
  return rows.map((r) => ({ type: r.type, at: new Date(r.at) }));
}

export async function supportAccountView(dataSource: DataSource, account: Account, openCase: CaseSummary | undefined): Promise<SupportAccountView> {
  const [methods, locks, recentEvents] = [await signInMethodsOf(dataSource, account), await locksOf(dataSource, account.id), await recentEventsOf(dataSource, account.id)];
  return { account, methods, locks, openCase, recentEvents };
}

/** "Ending in 982": the last 3 digits only, enough to match what the caller reads out. */
export function maskedMobile(e164: string | null): string | undefined {
  return e164 ? `Ending in ${e164.slice(-3)}` : undefined;
}
