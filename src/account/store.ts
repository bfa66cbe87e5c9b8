import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../db/sql.js';
import { registrationEmailKey } from '../accounts/registration.js';
import { signInCounts } from '../accounts/sessions-valid-after.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import type { KeyedDigest } from '../security/keyed-digest.js';
import { FIRST_PARTY_CLIENT_IDS } from '../clients/first-party.js';

type Db = Pick<EntityManager, 'query'> | DataSource;

/** One relying party the patient has consented to (an oidc-provider Grant). */
export interface ConnectedService {
  readonly grantId: string;
  readonly clientId: string;
  readonly givenAt: Date | null;
}

/** Live consents of the account, newest first; carelogin's own areas' grants are not "services". */
export async function listGrants(db: Db, accountId: string): Promise<ConnectedService[]> {
  const rows = await queryRows<{ id: string; client_id: string; iat: string | null }>(
    db,
    `SELECT id, payload->>'clientId' AS client_id, payload->>'iat' AS iat FROM oidc_model
      WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' <> ALL($2::text[])
        AND (expires_at IS NULL OR expires_at > now())
      ORDER BY (payload->>'iat')::bigint DESC NULLS LAST`,
    [accountId, [...FIRST_PARTY_CLIENT_IDS]],
  );
  return rows.map((r) => ({ grantId: r.id, clientId: r.client_id, givenAt: r.iat ? new Date(Number(r.iat) * 1000) : null }));
}

/** True when the grant exists and is this account's (the IDOR check before revoking). */
export async function grantBelongsTo(db: Db, grantId: string, accountId: string): Promise<boolean> {
  const rows = await queryRows(db, `SELECT 1 FROM oidc_model WHERE model = 'Grant' AND id = $1 AND payload->>'accountId' = $2 AND payload->>'clientId' <> ALL($3::text[])`, [grantId, accountId, [...FIRST_PARTY_CLIENT_IDS]]);
  return rows.length === 1;
}

/** A browser signed in to carelogin (an oidc-provider session), by its public `uid`, never its cookie value. */
export interface SignedInBrowser {
  readonly uid: string;
  readonly signedInAt: Date;
  /** How: "a password and an authenticator app" (from the session's amr), or undefined if unknown. */
  readonly signedInWith: string | undefined;
}

/** Each amr value in words, in the order a sentence lists them. */
const AMR_WORDS: readonly (readonly [string, string])[] = [
  ['hwk', 'a passkey'],
  ['pwd', 'a password'],
  ['sms', 'a security code by text message'],
  ['otp', 'an authenticator app'],
  ['remembered_device', 'a remembered device'],
];

