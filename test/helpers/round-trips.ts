import { subscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner.js';
import { SQL_CHANNEL } from '../../src/db/sql.js';

/**
 * Records every HTTP request this process serves and every SQL statement it sends while `record`
 * runs: TypeORM's through its query runner, the hand-written ones (queryRows) through their
 * diagnostics channel. Round trips, not
 * CPU, dominate the journeys (docs/performance.md): `npm run bench:trace` prints them and the
 * round-trip budget test keeps them from creeping up.
 */
export interface RoundTrips {
  readonly lines: readonly string[];
  readonly http: number;
  readonly sql: number;
}

let recording: string[] | undefined;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const note = (sql: string): void => {
    recording?.push(`  SQL  ${sql.replace(/\s+/g, ' ').trim().slice(0, 140)}`);
  };
  subscribe(SQL_CHANNEL, (message) => note((message as { sql: string }).sql));
  const query = PostgresQueryRunner.prototype.query;
  PostgresQueryRunner.prototype.query = function traced(this: PostgresQueryRunner, sql: string, parameters?: unknown[], useStructuredResult?: boolean) {
    note(sql);
    return query.call(this, sql, parameters, useStructuredResult as false);
  } as typeof query;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function traced(this: http.Server, event: string, ...args: unknown[]) {
    if (recording && event === 'request') {
      const request = args[0] as http.IncomingMessage;
      recording.push(`HTTP ${request.method} ${(request.url ?? '').split('?')[0]}`);
    }
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  } as typeof emit;
}

export async function recordRoundTrips(journey: () => Promise<unknown>): Promise<RoundTrips> {
  install();
  if (recording) throw new Error('recordRoundTrips does not nest');
  const lines: string[] = [];
  recording = lines;
  try {
    await journey();
  } finally {
    recording = undefined;
  }
  return { lines, http: lines.filter((line) => line.startsWith('HTTP')).length, sql: lines.filter((line) => line.startsWith('  SQL')).length };
}
