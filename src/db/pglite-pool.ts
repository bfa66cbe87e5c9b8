import { EventEmitter } from 'node:events';
import { types, type PGlite } from '@electric-sql/pglite';
import { withTimeout } from '../with-timeout.js';

/**
 * A node-postgres-shaped driver over one embedded PGlite database, handed to TypeORM as `driver`.
 *
 * PGlite is a single session, so checkouts are serialised (the semantics of `pg.Pool({ max: 1 })`):
 * concurrent transactions queue instead of interleaving on one session, which is what makes
 * `typeorm-pglite` lose updates. A client released with an error is rolled back.
 */
interface QueryResultLike {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: { name: string; dataTypeID: number }[];
}

type Callback<T> = (error: Error | null, result?: T) => void;

const ACQUIRE_TIMEOUT_MS = 15000;

export const PGLITE_PARSERS = {
  // node-postgres returns int8/numeric as strings; do the same so both backends behave alike.
  [types.INT8]: (value: string): string => value,
  [types.NUMERIC]: (value: string): string => value,
};

export function createPGliteDriver(db: PGlite): { Pool: new (options?: unknown) => EventEmitter; defaults: Record<string, unknown> } {
  let holder: Promise<void> = Promise.resolve();

  async function acquire(): Promise<() => void> {
    let release!: () => void;
    const previous = holder;
    holder = new Promise<void>((resolve) => (release = resolve));
    await withTimeout(previous, ACQUIRE_TIMEOUT_MS, () => new Error('PGlite pool: timed out waiting for the database session'));
    return release;
  }

  async function run(text: string, params?: unknown[]): Promise<QueryResultLike> {
    const hasParams = Array.isArray(params) && params.length > 0;
    if (!hasParams && /;\s*\S/.test(text.trim().replace(/;\s*$/, ''))) {
      const results = await db.exec(text);
      const last = results[results.length - 1];
      return toResult(text, last?.rows ?? [], last?.affectedRows, last?.fields ?? []);
    }
    const result = await db.query(text, hasParams ? params : undefined, { parsers: PGLITE_PARSERS });
    return toResult(text, result.rows, result.affectedRows, result.fields);
  }

  class Client extends EventEmitter {
    constructor(private readonly releaseSession: () => void) {
      super();
    }

    query(text: string | { text: string; values?: unknown[] }, params?: unknown[] | Callback<QueryResultLike>, callback?: Callback<QueryResultLike>): Promise<QueryResultLike> | void {
      const sql = typeof text === 'string' ? text : text.text;
      const values = typeof params === 'function' ? (typeof text === 'string' ? undefined : text.values) : (params ?? (typeof text === 'string' ? undefined : text.values));
      const cb = typeof params === 'function' ? params : callback;
      const promise = run(sql, values);
      if (cb) {
        promise.then((result) => cb(null, result), (error: Error) => cb(error));
        return;
      }
      return promise;
    }

    release = (error?: unknown): void => {
      if (error) {
        db.query('ROLLBACK').catch(() => undefined).finally(() => this.releaseSession());
      } else {
        this.releaseSession();
      }
    };
  }

  class Pool extends EventEmitter {
    constructor(_options?: unknown) {
      super();
    }

    connect(callback?: (error: Error | null, client?: Client, release?: (error?: unknown) => void) => void): Promise<Client> | void {
      const promise = acquire().then((releaseSession) => new Client(releaseSession));
      if (callback) {
        promise.then((client) => callback(null, client, client.release), (error: Error) => callback(error));
        return;
      }
      return promise;
    }

    async query(text: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<QueryResultLike> {
      const release = await acquire();
      try {
        // A statement's name means nothing to PGlite (one session, its own plan cache): run the text.
        return typeof text === 'string' ? await run(text, params) : await run(text.text, text.values);
      } finally {
        release();
      }
    }

    end(callback?: (error?: Error) => void): Promise<void> | void {
      // The PGlite instance belongs to whoever created it; ending the pool leaves it open.
      if (callback) {
        callback();
        return;
      }
      return Promise.resolve();
    }
  }

  return { Pool, defaults: {} };
}

function toResult(text: string, rows: unknown[], affectedRows: number | undefined, fields: { name: string; dataTypeID: number }[]): QueryResultLike {
  const command = (/^\s*(\w+)/.exec(text)?.[1] ?? '').toUpperCase();
  return { rows, rowCount: affectedRows ?? rows.length, command, fields };
}
