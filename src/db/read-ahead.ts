import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Rows that one statement read ahead for the current request, so the modules that would each have
 * read their own (oidc-provider's adapter, the journey store, the account service) do not go back
 * to the database for them. Every SQL round trip wakes a database connection, and on a journey
 * page those wake-ups cost more than the work (docs/performance.md).
 *
 * Each row is handed out once: the first reader gets it and any later read in the request goes to
 * the database, so nothing written since is ever served stale. Outside a `withReadAhead` scope
 * nothing is kept and every read goes to the database.
 */
const scope = new AsyncLocalStorage<Map<string, unknown>>();

/** Runs `work` with an empty read-ahead scope of its own. */
export function withReadAhead<T>(work: () => Promise<T>): Promise<T> {
  return scope.run(new Map(), work);
}

/** Keeps a row (or `null`: read ahead and not there) for the first reader of `key` in this request. */
export function keepReadAhead(key: string, row: unknown): void {
  scope.getStore()?.set(key, row);
}

/**
 * The row kept for `key`, removed as it is handed out: `{ row }`, where `row` may be null (there
 * is none), or undefined when nothing was read ahead for it.
 */
export function takeReadAhead<R>(key: string): { readonly row: R | null } | undefined {
  const kept = scope.getStore();
  if (!kept?.has(key)) return undefined;
  const row = kept.get(key) as R | null;
  kept.delete(key);
  return { row };
}

/** The keys rows are kept under, one per reader. */
export const readAheadKey = {
  oidcModel: (model: string, id: string): string => `oidc_model:${model}:${id}`,
  journey: (uid: string): string => `journey_state:${uid}`,
  account: (id: string): string => `account:${id}`,
};
