import type { DataSource, EntityManager } from 'typeorm';
import { normaliseEmail } from '../../entities/account.js';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';
import type { Notifications } from '../notifications/outbox.js';
import type { Audit } from '../security/audit.js';
import type { IssueResult, SecurityCodes } from '../security/security-codes.js';
import { countWithinCap } from '../security/attempt-counters.js';
import type { KeyedDigest } from '../security/keyed-digest.js';

/**
 * Creating an account (NHS login's "create an account": email address, password, terms of use,
 * then confirm the email address with a code).
 *
 * WHEN THE ROW IS CREATED: at the end of the first page, in ONE transaction with its terms record
 * (terms_version, terms_accepted_at), the email confirmation code and the outbox message carrying
 * it. A crash leaves either all of it or none of it. The row starts unconfirmed
 * (email_verified_at NULL); an unconfirmed account can never finish a sign-in (the sign-in journey
 * sends it to confirm its email first) and so never gets a token.
 *
 * THE SAME ADDRESS AGAIN (X1, F2, H1: no account enumeration):
 * - with a CONFIRMED account: nothing about that account changes; its owner is emailed
 *   `account-already-exists`; the person registering sees exactly the pages a new registration
 *   sees (a code is issued for their journey but never sent, so no code can succeed).
 * - with an UNCONFIRMED account (an abandoned or someone else's unfinished registration): it is
 *   replaced by the new one: deleted and created again with a NEW id, so the earlier journey's
 *   account is gone and its code can confirm nothing (a registration can never be finished with
 *   someone else's password). No dead end "already registered, but unconfirmed".
 * - concurrent registrations of one normalised address: the unique index on email_normalised
 *   decides; the row-locking SELECT … FOR UPDATE and INSERT … ON CONFLICT DO NOTHING make the
 *   losers wait and then see the winner's row, and they get the neutral "exists" answer.
 */

export const CONFIRM_EMAIL_PURPOSE = 'confirm-email';

/**
 * At most config.limits.registrationEmailsPerAddress registration emails (codes and "you already
 * have an account") go to one address per window, however many journeys ask (B4: no email
 * bombing through registration). Beyond it the pages are unchanged and nothing is sent, for new
 * and existing addresses alike.
 */
export const REGISTRATION_EMAIL_WINDOW_SECONDS = 3600;

/** What the registration email cap needs: the limit, and the keyed digest for the address. */
export interface RegistrationEmailLimit {
  readonly config: Pick<Config, 'limits'>;
  readonly digest: KeyedDigest;
}

/**
 * The counter key for an address: a keyed digest, because attempt_counter is no place for personal
 * data and a plain hash would let a database reader confirm guessed addresses.
 */
export function registrationEmailKey(digest: KeyedDigest, email: string): string {
  return `registration-emails:${digest('registration-emails', normaliseEmail(email))}`;
}

/**
 * Counts one registration email to `email` in the caller's transaction and says whether it may be
 * sent. One atomic statement, so concurrent journeys cannot get past the limit.
 */
export async function mayEmailForRegistration(limit: RegistrationEmailLimit, manager: EntityManager, email: string): Promise<boolean> {
  return countWithinCap(manager, registrationEmailKey(limit.digest, email), limit.config.limits.registrationEmailsPerAddress, REGISTRATION_EMAIL_WINDOW_SECONDS);
}

export type RegistrationResult =
  /** A new, unconfirmed account: its confirmation code has been queued to the address. */
  | { readonly outcome: 'created'; readonly accountId: string }
  /** The address has an account (or a concurrent registration won): nothing to confirm, same pages. */
  | { readonly outcome: 'exists' }
  /** The code could not be issued (resend limit for this journey or a locked step); nothing was written. */
  | { readonly outcome: 'refused'; readonly reason: 'too_many_sends' | 'locked'; readonly retryAfterSeconds: number };

