import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createJourneyRunner, type InteractionDetails, type JourneyRunner, type Reply } from '../../interactions/runner.js';
import { loadConfig } from '../../src/config/index.js';
import { createNoDemographics } from '../../src/demographics/fake-pds.js';
import { createGpOnlineRegistration } from '../../src/gp-online/fake-gp-online.js';
import { createLogger } from '../../src/logger.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createAccount, latestSmsCode, smsCount, wrongCode } from './support.js';

/**
 * The `vtr` prompt's credentials branch, driven through the real runner and services. Today's
 * sign-in always proves Cp and Cd, so no HTTP journey can yet produce a session that lacks Cd (a
 * remembered device or a password-only session will); the interaction oidc-provider would hand us
 * is built here as data, exactly in the shape interactionDetails returns.
 */
describe('step-up journey (vtr prompt, credentials)', () => {
  let test: TestIdp;
  let runner: JourneyRunner;
  const request = { ip: '192.0.2.10', log: createLogger({ level: 'silent' }) };

  before(async () => {
    test = await startTestIdp();
    runner = createJourneyRunner(test.idp.services);
  });
  after(async () => test?.close());

  function vtrPrompt(accountId: string, options: { needed: string; reason?: 'credentials' | 'proofing'; amr?: string[] }): InteractionDetails {
    return {
      uid: randomUUID(),
      prompt: { name: 'vtr', reasons: ['vtr_unmet'], details: { reason: options.reason ?? 'credentials', needed: options.needed } },
      session: { accountId, uid: randomUUID(), cookie: randomUUID(), amr: options.amr ?? ['pwd'] },
      params: { client_id: test.rp.clientId, scope: 'openid' },
      exp: Math.floor(Date.now() / 1000) + 600,
    } as unknown as InteractionDetails;
  }

  function location(reply: Reply): string {
    expect(reply.kind).to.equal('redirect');
    return (reply as Extract<Reply, { kind: 'redirect' }>).location;
  }

  /** The interaction's own URL shows the current step in place. */
  function shownStep(reply: Reply): string {
    expect(reply.kind).to.equal('render');
    return (reply as Extract<Reply, { kind: 'render' }>).step;
  }

  it('asks for a security code when only Cd is missing, then signs in again with pwd and sms', async () => {
    const account = await createAccount(test);
    const details = vtrPrompt(account.id, { needed: 'P0.Cp.Cd' });
    expect(shownStep(await runner.show(details, request, undefined))).to.equal('enter-security-code');
    const page = await runner.show(details, request, 'enter-security-code');
    expect(page).to.deep.include({ kind: 'render', step: 'enter-security-code' });
    expect(await smsCount(test, account.mobileNumber!)).to.equal(1);

    const wrong = await runner.submit(details, request, 'enter-security-code', { code: wrongCode(await latestSmsCode(test, account.mobileNumber!)) });
    expect(wrong).to.deep.include({ kind: 'render' });
    const done = await runner.submit(details, request, 'enter-security-code', { code: await latestSmsCode(test, account.mobileNumber!) });
    expect(done).to.deep.equal({
      kind: 'finish',
      result: { login: { accountId: account.id, amr: ['pwd', 'sms'], remember: true } },
      mergeWithLastSubmission: false,
    });
  });

  it('keeps only amr values it knows from the session', async () => {
    const account = await createAccount(test);
    const details = vtrPrompt(account.id, { needed: 'P0.Cp.Cd', amr: ['pwd', 'made-up'] });
    await runner.show(details, request, undefined);
    const done = await runner.submit(details, request, 'enter-security-code', { code: await latestSmsCode(test, account.mobileNumber!) });
    expect((done as Extract<Reply, { kind: 'finish' }>).result.login?.amr).to.deep.equal(['pwd', 'sms']);
  });

  it('explains, then refuses, when the account has no verified mobile', async () => {
    const account = await createAccount(test, { mobile: false });
    const details = vtrPrompt(account.id, { needed: 'P0.Cp.Cd' });
    const step = shownStep(await runner.show(details, request, undefined));
    expect(step).to.equal('method-not-available');
    expect(await runner.show(details, request, step)).to.deep.include({ kind: 'render', step });
    expect(await runner.submit(details, request, step, {})).to.deep.equal({
      kind: 'finish',
      result: { error: 'access_denied', error_description: 'authentication method not available' },
      mergeWithLastSubmission: false,
    });
  });

  it('never signs in from the explanation page, whatever is posted', async () => {
    const account = await createAccount(test);
    // The same services with both proofing edges switched off, so P9 cannot be reached.
    const closed = createJourneyRunner({ ...test.idp.services, demographics: createNoDemographics(), gpOnline: createGpOnlineRegistration(loadConfig({ GP_ONLINE_SOURCE: 'none' })) });
    const details = vtrPrompt(account.id, { needed: 'P9.Cp.Cd', reason: 'proofing' });
    expect(shownStep(await closed.show(details, request, undefined))).to.equal('identity-verification-required');
    for (const step of ['enter-security-code', 'enter-your-details', 'signed-in']) {
      expect(location(await closed.submit(details, request, step, { code: '190696' }))).to.match(/\/identity-verification-required$/);
    }
    expect(await smsCount(test, account.mobileNumber!)).to.equal(0);
    const finished = await closed.submit(details, request, 'identity-verification-required', {});
    expect((finished as Extract<Reply, { kind: 'finish' }>).result).to.deep.equal({ error: 'access_denied', error_description: 'identity verification required' });
  });

  it('after an identity check asks for the credential the vector still lacks, then signs in again with both', async () => {
    const account = await createAccount(test);
    // A session with the password alone (a remembered device's Cd does not carry into a new vector here).
    const details = vtrPrompt(account.id, { needed: 'P5.Cp.Cd', reason: 'proofing', amr: ['pwd'] });
    expect(shownStep(await runner.show(details, request, undefined))).to.equal('enter-your-details');
    expect(await smsCount(test, account.mobileNumber!), 'no code before the identity is settled').to.equal(0);
    const matched = await runner.submit(details, request, 'enter-your-details', { 'nhs-number': '9910068230', 'birthdate-day': '1', 'birthdate-month': '12', 'birthdate-year': '1995', postcode: 'LL57 2DG' });
    expect(location(matched)).to.match(/\/enter-security-code$/);
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
    await runner.show(details, request, 'enter-security-code');
    const done = await runner.submit(details, request, 'enter-security-code', { code: await latestSmsCode(test, account.mobileNumber!) });
    expect((done as Extract<Reply, { kind: 'finish' }>).result).to.deep.equal({ login: { accountId: account.id, amr: ['pwd', 'sms'], remember: true } });
  });

  it('goes straight back to the service after an identity check when the session has the credentials already', async () => {
    const account = await createAccount(test);
    const details = vtrPrompt(account.id, { needed: 'P5.Cp.Cd', reason: 'proofing', amr: ['pwd', 'sms'] });
    const done = await runner.submit(details, request, 'enter-your-details', { 'given-name': 'Thomas', 'family-name': "O'Brien", 'birthdate-day': '30', 'birthdate-month': '11', 'birthdate-year': '1978', postcode: 'CF10 1EP' });
    expect((done as Extract<Reply, { kind: 'finish' }>).result).to.deep.equal({ login: { accountId: account.id, amr: ['pwd', 'sms'], remember: true } });
  });
});