/** "a password and a security code by text message"; undefined when no amr value is known. */
export function signInMethodsInWords(amr: readonly string[]): string | undefined {
  const words = AMR_WORDS.filter(([value]) => amr.includes(value)).map(([, text]) => text);
  if (words.length === 0) return undefined;
  return words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/**
 * Live sessions of the account, newest sign-in first; not those from before its last revocation
 * (`revokedSecond`, src/accounts/sessions-valid-after.ts), which no longer work.
 */
export async function listSessions(db: Db, accountId: string, revokedSecond: number | null): Promise<SignedInBrowser[]> {
  const rows = await queryRows<{ uid: string; login_ts: string; amr: unknown }>(
    db,
    `SELECT uid, payload->>'loginTs' AS login_ts, payload->'amr' AS amr FROM oidc_model
      WHERE model = 'Session' AND payload->>'accountId' = $1 AND uid IS NOT NULL AND (expires_at IS NULL OR expires_at > now())
      ORDER BY (payload->>'loginTs')::bigint DESC NULLS LAST`,
    [accountId],
  );
  return rows
    .filter((r) => signInCounts(revokedSecond, r.login_ts === null ? undefined : Number(r.login_ts)))
    .map((r) => ({
      uid: r.uid,
      signedInAt: new Date(Number(r.login_ts) * 1000),
      signedInWith: signInMethodsInWords(Array.isArray(r.amr) ? r.amr.filter((m): m is string => typeof m === 'string') : []),
    }));
}

/** Ends one session of this account; false when there is none with that uid for this account (IDOR). */
export async function endSession(db: Db, accountId: string, uid: string): Promise<boolean> {
  const rows = await queryRows(db, `DELETE FROM oidc_model WHERE model = 'Session' AND uid = $2 AND payload->>'accountId' = $1 RETURNING id`, [accountId, uid]);
  return rows.length > 0;
}

/** Ends every oidc-provider session of the account, except `keepSessionId` when given. Returns how many. */
export async function deleteSessions(db: Db, accountId: string, keepSessionId?: string): Promise<number> {
  const rows = await queryRows(
    db,
    `DELETE FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1 AND ($2::text IS NULL OR id <> $2) RETURNING id`,
    [accountId, keepSessionId ?? null],
  );
  return rows.length;
}

/**
 * Dates a session's sign-in to `loginTs`: the browser that changed the password stays signed in
 * after the account's sign-ins were revoked (src/accounts/sessions-valid-after.ts).
 */
export async function redateSession(db: Db, sessionId: string, loginTs: number): Promise<void> {
  await queryRows(db, `UPDATE oidc_model SET payload = jsonb_set(payload, '{loginTs}', to_jsonb($2::bigint)) WHERE model = 'Session' AND id = $1 RETURNING id`, [sessionId, loginTs]);
}

/**
 * Revokes every authorization code, access and refresh token issued to services for the account
 * (consent stays), so a stolen token, or a code obtained just before, stops working when the patient
 * signs out everywhere or changes their password (C4).
 */
export async function revokeTokens(db: Db, accountId: string): Promise<number> {
  const rows = await queryRows(db, `DELETE FROM oidc_model WHERE model IN ('AuthorizationCode', 'AccessToken', 'RefreshToken') AND payload->>'accountId' = $1 RETURNING id`, [accountId]);
  return rows.length;
}

/**
 * Removes everything oidc-provider holds for the account: grants and all that was issued under
 * them (codes, access and refresh tokens), sessions, and any interaction bound to the account.
 */
export async function deleteProtocolState(db: Db, accountId: string): Promise<void> {
  await db.query(
    `DELETE FROM oidc_model WHERE payload->>'accountId' = $1
        OR grant_id IN (SELECT id FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1)`,
    [accountId],
  );
}

/**
 * Deletes the account's own rows (not the outbox, whose messages must still be sent; not the audit
 * trail), and what holds its address without its id: email confirmation codes are stored with no
 * account (src/accounts/registration.ts), journeys keep the email typed, and the registration email
 * count is keyed by a digest of the address. Another account's own rows for a shared mobile stay.
 */
export async function deleteAccountRows(manager: EntityManager, accountId: string, digest: KeyedDigest): Promise<void> {
  // Read in the transaction: the caller's account object may be older than a change of address.
  const [held] = await queryRows<{ email_normalised: string; mobile_number: string | null }>(manager, `SELECT email_normalised, mobile_number FROM account WHERE id = $1 FOR UPDATE`, [accountId]);
  await deleteProtocolState(manager, accountId);
  await manager.query(`DELETE FROM remembered_device WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM client_user_metadata WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM security_code WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM password_reset_token WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM mobile_change WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM passkey WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM recovery_code WHERE account_id = $1`, [accountId]);
  // Photo ID and video go with the account; the decision stays in the audit trail.
  await manager.query(`DELETE FROM identity_evidence WHERE case_id IN (SELECT id FROM identity_check_case WHERE account_id = $1)`, [accountId]);
  await manager.query(`DELETE FROM identity_check_case WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM journey_state WHERE account_id = $1`, [accountId]);
  // A test user's record (D27) goes with its account.
  await manager.query(`DELETE FROM test_user WHERE account_id = $1`, [accountId]);
  if (held) {
    // Email destinations are stored as typed (a change) or normalised (a registration).
    await manager.query(`DELETE FROM security_code WHERE lower(destination) = $1 OR (account_id IS NULL AND destination = $2)`, [held.email_normalised, held.mobile_number]);
    await manager.query(`DELETE FROM journey_state WHERE lower(facts->>'email') = $1`, [held.email_normalised]);
  }
  // Every counter kept by account id (the list support tools lift), and the registration email count by address.
  const counters = lockoutKeys.ofAccount(accountId);
  await manager.query(`DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 OR key = $3`, [
    counters.exact,
    counters.pattern,
    held ? registrationEmailKey(digest, held.email_normalised) : null,
  ]);
  await manager.query(`UPDATE outbox_message SET account_id = NULL WHERE account_id = $1`, [accountId]);
  await manager.query(`DELETE FROM account WHERE id = $1`, [accountId]);
}
