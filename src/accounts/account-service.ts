import type { DataSource } from 'typeorm';
import { Account, normaliseEmail } from '../../entities/account.js';

export interface AccountService {
  /** By normaliseEmail, so "User@Example.com " finds user@example.com (H1). */
  findByEmail(email: string): Promise<Account | null>;
  findById(id: string): Promise<Account | null>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAccountService(dataSource: DataSource): AccountService {
  const accounts = dataSource.getRepository(Account);
  return {
    async findByEmail(email) {
      if (typeof email !== 'string') return null;
      const key = normaliseEmail(email);
      // The column is varchar(320): a longer address cannot belong to anyone, so skip the query.
      if (key.length === 0 || key.length > 320) return null;
      return accounts.findOneBy({ emailNormalised: key });
    },
    async findById(id) {
      // `sub` values arrive from sessions and tokens; anything that is not a UUID would make
      // PostgreSQL raise "invalid input syntax for type uuid" instead of simply finding nothing.
      if (typeof id !== 'string' || !UUID.test(id)) return null;
      return accounts.findOneBy({ id: id.toLowerCase() });
    },
  };
}
