import { z } from 'zod';
import type { DataSource, EntityManager } from 'typeorm';
import { readAheadKey, takeReadAhead } from '../../src/db/read-ahead.js';
import { queryRows } from '../../src/db/sql.js';
import { CREDENTIAL_COMPONENTS, PROOFING_LEVELS } from '../../src/provider/vectors.js';
import { JourneyConflictError } from './errors.js';
import type { JourneyFacts, JourneyId } from './types.js';

/** A journey's position as the engine sees it: journey_state, with facts validated. */
export interface JourneyRecord {
  readonly uid: string;
  readonly journey: JourneyId;
  readonly step: string;
  readonly accountId: string | null;
  readonly facts: JourneyFacts;
  readonly version: number;
  readonly expiresAt: Date;
}

export interface JourneyChange {
  /** Only when another journey takes over the interaction (JourneyEntry). */
  readonly journey?: JourneyId;
  readonly step: string;
  readonly accountId: string | null;
  readonly facts: JourneyFacts;
}

const AMR_VALUES = ['pwd', 'sms', 'remembered_device', 'otp', 'hwk'] as const;
const CREDENTIAL = z.enum(CREDENTIAL_COMPONENTS as readonly ['Cp', 'Cd', 'Ck', 'Cm']);

/**
 * What may be in journey_state.facts. Rows are read back through this, so a row written by an
 * older release (or edited by hand) is treated as no journey at all rather than trusted.
 */
export const journeyFactsSchema = z.object({
  email: z.string().max(320).optional(),
  amr: z.array(z.enum(AMR_VALUES)).max(AMR_VALUES.length).optional(),
  hasVerifiedMobile: z.boolean().optional(),
  hasVerifiedEmail: z.boolean().optional(),
  newMobile: z.string().regex(/^\+44\d{10}$/).optional(),
  mobileChangeHeld: z.boolean().optional(),
  stepUp: z
    .object({ reason: z.enum(['credentials', 'proofing']), missing: z.array(CREDENTIAL).max(CREDENTIAL_COMPONENTS.length), level: z.enum(PROOFING_LEVELS as readonly ['P0', 'P5', 'P9']).optional() })
    .strict()
    .optional(),
  identityLevel: z.enum(PROOFING_LEVELS as readonly ['P0', 'P5', 'P9']).optional(),
  proofingRoutes: z.array(z.enum(['demographics-match', 'gp-linkage', 'photo-id'])).max(3).optional(),
  photoIdCaseAwaitingReview: z.boolean().optional(),
  photoIdDigits: z.string().regex(/^\d{4}$/).optional(),
  hasAuthenticatorApp: z.boolean().optional(),
  hasRecoveryCodes: z.boolean().optional(),
  recoveryCodeUsedAt: z.number().int().positive().optional(),
  hasPasskey: z.boolean().optional(),
  passkeyChallenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/).optional(),
  requestedCredentials: z.array(z.array(CREDENTIAL).max(CREDENTIAL_COMPONENTS.length)).max(12).optional(),
}).strict();

const JOURNEY_IDS = ['sign-in', 'step-up', 'create-account'] as const satisfies readonly JourneyId[];

/** The data source, or a transaction's manager when the write must commit with the step's effects. */
type Queryable = Pick<EntityManager, 'query'>;

/** A journey_state row as read (also read ahead with a journey request's other rows). */
export interface JourneyRow {
  uid: string;
  journey: string;
  step: string;
  account_id: string | null;
  facts: unknown;
  version: number;
  expires_at: Date;
}

export interface JourneyStore {
  /** The journey for this interaction, or null when there is none, it has expired or its row is unreadable. */
  load(uid: string): Promise<JourneyRecord | null>;
  /**
   * Creates the journey unless one exists (two first requests racing create one row).
   * Returns the created record, or null when another request created it first.
   */
  create(db: Queryable, record: Omit<JourneyRecord, 'version'>): Promise<JourneyRecord | null>;
  /**
   * Moves the journey on, only if nobody else has since `current` was read: the optimistic
   * version check that stops a double-submitted form advancing twice. Throws JourneyConflictError.
   */
  advance(db: Queryable, current: JourneyRecord, change: JourneyChange): Promise<JourneyRecord>;
}

// Hand-written SQL, one statement each: every journey page reads its position and most posts
// write it, so this is on the sign-in hot path (docs/performance.md).
export function createJourneyStore(dataSource: DataSource): JourneyStore {
  return {
    async load(uid) {
      const readAhead = takeReadAhead<JourneyRow>(readAheadKey.journey(uid));
      if (readAhead) return readAhead.row ? journeyFromRow(readAhead.row) : null;
      const [row] = await queryRows<JourneyRow>(dataSource,
        'SELECT uid, journey, step, account_id, facts, version, expires_at FROM journey_state WHERE uid = $1 AND expires_at > now()', [uid]);
      return row ? journeyFromRow(row) : null;
    },

    async create(db, record) {
      // ON CONFLICT DO NOTHING + RETURNING: only the request that inserted gets a row back.
      const rows = await queryRows<{ uid: string }>(db,
        `INSERT INTO journey_state (uid, journey, step, account_id, facts, version, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, 0, $6, now())
         ON CONFLICT (uid) DO NOTHING
         RETURNING uid`,
        [record.uid, record.journey, record.step, record.accountId, JSON.stringify(journeyFactsSchema.parse(record.facts)), record.expiresAt],
      );
      return rows.length === 1 ? { ...record, version: 0 } : null;
    },

    async advance(db, current, change) {
      const journey = change.journey ?? current.journey;
      const rows = await queryRows<{ uid: string }>(db,
        `UPDATE journey_state SET journey = $1, step = $2, account_id = $3, facts = $4::jsonb, version = version + 1, updated_at = now()
         WHERE uid = $5 AND version = $6
         RETURNING uid`,
        [journey, change.step, change.accountId, JSON.stringify(journeyFactsSchema.parse(change.facts)), current.uid, current.version],
      );
      if (rows.length !== 1) throw new JourneyConflictError(current.uid);
      return { ...current, ...change, journey, version: current.version + 1 };
    },
  };
}

/** The record in a row, or null when the row cannot be trusted (an unknown journey, facts that fail the schema). */
function journeyFromRow(row: JourneyRow): JourneyRecord | null {
  const facts = journeyFactsSchema.safeParse(row.facts);
  const journey = (JOURNEY_IDS as readonly string[]).includes(row.journey) ? (row.journey as JourneyId) : undefined;
  if (!facts.success || !journey) return null;
  return { uid: row.uid, journey, step: row.step, accountId: row.account_id, facts: facts.data, version: row.version, expiresAt: new Date(row.expires_at) };
}

/**
 * Deletes journeys whose interaction has expired (they can never be resumed). Meant for the same
 * periodic purge that removes expired oidc-provider records; returns how many rows went.
 */
export async function purgeExpiredJourneys(dataSource: DataSource): Promise<number> {
  const [row] = await queryRows<{ removed: number }>(dataSource, 'WITH gone AS (DELETE FROM journey_state WHERE expires_at <= now() RETURNING 1) SELECT count(*)::int AS removed FROM gone', []);
  return row?.removed ?? 0;
}
