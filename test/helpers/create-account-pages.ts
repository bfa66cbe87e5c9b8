import { Browser, pageText } from './browser.js';
import type { TestRp } from './relying-party.js';

/** Anything that can run SQL: a pg pool, or a TypeORM data source. */
interface Queryable { query(sql: string, parameters: unknown[]): Promise<unknown> }

/** Reads the newest security code sent to a recipient from the outbox (development keeps message bodies). */
export function newestCodeFrom(db: Queryable): (recipient: string) => Promise<string> {
  return async (recipient) => {
    const result = await db.query('SELECT body FROM outbox_message WHERE recipient = $1 ORDER BY created_at DESC, id DESC LIMIT 1', [recipient]);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { body: string }[];
    const code = /\b(\d{6})\b/.exec(rows[0]?.body ?? '')?.[1];
    if (!code) throw new Error('no code in the outbox');
    return code;
  };
}

/**
 * One account created as a person would: "Create an account", details, the emailed code, a mobile
 * number and the texted code, consent, tokens. Codes are read from the outbox (development keeps
 * message bodies). `n` makes the address and the number unique in this run.
 */
export async function createAccountThroughPages(rp: TestRp, newestCode: (recipient: string) => Promise<string>, n: number): Promise<void> {
  const email = `bench-new-${process.pid}-${n}@carelogin.test`;
  const national = `07912${String(n % 1_000_000).padStart(6, '0')}`;
  const browser = new Browser({ stopAt: rp.redirectUri });
  const request = await rp.authorize({ scope: 'openid', vtr: '["P0.Cp.Cd"]' });
  let page = await browser.get(request.url);
  page = await browser.submit(page, {}, { actionContains: '/create-account' });
  page = await browser.submit(page, { email, password: 'tractor lemon harbour', terms: 'agreed' });
  page = await browser.submit(page, { code: await newestCode(email) });
  page = await browser.submit(page, { mobile: national });
  page = await browser.submit(page, { code: await newestCode(`+44${national.slice(1)}`) });
  if (!page.callbackUrl) page = await browser.submit(page, {}, { button: 'Continue' });
  if (!page.callbackUrl) throw new Error(`account creation did not return to the relying party: ${page.status} ${page.url} ${pageText(page).slice(0, 300)}`);
  await rp.exchange(page.callbackUrl, request);
}

