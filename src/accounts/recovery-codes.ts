import { createHmac, randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Account } from '../../entities/account.js';
import { queryRows } from '../db/sql.js';
import type { Notifications } from '../notifications/outbox.js';
import type { RecoveryCodesChange } from '../notifications/templates.js';
import type { Audit } from '../security/audit.js';
import { lockoutKeys, type AttemptCounters } from '../security/attempt-counters.js';
import { hmacKeyId, hmacKeyRing, ringSecrets, type HmacKeys } from '../security/hmac-key-ring.js';

/**
 * Saved recovery codes (NIST SP 800-63B §4.2.1.1, security-bar B7, decisions D21), as Keycloak's
 * "Recovery Authentication Codes" and GitHub's: a set of ten, each 80 bits from the CSPRNG, shown
 * once and never again. Only a keyed hash of each is stored (HMAC-SHA256 under the keystore's HMAC
 * secret, bound to the account), so a database reader can neither use nor test a code.
 *
 * - Using a code is one conditional UPDATE (`used_at IS NULL`) that also counts the account's codes
 *   down, so of two sign-ins racing with one code exactly one succeeds.
 * - A new set replaces the old one in the same transaction: every old code dies at once.
 * - Every change and every use is audited and told to the owner by email, and by text message when
 *   the account has a verified mobile, in the transaction that makes it.
 * - Lockouts are the caller's (the recovery-code step, lockoutKeys.recoveryCode); a new set resets
 *   them, as a new authenticator app does (NIST rebinding).
 */

export const RECOVERY_CODE_COUNT = 10;
/** Random bytes per code: 80 bits, above NIST's 64. */
const CODE_BYTES = 10;
/** Crockford's base32: no I, L, O or U, so codes survive being read aloud, written down and typed. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RECOVERY_CODE_LENGTH = (CODE_BYTES * 8) / 5;
const CODE_PATTERN = new RegExp(`^[${ALPHABET}]{${RECOVERY_CODE_LENGTH}}$`);
const HASH_LABEL = 'carelogin recovery code v1';

export type { RecoveryCodesChange };

/** Who is told about a change, and where. */
type Owner = Pick<Account, 'id' | 'email' | 'mobileNumber' | 'mobileVerifiedAt'>;

export type RecoveryCodeUse = { readonly used: true; readonly left: number } | { readonly used: false };

export interface RecoveryCodes {
  /**
   * Makes a new set for the account, replacing any set it had, and returns the codes: the only time
   * they exist in the clear. Audited and told to the owner in the same transaction.
   */
  generate(account: Owner, meta: { ip: string }): Promise<string[]>;
  /**
   * Uses `code` (as typed) once: the atomic "accepted once", the audit row and the notices to the
   * owner in one transaction. `used: false` for a wrong, used or malformed code, with nothing written.
   */
  use(account: Owner, code: string, meta: { ip: string; clientId?: string | undefined }): Promise<RecoveryCodeUse>;
  /** Removes every code of the account, audits and tells the owner. False when it had none. */
  turnOff(account: Owner, meta: { ip: string }): Promise<boolean>;
}

/** A code in the groups of four it is shown in: "7KQ2 M9XD 4TRB H0WE". */
export function groupedRecoveryCode(code: string): string {
  return code.replace(/(.{4})(?=.)/g, '$1 ');
}

/**
 * A code as typed, in its stored form, or undefined when it cannot be one. Spaces and dashes are
 * ignored, case does not matter, and O, I and L are read as 0, 1 and 1 (Crockford), as people mistake them.
 */
export function normaliseRecoveryCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]+/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return CODE_PATTERN.test(code) ? code : undefined;
}

/** One new code: CODE_BYTES from the CSPRNG, 5 bits a character. */
export function newRecoveryCode(): string {
  const bytes = randomBytes(CODE_BYTES);
  let bits = 0;
  let value = 0;
  let code = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      code += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return code;
}

