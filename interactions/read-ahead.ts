import type { DataSource } from 'typeorm';
import { createAccountRows } from '../src/accounts/account-rows.js';
import { keepReadAhead, readAheadKey } from '../src/db/read-ahead.js';
import { queryRows } from '../src/db/sql.js';
import type { ModelRow } from '../src/provider/adapter.js';
import type { JourneyRow } from './engine/store.js';

/**
 * Reads, in one statement, the three rows every request to an interaction page starts with:
 * oidc-provider's Interaction, the journey's position and the journey's account. They are kept in
 * the request's read-ahead scope, where the adapter, the journey store and the account service each
 * take theirs once instead of reading it (three round trips become one). Each keeps its own checks:
 * oidc-provider still matches the interaction to its cookie, the store still validates the facts.
 */
export function createInteractionReadAhead(dataSource: DataSource): (uid: string) => Promise<void> {
  const accounts = createAccountRows(dataSource);
  const sql = `SELECT i.payload AS i_payload, i.consumed_at AS i_consumed_at,
      j.uid AS j_uid, j.journey AS j_journey, j.step AS j_step, j.account_id AS j_account_id, j.facts AS j_facts, j.version AS j_version, j.expires_at AS j_expires_at,
      ${accounts.select('a', 'a_')}
    FROM oidc_model i
    LEFT JOIN journey_state j ON j.uid = i.id AND j.expires_at > now()
    LEFT JOIN account a ON a.id = j.account_id
    WHERE i.model = 'Interaction' AND i.id = $1 AND (i.expires_at IS NULL OR i.expires_at > now())`;

  return async (uid) => {
    const [row] = await queryRows(dataSource, sql, [uid]);
    if (!row) {
      keepReadAhead(readAheadKey.oidcModel('Interaction', uid), null);
      return;
    }
    const interaction: ModelRow = { payload: row.i_payload, consumed_at: row.i_consumed_at as ModelRow['consumed_at'] };
    keepReadAhead(readAheadKey.oidcModel('Interaction', uid), interaction);
    if (row.j_uid === null) {
      keepReadAhead(readAheadKey.journey(uid), null);
      return;
    }
    const journey: JourneyRow = {
      uid: row.j_uid as string,
      journey: row.j_journey as string,
      step: row.j_step as string,
      account_id: row.j_account_id as string | null,
      facts: row.j_facts,
      version: row.j_version as number,
      expires_at: row.j_expires_at as Date,
    };
    keepReadAhead(readAheadKey.journey(uid), journey);
    if (journey.account_id) keepReadAhead(readAheadKey.account(journey.account_id), accounts.hydrate(row, 'a_'));
  };
}
