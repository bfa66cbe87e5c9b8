import type { DataSource } from 'typeorm';
import { normaliseEmail, type Account } from '../../entities/account.js';
import { readAheadKey, takeReadAhead } from '../db/read-ahead.js';
import { queryRows } from '../db/sql.js';
import { createAccountRows } from './account-rows.js';

export interface AccountService {
  /** By normaliseEmail, so "User@Example.com " finds user@example.com (H1). */
  findByEmail(email: string): Promise<Account | null>;
  findById(id: string): Promise<Account | null>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAccountService(dataSource: DataSource): AccountService {
  const rows = createAccountRows(dataSource);
  const selectAccount = `SELECT ${rows.select('a', '')} FROM account a WHERE `;
  const one = async (where: 'a.id' | 'a.email_normalised', value: string): Promise<Account | null> => {
    const [row] = await queryRows(dataSource, `${selectAccount}${where} = $1`, [value]);
    return row ? rows.hydrate(row, '') : null;
  };
  return {
    async findByEmail(email) {
      if (typeof email !== 'string') return null;
      const key = normaliseEmail(email);
      // The column is varchar(320): a longer address cannot belong to anyone, so skip the query.
      if (key.length === 0 || key.length > 320) return null;
      return one('a.email_normalised', key);
    },
    async findById(id) {
      // `sub` values arrive from sessions and tokens; anything that is not a UUID would make
      // PostgreSQL raise "invalid input syntax for type uuid" instead of simply finding nothing.
      if (typeof id !== 'string' || !UUID.test(id)) return null;
      const readAhead = takeReadAhead<Account>(readAheadKey.account(id.toLowerCase()));
      if (readAhead) return readAhead.row;
      return one('a.id', id.toLowerCase());
    },
  };
}
