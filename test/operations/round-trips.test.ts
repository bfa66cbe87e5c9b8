import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { createAccountThroughPages, newestCodeFrom } from '../helpers/create-account-pages.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { recordRoundTrips, type RoundTrips } from '../helpers/round-trips.js';

/**
 * Round-trip budgets. SQL statements and HTTP requests, not CPU, decide how many sign-ins a core
 * can serve (docs/performance.md: each statement wakes a database connection), and unlike timings
 * they are exact, so a change that adds one shows here rather than as noise in `npm run bench`.
 * Adding a round trip on purpose is fine: raise the budget here and in docs/performance.md.
 */
const BUDGETS = {
  'a returning persona signs in and the relying party exchanges the code': { http: 9, sql: 44 },
  'a new patient creates an account through every page, and the relying party exchanges the code': { http: 16, sql: 83 },
} as const;

describe('round-trip budgets (docs/performance.md)', () => {
  let idp: TestIdp;
  const p9 = PERSONAS.find((persona) => persona.key === 'p9')!;
  const persona = { email: p9.email, password: p9.password, code: '190696' };

  before(async () => {
    idp = await startTestIdp();
    // A returning patient: consent was given at the first sign-in.
    const first = await signIn(idp, persona);
    await idp.rp.exchange(first.callbackUrl, first.request);
  });
  after(() => idp?.close());

  function withinBudget(name: keyof typeof BUDGETS, trips: RoundTrips): void {
    const budget = BUDGETS[name];
    const listing = `\n${trips.lines.join('\n')}`;
    expect(trips.http, `HTTP requests over budget:${listing}`).to.be.at.most(budget.http);
    expect(trips.sql, `SQL statements over budget:${listing}`).to.be.at.most(budget.sql);
  }

  it('a returning persona signs in and the relying party exchanges the code', async () => {
    const name = 'a returning persona signs in and the relying party exchanges the code';
    const trips = await recordRoundTrips(async () => {
      const { request, callbackUrl } = await signIn(idp, persona);
      await idp.rp.exchange(callbackUrl, request);
    });
    withinBudget(name, trips);
  });

  it('a new patient creates an account through every page, and the relying party exchanges the code', async () => {
    const name = 'a new patient creates an account through every page, and the relying party exchanges the code';
    const outbox = newestCodeFrom(idp.idp.db.dataSource);
    let outboxReads = 0;
    const trips = await recordRoundTrips(() => createAccountThroughPages(idp.rp, async (recipient) => {
      outboxReads += 1;
      return outbox(recipient);
    }, 1));
    // The two outbox reads are this test reading the codes a person would, not the server's.
    withinBudget(name, { ...trips, sql: trips.sql - outboxReads });
  });
});
