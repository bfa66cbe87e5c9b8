import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { DataSource } from 'typeorm';
import { keepReadAhead, readAheadKey, takeReadAhead } from '../db/read-ahead.js';
import { queryRows } from '../db/sql.js';

/**
 * oidc-provider's storage: every model in the one `oidc_model` table, JSONB payload, hand-written SQL
 * (no TypeORM find/save on this hot path). Consumption is a single conditional UPDATE, so of two
 * racing redemptions of one code or refresh token exactly one wins; the loser revokes the whole grant.
 */
const CONSUMABLE_ERRORS: Record<string, string> = {
  AuthorizationCode: 'authorization code already consumed',
  RefreshToken: 'refresh token already used',
  DeviceCode: 'device code already consumed',
};

export function createAdapterFactory(dataSource: DataSource): (model: string) => Adapter {
  return (model: string) => new SqlAdapter(model, dataSource);
}

class SqlAdapter implements Adapter {
  constructor(private readonly model: string, private readonly db: DataSource) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    const values = [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt];
    if (this.model === 'ReplayDetection') {
      // Replay detection is find-then-save in oidc-provider; make the save itself refuse a duplicate
      // so two concurrent requests with the same client-assertion jti cannot both pass.
      const inserted = await queryRows(
        this.db,
        `INSERT INTO oidc_model (model, id, payload, grant_id, uid, user_code, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO NOTHING RETURNING id`,
        values,
      );
      if (inserted.length === 0) throw new errors.InvalidClient('client assertion replay detected');
      return;
    }
    await queryRows(
      this.db,
      `INSERT INTO oidc_model (model, id, payload, grant_id, uid, user_code, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
         user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
      values,
    );
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // oidc-provider looks a client assertion's jti up before saving it; the save above refuses a
    // duplicate by itself, so the look-up is one statement per token request that decides nothing.
    if (this.model === 'ReplayDetection') return undefined;
    const readAhead = takeReadAhead<ModelRow>(readAheadKey.oidcModel(this.model, id));
    if (readAhead) return readAhead.row ? payloadFrom(readAhead.row) : undefined;
    return this.findWhere('id', id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    const won = await queryRows(
      this.db,
      `UPDATE oidc_model SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL RETURNING id`,
      [this.model, id],
    );
    if (won.length > 0) return;
    const [row] = await queryRows<{ grant_id: string | null }>(this.db, `SELECT grant_id FROM oidc_model WHERE model = $1 AND id = $2`, [this.model, id]);
    if (row?.grant_id) await revokeGrant(this.db, row.grant_id);
    throw new errors.InvalidGrant(CONSUMABLE_ERRORS[this.model] ?? 'grant already used');
  }

  async destroy(id: string): Promise<void> {
    await queryRows(this.db, `DELETE FROM oidc_model WHERE model = $1 AND id = $2`, [this.model, id]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await queryRows(this.db, `DELETE FROM oidc_model WHERE model = $1 AND grant_id = $2`, [this.model, grantId]);
  }

  private async findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const [row] = await queryRows<ModelRow>(
      this.db,
      `SELECT payload, consumed_at FROM oidc_model WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
      [this.model, value],
    );
    return row ? payloadFrom(row) : undefined;
  }
}

/** A live oidc_model row as the adapter reads it (also read ahead with a journey request's other rows). */
export interface ModelRow {
  payload: unknown;
  consumed_at: Date | string | null;
}

function payloadFrom(row: ModelRow): AdapterPayload {
  const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as AdapterPayload;
  if (row.consumed_at) payload.consumed = Math.floor(new Date(row.consumed_at).getTime() / 1000);
  return payload;
}

/** Deletes the grant and everything issued under it (codes, access and refresh tokens). */
export async function revokeGrant(db: DataSource, grantId: string): Promise<void> {
  await queryRows(db, `DELETE FROM oidc_model WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)`, [grantId]);
}

/**
 * The newest live consent (Grant) an account gave a client, so consent is asked once, not every
 * session. The row is also kept in the read-ahead scope, if the caller opened one, for the
 * `Grant.find` that usually follows.
 */
export async function findGrantId(db: DataSource, accountId: string, clientId: string): Promise<string | undefined> {
  const [row] = await queryRows<ModelRow & { id: string }>(
    db,
    `SELECT id, payload, consumed_at FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1 AND payload->>'clientId' = $2
       AND (expires_at IS NULL OR expires_at > now()) ORDER BY expires_at DESC NULLS LAST LIMIT 1`,
    [accountId, clientId],
  );
  if (row) keepReadAhead(readAheadKey.oidcModel('Grant', row.id), { payload: row.payload, consumed_at: row.consumed_at });
  return row?.id;
}

/** Removes expired rows; run periodically by every instance (cheap, idempotent). */
export async function purgeExpiredModels(db: DataSource): Promise<number> {
  const rows = await queryRows(db, `DELETE FROM oidc_model WHERE expires_at < now() - interval '1 minute' RETURNING 1`);
  return rows.length;
}
