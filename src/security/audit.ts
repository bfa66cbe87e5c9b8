import type { DataSource, EntityManager } from 'typeorm';
import { CareloginError } from '../errors.js';
import type { Logger } from '../logger.js';
import { queryRows } from '../db/sql.js';

/**
 * The security audit trail (ASVS 16.2–16.4; security-bar F4, H2, H3): one append-only
 * `audit_event` row per security-relevant event, plus an info log line without personal data.
 *
 * Types are noun.verb, past tense: account.created, account.signed_in, password.failed,
 * password.locked, security_code.sent, security_code.failed, security_code.locked,
 * security_code.throttled (detail.scope 'ip' | 'prefix'), sms.daily_budget_exceeded, …
 */
export interface AuditEventInput {
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface Audit {
  /** With `manager`, the row commits or rolls back with the caller's change (H2: no decision without its audit row). */
  record(type: string, event: AuditEventInput, manager?: EntityManager): Promise<void>;
}

export const AUDIT_TYPE_PATTERN = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

/** Secrets never belong in the audit trail, whoever passes them (F4). Dropped before storing. */
const SECRET_KEYS = new Set([
  'password', 'newpassword', 'currentpassword', 'passwordhash', 'password_hash', 'code', 'securitycode', 'otp', 'totp',
  'secret', 'totpsecret', 'recoverycode', 'token', 'access_token', 'refresh_token', 'id_token', 'accesstoken', 'refreshtoken',
  'idtoken', 'authorization', 'cookie', 'cookies', 'set-cookie', 'linkagekey', 'linkage_key', 'gp_linkage_key', 'gplinkagekey',
  'devicetoken', 'csrf', '_csrf', 'code_verifier', 'codeverifier', 'client_assertion',
]);

/** Detail keys whose short string values are safe for ordinary logs (no personal data). */
const LOGGABLE_STRING_KEYS = new Set(['scope', 'reason', 'method', 'purpose', 'channel', 'journey', 'step', 'level', 'from', 'to', 'result', 'outcome', 'vot', 'acr', 'amr', 'proofingLevel', 'route', 'prompt']);

function withoutSecrets(detail: Record<string, unknown>): Record<string, unknown> {
  const clean: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (SECRET_KEYS.has(key.toLowerCase())) continue;
    clean[key] = value && typeof value === 'object' && !Array.isArray(value) ? withoutSecrets(value as Record<string, unknown>) : value;
  }
  return clean;
}

/** Numbers and booleans always; strings only for known harmless keys. Everything else stays in the database. */
function loggableDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'string' && LOGGABLE_STRING_KEYS.has(key) && value.length <= 64) out[key] = value;
  }
  return out;
}

export function createAudit(dataSource: DataSource, logger: Logger): Audit {
  return {
    async record(type, event, manager) {
      if (!AUDIT_TYPE_PATTERN.test(type) || type.length > 60) throw new CareloginError('audit_type_invalid', `Audit event type must be noun.verb: ${JSON.stringify(type)}`);
      const detail = withoutSecrets(event.detail ?? {});
      await queryRows(
        manager ?? dataSource,
        'INSERT INTO audit_event (type, account_id, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5::jsonb)',
        [type, event.accountId ?? null, event.clientId?.slice(0, 255) ?? null, event.ip?.slice(0, 64) ?? null, JSON.stringify(detail)],
      );
      // The account id is a random UUID (the OIDC sub), not personal data on its own; the IP and
      // free-text detail stay in the database only.
      logger.info({ audit: type, accountId: event.accountId ?? undefined, clientId: event.clientId ?? undefined, ...loggableDetail(detail) }, `audit ${type}`);
    },
  };
}
