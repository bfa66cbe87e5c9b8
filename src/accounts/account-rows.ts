import type { DataSource } from 'typeorm';
import { Account } from '../../entities/account.js';

/**
 * Accounts read with hand-written SQL and hydrated through TypeORM's own column metadata and type
 * conversions, so the result is the entity `findOneBy` would give without its query builder, and
 * the SQL can never drift from the entity. An account is read on almost every journey request.
 */
export interface AccountRows {
  /** The select list for every column of the account table under `alias`, each named `<prefix><column>`. */
  select(alias: string, prefix: string): string;
  /** The account in a row selected with `select`, or null when the row holds none (a LEFT JOIN that found nothing). */
  hydrate(row: Record<string, unknown>, prefix: string): Account | null;
}

export function createAccountRows(dataSource: DataSource): AccountRows {
  const metadata = dataSource.getMetadata(Account);
  const columns = metadata.columns;
  const primary = metadata.primaryColumns[0]!.databaseName;
  const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
  return {
    select(alias, prefix) {
      return columns.map((column) => `${alias}.${quote(column.databaseName)} AS ${quote(prefix + column.databaseName)}`).join(', ');
    },
    hydrate(row, prefix) {
      if (row[prefix + primary] === null || row[prefix + primary] === undefined) return null;
      const account = metadata.create() as Account;
      for (const column of columns) {
        column.setEntityValue(account, dataSource.driver.prepareHydratedValue(row[prefix + column.databaseName], column));
      }
      return account;
    },
  };
}
