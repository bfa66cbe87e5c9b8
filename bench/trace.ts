/**
 * `npm run bench:trace`: every HTTP request and SQL statement of one persona sign-in (with its code
 * exchange) and one account creation, in order, with totals. Round trips, not CPU, dominate these
 * journeys (docs/performance.md), so this is the first thing to look at when changing them.
 * Runs the IdP in this process, on DATABASE_URL or in-memory PGlite; the `SELECT body FROM
 * outbox_message` lines are this load generator reading the codes a person would read.
 */
import { PERSONAS } from '../src/accounts/personas.js';
import { startTestIdp } from '../test/helpers/idp.js';
import { signIn } from '../test/helpers/journeys.js';
import { recordRoundTrips } from '../test/helpers/round-trips.js';
import { createAccountThroughPages, newestCodeFrom } from '../test/helpers/create-account-pages.js';

async function trace(name: string, journey: () => Promise<void>): Promise<void> {
  const trips = await recordRoundTrips(journey);
  console.log(`\n## ${name}\n${trips.lines.join('\n')}`);
  console.log(`${name}: ${trips.http} HTTP requests, ${trips.sql} SQL statements`);
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