export interface RegistrationRequest {
  /** As typed (trimmed): kept for display and sending. */
  readonly email: string;
  /** Already hashed by the caller (Argon2id), outside the transaction, so the lock is held briefly. */
  readonly passwordHash: string;
  readonly termsVersion: string;
  /** The interaction uid: the confirmation code is bound to it (B1). */
  readonly journeyId: string;
  readonly clientId?: string | undefined;
  readonly ip?: string | undefined;
}

export interface RegistrationDeps extends RegistrationEmailLimit {
  readonly dataSource: DataSource;
  readonly codes: SecurityCodes;
  readonly notifications: Notifications;
  readonly audit: Audit;
}

/**
 * Issues the email confirmation code for a journey. Bound to the journey, purpose and address,
 * not to an account id, so that the lock and send counters behave identically whether or not the
 * address belongs to anyone (the wrong-answer lock is per journey: F2).
 */
export function issueEmailConfirmationCode(codes: SecurityCodes, manager: EntityManager, journeyId: string, email: string): Promise<IssueResult> {
  return codes.issue(manager, { accountId: null, purpose: CONFIRM_EMAIL_PURPOSE, journeyId, channel: 'email', destination: normaliseEmail(email) });
}

/** Queues the code to the address, in the caller's transaction. */
export async function sendEmailConfirmationCode(notifications: Notifications, manager: EntityManager, to: { accountId: string; email: string }, issued: Extract<IssueResult, { ok: true }>): Promise<void> {
  await notifications.enqueue(manager, { template: 'email-confirmation-code', to: to.email, data: { code: issued.code }, accountId: to.accountId, deliverBefore: issued.expiresAt });
}

export async function registerAccount(deps: RegistrationDeps, request: RegistrationRequest): Promise<RegistrationResult> {
  const email = request.email.normalize('NFC').trim();
  const key = normaliseEmail(email);
  const { dataSource, codes, notifications, audit } = deps;
  return dataSource.transaction(async (manager): Promise<RegistrationResult> => {
    // Issued first and in every case, so the send limit and its answer are the same for every address.
    const issued = await issueEmailConfirmationCode(codes, manager, request.journeyId, key);
    if (!issued.ok) return { outcome: 'refused', reason: issued.reason, retryAfterSeconds: issued.retryAfterSeconds };

    const code: Extract<IssueResult, { ok: true }> = issued;
    async function reuse(accountId: string): Promise<RegistrationResult> {
      if (await mayEmailForRegistration(deps, manager, key)) await sendEmailConfirmationCode(notifications, manager, { accountId, email }, code);
      return { outcome: 'created', accountId };
    }

    const existing = await queryRows<{ id: string; email: string; confirmed: boolean }>(
      manager,
      'SELECT id, email, (email_verified_at IS NOT NULL) AS confirmed FROM account WHERE email_normalised = $1 FOR UPDATE',
      [key],
    );
    const found = existing[0];
    if (found?.confirmed) {
      if (await mayEmailForRegistration(deps, manager, key)) await notifications.enqueue(manager, { template: 'account-already-exists', to: found.email, data: {}, accountId: found.id });
      await audit.record('account.registration_duplicate', { accountId: found.id, clientId: request.clientId, ip: request.ip }, manager);
      return { outcome: 'exists' };
    }
    if (found && (await registeredEarlierInThisJourney(manager, request.journeyId, key))) {
      // The same form submitted twice (a double click without JavaScript): the account the first
      // submission created is this journey's, so it is kept, unchanged (its password is never
      // replaced), and the new code goes to the address.
      return reuse(found.id);
    }
    if (found) {
      // An unfinished registration: replaced, never continued, so its journey (and password) is void.
      await manager.query('DELETE FROM account WHERE id = $1 AND email_verified_at IS NULL', [found.id]);
      await audit.record('account.registration_replaced', { accountId: found.id, clientId: request.clientId, ip: request.ip }, manager);
    }
    const inserted = await queryRows<{ id: string }>(
      manager,
      `INSERT INTO account (email, email_normalised, password_hash, terms_version, terms_accepted_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (email_normalised) DO NOTHING
       RETURNING id`,
      [email, key, request.passwordHash, request.termsVersion],
    );
    const created = inserted[0];
    if (!created) {
      // A concurrent registration of the same address committed first: one account. If it was this
      // journey's own first submission, carry on with its account; otherwise the neutral answer.
      const [winner] = await queryRows<{ id: string }>(manager, 'SELECT id FROM account WHERE email_normalised = $1 AND email_verified_at IS NULL', [key]);
      if (winner && (await registeredEarlierInThisJourney(manager, request.journeyId, key))) return reuse(winner.id);
      await audit.record('account.registration_duplicate', { clientId: request.clientId, ip: request.ip, detail: { reason: 'concurrent' } }, manager);
      return { outcome: 'exists' };
    }
    if (await mayEmailForRegistration(deps, manager, key)) await sendEmailConfirmationCode(notifications, manager, { accountId: created.id, email }, code);
    await audit.record('account.created', { accountId: created.id, clientId: request.clientId, ip: request.ip, detail: { termsVersion: request.termsVersion } }, manager);
    return { outcome: 'created', accountId: created.id };
  });
}

