import { z } from 'zod';
import type { DataSource, EntityManager } from 'typeorm';
import { JourneyState } from '../../entities/journey-state.js';
import { CREDENTIAL_COMPONENTS } from '../../src/provider/vectors.js';
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
  stepUp: z.object({ reason: z.enum(['credentials', 'proofing']), missing: z.array(z.enum(CREDENTIAL_COMPONENTS as readonly ['Cp', 'Cd', 'Ck', 'Cm'])) }).optional(),
}).strict();

const JOURNEY_IDS = ['sign-in', 'step-up', 'create-account'] as const satisfies readonly JourneyId[];

export interface JourneyStore {
  /** The journey for this interaction, or null when there is none, it has expired or its row is unreadable. */
  load(uid: string): Promise<JourneyRecord | null>;
  /**
   * Creates the journey unless one exists (two first requests racing create one row).
   * Returns the created record, or null when another request created it first.
   */
  create(manager: EntityManager, record: Omit<JourneyRecord, 'version'>): Promise<JourneyRecord | null>;
  /**
   * Moves the journey on, only if nobody else has since `current` was read: the optimistic
   * version check that stops a double-submitted form advancing twice. Throws JourneyConflictError.
   */
  advance(manager: EntityManager, current: JourneyRecord, change: JourneyChange): Promise<JourneyRecord>;
}

export function createJourneyStore(dataSource: DataSource): JourneyStore {
  return {
    async load(uid) {
      const row = await dataSource.getRepository(JourneyState).findOneBy({ uid });
      if (!row || row.expiresAt.getTime() <= Date.now()) return null;
      const facts = journeyFactsSchema.safeParse(row.facts);
      const journey = (JOURNEY_IDS as readonly string[]).includes(row.journey) ? (row.journey as JourneyId) : undefined;
      if (!facts.success || !journey) return null;
      return { uid: row.uid, journey, step: row.step, accountId: row.accountId, facts: facts.data, version: row.version, expiresAt: row.expiresAt };
    },

    async create(manager, record) {
      // ON CONFLICT DO NOTHING + RETURNING: only the request that inserted gets a row back.
      const rows: unknown = await manager.query(
        `INSERT INTO journey_state (uid, journey, step, account_id, facts, version, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, 0, $6, now())
         ON CONFLICT (uid) DO NOTHING
         RETURNING uid`,
        [record.uid, record.journey, record.step, record.accountId, JSON.stringify(journeyFactsSchema.parse(record.facts)), record.expiresAt],
      );
      return Array.isArray(rows) && rows.length === 1 ? { ...record, version: 0 } : null;
    },

    async advance(manager, current, change) {
      const result = await manager
        .createQueryBuilder()
        .update(JourneyState)
        .set({ ...(change.journey ? { journey: change.journey } : {}), step: change.step, accountId: change.accountId, facts: journeyFactsSchema.parse(change.facts), version: current.version + 1, updatedAt: new Date() })
        .where('uid = :uid AND version = :version', { uid: current.uid, version: current.version })
        .execute();
      if (result.affected !== 1) throw new JourneyConflictError(current.uid);
      return { ...current, ...change, journey: change.journey ?? current.journey, version: current.version + 1 };
    },
  };
}

/**
 * Deletes journeys whose interaction has expired (they can never be resumed). Meant for the same
 * periodic purge that removes expired oidc-provider records; returns how many rows went.
 */
export async function purgeExpiredJourneys(dataSource: DataSource): Promise<number> {
  const result = await dataSource.createQueryBuilder().delete().from(JourneyState).where('expires_at <= now()').execute();
  return result.affected ?? 0;
}
