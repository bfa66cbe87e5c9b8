import { expect } from 'chai';
import { createLogger } from '../../src/logger.js';
import { lockoutKeys } from '../../src/security/attempt-counters.js';
import { pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { signInToAccount, startAccountTestIdp } from '../account/support.js';
import { addAuthenticatorApp, appCode, createAccount, heading, startJourney, submit, TEST_PASSWORD, wrongCode } from './support.js';

const APP_HEADING = 'Enter the security code from your authenticator app';

/**
 * Authenticator apps against security-bar X5 (±1 step, a code accepted once), X8 (lockout and the
 * hard cap of 100 per authenticator), C5 (CSRF on the setup form), F4 (no secret or code in the
 * logs) and V13.3.1 (the seed stored sealed, bound to its account).
 */
describe('authenticator app security', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let capture: LogCapture;

  before(async () => {
    capture = createLogCapture();
    test = await startAccountTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
  });
  after(async () => test?.close());

  async function atAppStep(email: string) {
    const journey = await startJourney(test, { params: { vtr: '["P0.Cp.Ck"]' } });
    let page = await submit(journey, journey.page, { email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    expect(heading(page)).to.equal(APP_HEADING);
    return { journey, page };
  }

  it('B5/X5: of two sign-ins racing with the same right code, exactly one gets through', async () => {
    const account = await createAccount(test);
    const secret = await addAuthenticatorApp(test, account);
    const one = await atAppStep(account.email);
    const two = await atAppStep(account.email);
    const code = await appCode(secret);
    const answers = await Promise.all([submit(one.journey, one.page, { code }), submit(two.journey, two.page, { code })]);
    const through = answers.filter((page) => heading(page) !== APP_HEADING);
    expect(through, answers.map((p) => heading(p)).join(' | ')).to.have.length(1);
  });

  it('X8: 100 wrong codes in a row turn the app off; only setting it up again turns it back on', async () => {
    const account = await createAccount(test);
    const secret = await addAuthenticatorApp(test, account);
    // 99 earlier failures, each after its lock ran out (as a patient attacker would pace them).
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, consecutive_failures, window_started_at, locked_until, updated_at) VALUES ($1, 0, 99, now(), NULL, now())`,
      [lockoutKeys.authenticatorApp(account.id)],
    );
    const { journey, page } = await atAppStep(account.email);
    const disabled = await submit(journey, page, { code: wrongCode(await appCode(secret)) });
    expect(disabled.status).to.equal(429);
    expect(heading(disabled)).to.equal('You cannot sign in with a security code');
    expect(pageText(disabled)).to.contain('codes from your authenticator app have been turned off');
    const right = await submit(journey, page, { code: await appCode(secret) });
    expect(heading(right)).to.equal('You cannot sign in with a security code');
    // Rebinding: a new app (set up after signing in with a text message) starts from nothing.
    const apps = test.idp.services.authenticatorApps;
    const then = Math.floor(Date.now() / 1000);
    const { secret: fresh } = apps.begin(account.id, 'rebind', then);
    expect(await apps.add(account, fresh, await appCode(fresh), { ip: '127.0.0.1' }, then)).to.equal(true);
    const status = await test.idp.services.counters.status(lockoutKeys.authenticatorApp(account.id));
    expect(status).to.include({ disabled: false, locked: false, consecutiveFailures: 0 });
  });

  it('B5/V13.3.1: the seed is sealed at rest, and a sealed seed copied to another account opens for neither code check', async () => {
    const victim = await createAccount(test);
    const secret = await addAuthenticatorApp(test, victim);
    const attacker = await createAccount(test);
    await test.idp.db.dataSource.query(
      `UPDATE account SET authenticator_secret = v.authenticator_secret, authenticator_added_at = now() FROM account v WHERE v.id = $1 AND account.id = $2`,
      [victim.id, attacker.id],
    );
    const copied = await test.idp.services.accounts.findById(attacker.id);
    expect(copied!.authenticatorSecret).to.be.a('string');
    expect(await test.idp.services.authenticatorApps.check(copied!, await appCode(secret))).to.equal('none');
  });

  it('C5: the setup form without its CSRF token is refused and stores nothing', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    const secret = /id="secret-key"><strong>([A-Z2-7 ]+)</.exec(setup.html)![1]!.replace(/ /g, '');
    const refused = await browser.submit(setup, { code: await appCode(secret) }, { actionContains: '/account/authenticator-app', omit: ['_csrf'] });
    expect(refused.status).to.equal(403);
    const [row] = await test.idp.db.dataSource.query(`SELECT authenticator_secret FROM account WHERE id = $1`, [account.id]);
    expect(row.authenticator_secret).to.equal(null);
  });

  it('F4: neither the secret nor a code reaches the logs, through setup and sign-in', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    const secret = /id="secret-key"><strong>([A-Z2-7 ]+)</.exec(setup.html)![1]!.replace(/ /g, '');
    const setupCode = await appCode(secret);
    await browser.submit(setup, { code: setupCode }, { actionContains: '/account/authenticator-app' });
    const { journey, page } = await atAppStep(account.email);
    const signInCode = await appCode(secret, 30);
    await submit(journey, page, { code: signInCode });
    const [row] = await test.idp.db.dataSource.query(`SELECT authenticator_secret FROM account WHERE id = $1`, [account.id]);
    const text = capture.text();
    expect(capture.find(/audit authenticator_app\.added/)).to.have.length.greaterThan(0);
    for (const secretValue of [secret, row.authenticator_secret as string, setupCode, signInCode]) expect(text).to.not.contain(secretValue);
  });
});