/**
 * Whether this journey already registered this address: a confirmation code for it was issued by an
 * EARLIER transaction of the journey (created_at defaults to the transaction's now(), so this
 * transaction's own code is excluded).
 */
async function registeredEarlierInThisJourney(manager: EntityManager, journeyId: string, key: string): Promise<boolean> {
  const rows = await queryRows(
    manager,
    'SELECT 1 FROM security_code WHERE journey_id = $1 AND purpose = $2 AND destination = $3 AND created_at <> now() LIMIT 1',
    [journeyId, CONFIRM_EMAIL_PURPOSE, key],
  );
  return rows.length > 0;
}

/** Marks the email address confirmed; false when the account has gone (replaced by a newer registration). */
export async function confirmEmail(dataSource: DataSource, accountId: string): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(dataSource, 'UPDATE account SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now() WHERE id = $1 RETURNING id', [accountId]);
  return rows.length === 1;
}

/** Records a mobile number proven by a code (E.164, UK mobile), replacing any unverified one. */
export async function setVerifiedMobile(manager: EntityManager, accountId: string, e164: string): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    manager,
    'UPDATE account SET mobile_number = $2, mobile_verified_at = now(), updated_at = now() WHERE id = $1 AND email_verified_at IS NOT NULL RETURNING id',
    [accountId, e164],
  );
  return rows.length === 1;
}

/**
 * "Change email address" before the address was confirmed: the account this registration created
 * is deleted if it is still unconfirmed (never a confirmed one, which may be someone else's), so a
 * mistyped address does not stay on file. Its codes were bound to that address and journey and
 * confirm nothing any more.
 */
export async function abandonRegistration(dataSource: DataSource, accountId: string, options: { audit: Audit; ip?: string }): Promise<void> {
  await dataSource.transaction(async (manager) => {
    const removed = await queryRows(manager, 'DELETE FROM account WHERE id = $1 AND email_verified_at IS NULL RETURNING id', [accountId]);
    if (removed.length > 0) await options.audit.record('account.registration_abandoned', { accountId, ip: options.ip }, manager);
  });
}

/**
 * Registrations never confirmed are deleted after UNCONFIRMED_ACCOUNT_TTL_SECONDS (48 hours, as NHS
 * login's "unconfirmed details are deleted after 24-48 hours"): an address someone typed, perhaps
 * someone else's, does not stay on file. Run by the purge timer; returns how many went.
 */
export async function purgeUnconfirmedAccounts(dataSource: DataSource, olderThanSeconds: number): Promise<number> {
  const [row] = await queryRows<{ removed: number }>(
    dataSource,
    `WITH gone AS (DELETE FROM account WHERE email_verified_at IS NULL AND created_at < now() - $1::int * interval '1 second' RETURNING 1)
     SELECT count(*)::int AS removed FROM gone`,
    [olderThanSeconds],
  );
  return row?.removed ?? 0;
}
