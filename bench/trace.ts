/**
 * `npm run bench:trace`: every HTTP request and SQL statement of one persona sign-in (with its code
 * exchange) and one account creation, in order, with totals. Round trips, not CPU, dominate these
 * journeys (docs/performance.md), so this is the first thing to look at when changing them.
 * Runs the IdP in this process, on DATABASE_URL or in-memory PGlite; the `SELECT body FROM
 * outbox_message` lines are this load generator reading the codes a person would read.
 */
import http from 'node:http';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner.js';
import { PERSONAS } from '../src/accounts/personas.js';
import { startTestIdp } from '../test/helpers/idp.js';
import { signIn } from '../test/helpers/journeys.js';
import { createAccountThroughPages, newestCodeFrom } from './journeys.js';

const lines: string[] = [];
let tracing = false;

// Every statement, TypeORM's and the hand-written ones, goes through the query runner.
const query = PostgresQueryRunner.prototype.query;
PostgresQueryRunner.prototype.query = function traced(this: PostgresQueryRunner, sql: string, parameters?: unknown[], useStructuredResult?: boolean) {
  if (tracing) lines.push(`  SQL  ${sql.replace(/\s+/g, ' ').trim().slice(0, 140)}`);
  return query.call(this, sql, parameters, useStructuredResult as false);
} as typeof query;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function traced(this: http.Server, event: string, ...args: unknown[]) {
  if (tracing && event === 'request') {
    const request = args[0] as http.IncomingMessage;
    lines.push(`HTTP ${request.method} ${(request.url ?? '').split('?')[0]}`);
  }
  return Reflect.apply(emit, this, [event, ...args]) as boolean;
} as typeof emit;

async function trace(name: string, journey: () => Promise<void>): Promise<void> {
  lines.length = 0;
  tracing = true;
  try {
    await journey();
  } finally {
    tracing = false;
  }
  console.log(`\n## ${name}\n${lines.join('\n')}`);
  console.log(`${name}: ${lines.filter((l) => l.startsWith('HTTP')).length} HTTP requests, ${lines.filter((l) => l.includes('SQL ')).length} SQL statements`);
}

const idp = await startTestIdp({ env: { IP_FAILURE_LIMIT: '100000' } });
try {
  const p9 = PERSONAS.find((p) => p.key === 'p9')!;
  const persona = { email: p9.email, password: p9.password, code: '190696' };
  // The first sign-in asks for consent; a returning patient's does not. Trace a returning one.
  const first = await signIn(idp, persona);
  await idp.rp.exchange(first.callbackUrl, first.request);
  await trace('persona sign-in and code exchange', async () => {
    const { request, callbackUrl } = await signIn(idp, persona);
    await idp.rp.exchange(callbackUrl, request);
  });
  await trace('account creation and code exchange', () => createAccountThroughPages(idp.rp, newestCodeFrom(idp.idp.db.dataSource), 1));
} finally {
  await idp.close();
}