export function createRecoveryCodes(deps: { dataSource: DataSource; hmacKeys: HmacKeys; counters: AttemptCounters; notifications: Notifications; audit: Audit }): RecoveryCodes {
  const { dataSource, counters, notifications, audit } = deps;
  const ring = hmacKeyRing(deps.hmacKeys, 'recovery codes');
  const currentKeyId = hmacKeyId(ring.current).toString('hex');

  function hashWith(secret: string, accountId: string, code: string): string {
    // Bound to the account: a row copied to another account matches no code of that account's.
    return createHmac('sha256', secret).update(`${HASH_LABEL}\0${accountId}\0${code}`).digest('hex');
  }

  /** The notices for `what`, to the email address and to a verified mobile. */
  async function tell(manager: EntityManager, owner: Owner, what: { kind: 'changed'; change: RecoveryCodesChange } | { kind: 'used'; left: number }): Promise<void> {
    const mobile = owner.mobileNumber && owner.mobileVerifiedAt ? owner.mobileNumber : undefined;
    if (what.kind === 'changed') {
      await notifications.enqueue(manager, { template: 'recovery-codes-changed', to: owner.email, data: { change: what.change }, accountId: owner.id });
      if (mobile) await notifications.enqueue(manager, { template: 'recovery-codes-changed-sms', to: mobile, data: { change: what.change }, accountId: owner.id });
      return;
    }
    await notifications.enqueue(manager, { template: 'recovery-code-used', to: owner.email, data: { left: what.left }, accountId: owner.id });
    if (mobile) await notifications.enqueue(manager, { template: 'recovery-code-used-sms', to: mobile, data: { left: what.left }, accountId: owner.id });
  }

  return {
    async generate(account, meta) {
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      await dataSource.transaction(async (manager) => {
        // The account row is the lock: two generations at once end with one whole set, not a mixture.
        const [row] = await queryRows<{ recovery_codes_created_at: Date | null }>(manager, `SELECT recovery_codes_created_at FROM account WHERE id = $1 FOR UPDATE`, [account.id]);
        await manager.query(`DELETE FROM recovery_code WHERE account_id = $1`, [account.id]);
        await manager.query(
          `INSERT INTO recovery_code (account_id, code_hash, key_id) SELECT $1, hash, $3 FROM unnest($2::varchar[]) AS hash`,
          [account.id, codes.map((code) => hashWith(ring.current, account.id, code)), currentKeyId],
        );
        await manager.query(`UPDATE account SET recovery_codes_left = $2, recovery_codes_created_at = now(), updated_at = now() WHERE id = $1`, [account.id, codes.length]);
        // A new set is a new authenticator: the old set's failures do not carry over (NIST rebinding).
        await counters.reset(lockoutKeys.recoveryCode(account.id), manager);
        const change: RecoveryCodesChange = row?.recovery_codes_created_at ? 'replaced' : 'created';
        await audit.record(`recovery_codes.${change === 'created' ? 'created' : 'replaced'}`, { accountId: account.id, ip: meta.ip, detail: { count: codes.length } }, manager);
        await tell(manager, account, { kind: 'changed', change });
      });
      return codes;
    },

    async use(account, typed, meta) {
      const code = normaliseRecoveryCode(typed);
      if (!code) return { used: false };
      // The code's hash under every secret of the ring, so a rotation of the HMAC secret kills no code.
      const hashes = ringSecrets(ring).map((secret) => hashWith(secret, account.id, code));
      return dataSource.transaction(async (manager): Promise<RecoveryCodeUse> => {
        const [row] = await queryRows<{ left: number }>(
          manager,
          `WITH used AS (
             UPDATE recovery_code SET used_at = now()
              WHERE account_id = $1 AND used_at IS NULL AND code_hash = ANY($2::varchar[])
              RETURNING account_id
           )
           UPDATE account SET recovery_codes_left = GREATEST(recovery_codes_left - 1, 0), updated_at = now()
             FROM used WHERE account.id = used.account_id
           RETURNING recovery_codes_left AS left`,
          [account.id, hashes],
        );
        if (!row) return { used: false };
        await audit.record('recovery_code.used', { accountId: account.id, clientId: meta.clientId ?? null, ip: meta.ip, detail: { left: row.left } }, manager);
        await tell(manager, account, { kind: 'used', left: row.left });
        return { used: true, left: row.left };
      });
    },

    async turnOff(account, meta) {
      return dataSource.transaction(async (manager) => {
        const rows = await queryRows(
          manager,
          `UPDATE account SET recovery_codes_left = 0, recovery_codes_created_at = NULL, updated_at = now()
            WHERE id = $1 AND recovery_codes_created_at IS NOT NULL RETURNING id`,
          [account.id],
        );
        await manager.query(`DELETE FROM recovery_code WHERE account_id = $1`, [account.id]);
        if (rows.length === 0) return false;
        await counters.reset(lockoutKeys.recoveryCode(account.id), manager);
        await audit.record('recovery_codes.turned_off', { accountId: account.id, ip: meta.ip }, manager);
        await tell(manager, account, { kind: 'changed', change: 'turned-off' });
        return true;
      });
    },
  };
}

/**
 * How many accounts have unused recovery codes hashed under any of `secrets` (by key id). A code
 * cannot be hashed again without the code itself, so pruning a previous HMAC secret ends those
 * codes; `keys prune` says how many people that touches (decisions D21).
 */
export async function accountsWithRecoveryCodesUnder(dataSource: DataSource, secrets: readonly string[]): Promise<number> {
  if (secrets.length === 0) return 0;
  const [row] = await queryRows<{ accounts: number }>(
    dataSource,
    'SELECT count(DISTINCT account_id)::int AS accounts FROM recovery_code WHERE used_at IS NULL AND key_id = ANY($1::varchar[])',
    [secrets.map((secret) => hmacKeyId(secret).toString('hex'))],
  );
  return row?.accounts ?? 0;
}
