import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Account } from '../../entities/account.js';
import { NOT_FOUND } from '../../interactions/methods/demographics-match/index.js';
import { GP_DETAILS_NOT_FOUND } from '../../interactions/methods/gp-linkage/index.js';
import { findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { callbackError, createAccount, errorSummary, heading, signInThroughCode, submit, type Journey } from './support.js';

/** Jordan Reid, of the built-in fake register (src/demographics/fake-pds-patients.ts). */
const JORDAN = { 'nhs-number': '991 011 3716', 'birthdate-day': '10', 'birthdate-month': '10', 'birthdate-year': '1990', postcode: 'g1 1xq' };
const NOBODY = { 'given-name': 'Nobody', 'family-name': 'Known', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1970', postcode: 'ZZ1 1ZZ' };

/** Amara Patel's details and her GP online registration (src/gp-online/fake-gp-online.ts). */
const AMARA = { 'given-name': 'Amara', 'family-name': 'Patel', 'birthdate-day': '3', 'birthdate-month': '2', 'birthdate-year': '1991', postcode: 'M1 1AE' };
const AMARA_GP = { 'ods-code': 'p84012', 'gp-account-id': '5100381142', 'linkage-key': 'Vb4NcH8sZe3Qy', 'family-name': 'PATEL', 'birthdate-day': '03', 'birthdate-month': '2', 'birthdate-year': '1991' };
const JORDAN_GP = { 'ods-code': 'S10002', 'gp-account-id': '5100234871', 'linkage-key': 'Kq7RmT2xWp9Ld', 'family-name': 'Reid', 'birthdate-day': '10', 'birthdate-month': '10', 'birthdate-year': '1990' };

/** Signs `account` in at a service that asks for P5 (or `vtr`) and returns the page after the security code. */
async function signInAtP5(test: TestIdp, account: Account, vtr = '["P5.Cp.Cd"]', scope = 'openid profile'): Promise<{ journey: Journey; page: Page }> {
  return signInThroughCode(test, account, { params: { vtr, scope } });
}

/** Continue on the consent page (first use of the service), or the callback already reached. */
async function throughConsent(journey: Journey, page: Page): Promise<Page> {
  if (page.callbackUrl) return page;
  expect(heading(page), pageText(page).slice(0, 300)).to.match(/share/i);
  return journey.browser.submit(page, {}, { button: 'Continue' });
}

async function auditTypes(test: TestIdp, accountId: string): Promise<string[]> {
  const rows: { type: string }[] = await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 AND type LIKE 'identity.%' ORDER BY id`, [accountId]);
  return rows.map((r) => r.type);
}

describe('identity check (P5 by demographics match against the fake register)', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('asks a P0 account at a P5 service to prove who it is, then returns vot P5 with the register\'s details', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account);
    expect(heading(page)).to.equal('Prove who you are');
    expect(findForm(page).action).to.match(/\/enter-your-details$/);

    const done = await throughConsent(journey, await submit(journey, page, JORDAN));
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    const claims = tokens.claims()!;
    expect(claims.vot).to.equal('P5.Cp.Cd');
    expect(claims.identity_proofing_level).to.equal('P5');
    expect(claims.nhs_number).to.equal('9910113716');
    const info = await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, claims.sub);
    expect(info).to.include({ nhs_number: '9910113716', family_name: 'Reid', birthdate: '1990-10-10', identity_proofing_level: 'P5' });

    const stored = (await test.idp.services.accounts.findById(account.id))!;
    expect(stored).to.include({ proofingLevel: 'P5', nhsNumber: '9910113716', givenName: 'Jordan', familyName: 'Reid', postcode: 'G1 1XQ', gpOdsCode: 'S10002' });
    expect(await auditTypes(test, account.id)).to.deep.equal(['identity.proofed']);

    // The next sign-in at the same service needs no check.
    const again = await signInAtP5(test, account);
    expect(heading(again.page)).to.not.equal('Prove who you are');
  });

  it('after a match, any vector asked for will do: a Cp+Cd session at a service asking ["P5.Cp.Ck","P5.Cp.Cd"] is done', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account, '["P5.Cp.Ck","P5.Cp.Cd"]');
    expect(heading(page)).to.equal('Prove who you are');
    const done = await throughConsent(journey, await submit(journey, page, { 'nhs-number': '9910034123', 'birthdate-day': '9', 'birthdate-month': '9', 'birthdate-year': '1988', postcode: 'EX1 1AA' }));
    expect((await test.rp.exchange(done.callbackUrl!, journey.request)).claims()!.vot).to.equal('P5.Cp.Cd');
  });

  it('matches by name when there is no NHS number, whatever the case, accents and spacing', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account);
    const done = await throughConsent(journey, await submit(journey, page, { 'given-name': ' ZOE ', 'family-name': 'hughes', 'birthdate-day': '15', 'birthdate-month': '06', 'birthdate-year': '2001', postcode: 'bs14dj' }));
    expect((await test.rp.exchange(done.callbackUrl!, journey.request)).claims()!.vot).to.equal('P5.Cp.Cd');
    expect((await test.idp.services.accounts.findById(account.id))!.givenName).to.equal('Zoë');
  });

  it('says only "not found" for no record, two records, a detail that differs and a death on the register, and counts each', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account);
    const misses = [
      NOBODY,
      // Two live records with this name, birth date and postcode: no guess between them.
      { 'given-name': 'Sam', 'family-name': 'Taylor', 'birthdate-day': '9', 'birthdate-month': '9', 'birthdate-year': '1988', postcode: 'EX1 1AA' },
    ];
    let current = page;
    for (const [i, body] of misses.entries()) {
      current = await submit(journey, current, body);
      expect(current.status).to.equal(400);
      expect(errorSummary(current)).to.deep.equal([NOT_FOUND]);
      expect(pageText(current)).to.contain(`You have ${2 - i} more ${i === 1 ? 'try' : 'tries'}`);
      // What was typed comes back, so a typo can be fixed.
      expect(findForm(current).fields['family-name']).to.equal(body['family-name']);
    }
    // The third miss (a death on the register) locks identity checks for this account.
    current = await submit(journey, current, { 'given-name': 'Margaret', 'family-name': 'Ellis', 'birthdate-day': '12', 'birthdate-month': '4', 'birthdate-year': '1931', postcode: 'SW1A 2AA' });
    expect(current.status).to.equal(429);
    expect(heading(current)).to.equal('We could not find your details');
    expect(pageText(current)).to.contain('CL1025').and.contain('wait 15 minutes');
    // Locked: even the right details are not checked.
    const locked = await submit(journey, findFormPage(current, page), JORDAN);
    expect(locked.status).to.equal(429);
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P0');
    const rows: { detail: { why: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'identity.not_matched' ORDER BY id`, [account.id]);
    expect(rows.map((r) => r.detail.why)).to.deep.equal(['no-record', 'several-records', 'deceased']);
  });

  it('re-asks with an error summary in page order for details that are not valid, counting nothing', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account);
    const invalid = await submit(journey, page, { 'nhs-number': '12345', 'birthdate-day': '31', 'birthdate-month': '2', 'birthdate-year': '1990', postcode: '' });
    expect(invalid.status).to.equal(400);
    expect(errorSummary(invalid)).to.deep.equal(['NHS number must be 10 numbers', 'Date of birth must be a real date', 'Enter your postcode']);
    const counters: unknown[] = await test.idp.db.dataSource.query(`SELECT 1 FROM attempt_counter WHERE key = $1`, [`identity-check:${account.id}`]);
    expect(counters).to.have.length(0);
  });

  it('stops at an honest page when the patient is already linked to another account', async () => {
    const first = await createAccount(test);
    const second = await createAccount(test);
    const firstRun = await signInAtP5(test, first);
    await throughConsent(firstRun.journey, await submit(firstRun.journey, firstRun.page, { 'nhs-number': '9910068230', 'birthdate-day': '1', 'birthdate-month': '12', 'birthdate-year': '1995', postcode: 'LL57 2DG' }));

    const { journey, page } = await signInAtP5(test, second);
    const linked = await submit(journey, page, { 'given-name': 'Aled', 'family-name': 'Jones', 'birthdate-day': '1', 'birthdate-month': '12', 'birthdate-year': '1995', postcode: 'LL57 2DG' });
    expect(heading(linked)).to.equal('Your details are already linked to another account');
    expect(pageText(linked)).to.contain('CL1027');
    const back = await journey.browser.submit(linked, {});
    expect(callbackError(back)).to.deep.equal({ error: 'access_denied', description: 'identity verification failed' });
    expect((await test.idp.services.accounts.findById(second.id))!).to.include({ proofingLevel: 'P0', nhsNumber: null });
    expect(await auditTypes(test, second.id)).to.deep.equal(['identity.already_linked']);
  });

  it('takes a P0 account at a P9 service through P5 and then its GP online details, to vot P9 with GP credentials', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account, '["P9.Cp.Cd"]', 'openid profile gp_integration_credentials');
    expect(heading(page)).to.equal('Prove who you are');
    const gpPage = await submit(journey, page, AMARA);
    expect(heading(gpPage)).to.equal('Enter your GP online registration details');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel, 'P5 is kept even if P9 is not finished').to.equal('P5');

    // A linkage key with the wrong case is not the letter's: "not found", and it is never shown again.
    const miss = await submit(journey, gpPage, { ...AMARA_GP, 'linkage-key': AMARA_GP['linkage-key'].toLowerCase() });
    expect(miss.status).to.equal(400);
    expect(errorSummary(miss)).to.deep.equal([GP_DETAILS_NOT_FOUND]);
    expect(findForm(miss).fields['linkage-key'] ?? '').to.equal('');
    expect(findForm(miss).fields['gp-account-id']).to.equal(AMARA_GP['gp-account-id']);

    const done = await throughConsent(journey, await submit(journey, miss, AMARA_GP));
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    const claims = tokens.claims()!;
    expect(claims).to.include({ vot: 'P9.Cp.Cd', identity_proofing_level: 'P9', nhs_number: '9910000016' });
    const info = await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, claims.sub);
    expect(info.gp_integration_credentials).to.deep.equal({ gp_ods_code: 'P84012', gp_user_id: '5100381142', gp_linkage_key: 'Vb4NcH8sZe3Qy' });
    expect(await auditTypes(test, account.id)).to.deep.equal(['identity.proofed', 'identity.not_matched', 'identity.proofed']);
  });

  it('lets a person without their details go back to the service, which gets access_denied; a level reached is kept', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInAtP5(test, account, '["P9.Cp.Cd"]');
    const gpPage = await submit(journey, page, { 'given-name': 'Priya', 'family-name': 'Sharma Lewis', 'birthdate-day': '22', 'birthdate-month': '5', 'birthdate-year': '1983', postcode: 'B1 1BB' });
    expect(heading(gpPage)).to.equal('Enter your GP online registration details');
    const back = await journey.browser.submit(gpPage, {}, { actionContains: 'return-to-service' });
    expect(callbackError(back)).to.deep.equal({ error: 'access_denied', description: 'identity verification required' });
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
    expect(await auditTypes(test, account.id)).to.deep.equal(['identity.proofed', 'identity.abandoned']);
  });

  it('refuses the GP online details of another patient than the one the account proved to be at P5', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    await test.idp.db.dataSource.query('UPDATE account SET nhs_number = $2 WHERE id = $1', [account.id, '9910011387']);
    const { journey, page } = await signInAtP5(test, account, '["P9.Cp.Cd"]');
    expect(heading(page)).to.equal('Enter your GP online registration details');
    const miss = await submit(journey, page, JORDAN_GP);
    expect(errorSummary(miss)).to.deep.equal([GP_DETAILS_NOT_FOUND]);
    const rows: { detail: { why: string; route: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'identity.not_matched'`, [account.id]);
    expect(rows.map((r) => [r.detail.route, r.detail.why])).to.deep.equal([['gp-linkage', 'another-patient']]);
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P5');
  });
});

/** The locked page has no form of its own; its link goes back to the step, whose form is the original page's. */
function findFormPage(locked: Page, original: Page): Page {
  expect(locked.html).to.contain(findForm(original).action);
  return original;
}

describe('identity check with another register', () => {
  it('DEMOGRAPHICS_SOURCE=none: a P5 service gets the honest page, no form', async () => {
    const test = await startTestIdp({ env: { DEMOGRAPHICS_SOURCE: 'none' } });
    try {
      const account = await createAccount(test);
      const { journey, page } = await signInAtP5(test, account);
      expect(heading(page)).to.equal('You need to prove your identity to use this service');
      expect(pageText(page)).to.contain('not available at the moment');
      expect(callbackError(await journey.browser.submit(page, {}))).to.deep.equal({ error: 'access_denied', description: 'identity verification required' });
    } finally {
      await test.close();
    }
  });

  it('GP_ONLINE_SOURCE=none and PHOTO_ID_CHECKS=false: a P9 service gets the honest page at once, with no P5 detour', async () => {
    const test = await startTestIdp({ env: { GP_ONLINE_SOURCE: 'none', PHOTO_ID_CHECKS: 'false' } });
    try {
      const account = await createAccount(test);
      const { journey, page } = await signInAtP5(test, account, '["P9.Cp.Cd"]');
      expect(heading(page)).to.equal('You need to prove your identity to use this service');
      expect(pageText(page)).to.contain('to the level this service needs is not available');
      expect(callbackError(await journey.browser.submit(page, {}))).to.deep.equal({ error: 'access_denied', description: 'identity verification required' });
    } finally {
      await test.close();
    }
  });

  it('DEMOGRAPHICS_SOURCE=unavailable: "cannot check at the moment", and the account stays as it was', async () => {
    const test = await startTestIdp({ env: { DEMOGRAPHICS_SOURCE: 'unavailable' } });
    try {
      const account = await createAccount(test);
      const { journey, page } = await signInAtP5(test, account);
      const retry = await submit(journey, page, JORDAN);
      expect(retry.status).to.equal(400);
      expect(errorSummary(retry)).to.deep.equal(['Sorry, we cannot check your details at the moment. Try again in a few minutes']);
      expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel).to.equal('P0');
    } finally {
      await test.close();
    }
  });
});
