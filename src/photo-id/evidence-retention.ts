import type { DataSource } from 'typeorm';
import { queryRows } from '../db/sql.js';
import type { Audit } from '../security/audit.js';

/**
 * Photo ID evidence is kept only while it is needed (security-bar H3, decisions D22): once a case
 * has been decided (approved or declined) for `retentionDays`, its photo and video bytes are
 * deleted. The case row, the evidence rows' SHA-256 and size, and the audit trail stay, so what
 * was decided, by whom, on what (by hash) is still on record. Cases awaiting review keep theirs.
 */
export interface EvidenceRetention {
  readonly retentionDays: number;
  /**
   * Deletes the evidence of every case decided at least `retentionDays` before `now`, in batches,
   * each batch in one transaction with an audit row per case (`identity.evidence_deleted`). Safe to
   * run on several instances at once: each item is deleted, and audited, exactly once.
   */
  purge(now?: Date): Promise<{ readonly cases: number; readonly items: number }>;
  /** How many cases `purge` would clear now, without deleting anything. */
  due(now?: Date): Promise<number>;
  /** When a case's evidence was deleted, or null while it is kept. */
  deletedOn(caseId: string): Promise<Date | null>;
}

const DAY_MS = 24 * 3600 * 1000;
/** Cases per transaction: each frees up to ~60 MB of bytes, so batches stay short. */
const BATCH_CASES = 50;
const DECIDED = `c.status IN ('approved', 'declined')`;
/** The decision time to the millisecond, as JavaScript dates (and so callers' clocks) see it; PostgreSQL keeps microseconds. */
const DECIDED_BY = `date_trunc('milliseconds', c.decided_at)`;

export function createEvidenceRetention(deps: { dataSource: DataSource; audit: Audit; retentionDays: number }): EvidenceRetention {
  const { dataSource, audit, retentionDays } = deps;
  const cutoff = (now: Date): Date => new Date(now.getTime() - retentionDays * DAY_MS);

  return {
    retentionDays,

    async purge(now = new Date()) {
      let cases = 0;
      let items = 0;
      for (;;) {
        const batch = await dataSource.transaction(async (manager) => {
          // Cases, not evidence rows, are locked (skipping those another instance holds), so a case's
          // photo and video go together, in one audit row; the evidence still kept is found by its partial index.
          const rows = await queryRows<{ case_id: string; account_id: string; kinds: string[] }>(
            manager,
            `WITH due_cases AS (
               SELECT c.id, c.account_id FROM identity_check_case c
               WHERE c.id IN (SELECT e.case_id FROM identity_evidence e WHERE e.deleted_at IS NULL) AND ${DECIDED} AND ${DECIDED_BY} <= $1
               LIMIT $2
               FOR UPDATE OF c SKIP LOCKED
             ), gone AS (
               UPDATE identity_evidence e SET content = NULL, deleted_at = $3 FROM due_cases d
               WHERE e.case_id = d.id AND e.deleted_at IS NULL
               RETURNING e.case_id, e.kind
             )
             SELECT gone.case_id, d.account_id, array_agg(gone.kind::text ORDER BY gone.kind) AS kinds
             FROM gone JOIN due_cases d ON d.id = gone.case_id
             GROUP BY gone.case_id, d.account_id`,
            [cutoff(now), BATCH_CASES, now],
          );
          for (const row of rows) {
            await audit.record('identity.evidence_deleted', { accountId: row.account_id, detail: { caseId: row.case_id, kinds: row.kinds, retentionDays } }, manager);
          }
          return rows;
        });
        cases += batch.length;
        items += batch.reduce((sum, row) => sum + row.kinds.length, 0);
        if (batch.length === 0) return { cases, items };
      }
    },

    async due(now = new Date()) {
      const [row] = await queryRows<{ n: number }>(
        dataSource,
        `SELECT count(DISTINCT e.case_id)::int AS n FROM identity_evidence e JOIN identity_check_case c ON c.id = e.case_id
         WHERE e.deleted_at IS NULL AND ${DECIDED} AND ${DECIDED_BY} <= $1`,
        [cutoff(now)],
      );
      return row?.n ?? 0;
    },

    async deletedOn(caseId) {
      const [row] = await queryRows<{ deleted_at: Date | null }>(dataSource, `SELECT max(deleted_at) AS deleted_at FROM identity_evidence WHERE case_id = $1`, [caseId]);
      return row?.deleted_at ? new Date(row.deleted_at) : null;
    },
  };
}
