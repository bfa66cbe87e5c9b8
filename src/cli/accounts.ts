/**
 * The support desk's view of an account's lockouts (security-bar X8):
 *   npm run accounts -- locks --email <address>
 *   npm run accounts -- unlock --email <address> --reason "<why, for the audit trail>"
 * `locks` lists the password, security code and authenticator app counters of the account;
 * `unlock` lifts them all, including a hard-cap lock that no time ends (CL1002, CL1004), and
 * records who asked why in the audit trail (`account.unlocked`). Run it against the same
 * DATABASE_URL as carelogin; it changes nothing else.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import { normaliseEmail } from '../../entities/account.js';
import { queryRows } from '../db/sql.js';
import { CareloginError } from '../errors.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import { createAudit, type Audit } from '../security/audit.js';
import { noAccount, runDatabaseCommand } from './database-command.js';

export interface AccountLock {
  /** What the counter guards: "password", "security code (sign-in)", "authenticator app". */
  readonly what: string;
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** When the lock ends; null when not locked; 'never' when the hard cap turned the method off. */
  readonly lockedUntil: Date | 'never' | null;
}

export class AccountsUsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

function counterName(key: string, accountId: string): string {
  if (key === lockoutKeys.password(accountId)) return 'password';
  if (key === lockoutKeys.authenticatorApp(accountId)) return 'authenticator app';
  if (key === lockoutKeys.recoveryCode(accountId)) return 'recovery codes';
  if (key === lockoutKeys.identityCheck(accountId)) return 'identity check';
  if (key === lockoutKeys.photoIdUpload(accountId)) return 'photo ID uploads (per day)';
  const purpose = /^security-code:(.+):[^:]+$/.exec(key)?.[1];
  return `security code (${purpose ?? 'unknown'})`;
}

async function accountIdFor(dataSource: DataSource, email: string): Promise<string | undefined> {
  const [row] = await queryRows<{ id: string }>(dataSource, `SELECT id FROM account WHERE email_normalised = $1`, [normaliseEmail(email)]);
  return row?.id;
}

/** The account's counters, or undefined when no account has this email address. */
export async function accountLocks(dataSource: DataSource, email: string): Promise<AccountLock[] | undefined> {
  const accountId = await accountIdFor(dataSource, email);
  if (!accountId) return undefined;
  const { exact, pattern } = lockoutKeys.ofAccount(accountId);
  const rows = await queryRows<{ key: string; failures: number; consecutive_failures: number; locked_until: Date | string | null; forever: boolean }>(
    dataSource,
    `SELECT key, failures, consecutive_failures, CASE WHEN locked_until > now() THEN locked_until END AS locked_until, locked_until = 'infinity' AS forever
       FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 ORDER BY key`,
    [exact, pattern],
  );
  return rows.map((r) => ({
    what: counterName(r.key, accountId),
    failures: Number(r.failures),
    consecutiveFailures: Number(r.consecutive_failures),
    lockedUntil: r.forever ? 'never' : r.locked_until ? new Date(r.locked_until) : null,
  }));
}

/** Lifts every lock of the account and audits it; the number of counters cleared, or undefined for no account. */
export async function unlockAccount(dataSource: DataSource, audit: Audit, email: string, reason: string): Promise<number | undefined> {
  const accountId = await accountIdFor(dataSource, email);
  if (!accountId) return undefined;
  const { exact, pattern } = lockoutKeys.ofAccount(accountId);
  return dataSource.transaction(async (manager) => {
    const cleared = await queryRows(manager, `DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 RETURNING key`, [exact, pattern]);
    await audit.record('account.unlocked', { accountId, detail: { by: 'operator', reason, counters: cleared.length } }, manager);
    return cleared.length;
  });
}

const USAGE = `Usage: npm run accounts -- locks --email <address>
       npm run accounts -- unlock --email <address> --reason "<why>"`;

export function parseAccountsArgs(argv: readonly string[]): { command: 'locks' | 'unlock'; email: string; reason?: string } {
  const [command, ...rest] = argv;
  if (command !== 'locks' && command !== 'unlock') throw new AccountsUsageError(USAGE);
  let values;
  try {
    ({ values } = parseArgs({ args: rest, allowPositionals: false, options: { email: { type: 'string' }, reason: { type: 'string' } } }));
  } catch (error) {
    throw new AccountsUsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (!values.email) throw new AccountsUsageError(`Give --email\n${USAGE}`);
  if (command === 'unlock' && !values.reason?.trim()) throw new AccountsUsageError(`Give --reason: it goes in the audit trail\n${USAGE}`);
  return { command, email: values.email, ...(values.reason ? { reason: values.reason.trim().slice(0, 200) } : {}) };
}

function lockText(lock: AccountLock): string {
  const state = lock.lockedUntil === 'never' ? 'turned off (hard cap) until unlocked' : lock.lockedUntil ? `locked until ${lock.lockedUntil.toISOString()}` : 'not locked';
  return `  ${lock.what}: ${state}; ${lock.failures} recent failures, ${lock.consecutiveFailures} in a row`;
}

export function runAccountsCli(argv: readonly string[]): Promise<number> {
  return runDatabaseCommand(argv, parseAccountsArgs, (error) => error instanceof AccountsUsageError, async (args, dataSource, logger) => {
    if (args.command === 'locks') {
      const locks = await accountLocks(dataSource, args.email);
      if (!locks) return noAccount();
      process.stdout.write(locks.length === 0 ? 'No failed attempts are counted against this account.\n' : `${locks.map(lockText).join('\n')}\n`);
      return 0;
    }
    const cleared = await unlockAccount(dataSource, createAudit(dataSource, logger), args.email, args.reason!);
    if (cleared === undefined) return noAccount();
    process.stdout.write(`Cleared ${cleared} counter(s). The account can sign in again; the audit trail records account.unlocked.\n`);
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runAccountsCli(process.argv.slice(2));
}
