import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONA_PASSWORD } from '../../src/accounts/personas.js';
import { locksOf } from '../../src/accounts/account-locks.js';
import { parseTestUsersArgs, runTestUsersCommand } from '../../src/cli/test-users.js';
import { fakeRegisterPatients } from '../../src/demographics/index.js';
import { parseTestUserRequest } from '../../src/test-users/request.js';
import { createTestUsers, type TestUserDetails, type TestUsers } from '../../src/test-users/test-users.js';
import { pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { heading, latestSmsCode, startJourney, submit, type Journey } from '../interactions/support.js';

const ALL = 'openid profile profile_extended email phone gp_registration_details gp_integration_credentials';

async function throughConsent(journey: Journey, page: Page): Promise<Page> {
  if (page.callbackUrl) return page;
  expect(heading(page), pageText(page).slice(0, 300)).to.match(/share/i);
  return journey.browser.submit(page, {}, { button: 'Continue' });
}

/** Signs the test user in at the test RP with `vtr`, through the real pages, up to the page after the security code. */
async function signIn(test: TestIdp, user: { email: string; mobile: string }, options: { vtr: string; password?: string; code?: string }): Promise<{ journey: Journey; page: Page }> {
  const journey = await startJourney(test, { params: { vtr: options.vtr, scope: ALL } });
  let page = await submit(journey, journey.page, { email: user.email });
  page = await submit(journey, page, { password: options.password ?? PERSONA_PASSWORD });
  expect(heading(page), pageText(page).slice(0, 300)).to.equal('Check your mobile phone');
  page = await submit(journey, page, { code: options.code ?? (await latestSmsCode(test, user.mobile)) });
  return { journey, page };
}

async function claimsAfter(test: TestIdp, journey: Journey, page: Page): Promise<{ idToken: Record<string, unknown>; userinfo: Record<string, unknown> }> {
  const done = await throughConsent(journey, page);
  const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
  const idToken = tokens.claims()! as Record<string, unknown>;
  const userinfo = (await oidc.fetchUserInfo(await test.rp.configuration(), tokens.access_token, String(idToken.sub))) as Record<string, unknown>;
  return { idToken, userinfo };
}

async function postJson(test: TestIdp, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${test.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('test users on request (npm run test-users, /dev/test-users/api; D27)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let testUsers: TestUsers;

  before(async () => {
    test = await startTestIdp({ env: { PASSWORD_MAX_ATTEMPTS: '2' } });
    const { services, config, db } = test.idp;
    testUsers = createTestUsers({ dataSource: db.dataSource, config, hasher: services.hasher, audit: services.audit, digest: services.digest, registerPatients: fakeRegisterPatients(config) });
  });
  after(async () => test?.close());

  it('a P9 test user made through the JSON API with --fixed-code signs in with 190696, and the ID token and userinfo carry exactly the details given', async () => {
    const made = await postJson(test, '/dev/test-users/api', {
      level: 'P9', email: 'rp.tester@carelogin.test', givenName: 'Ada', familyName: "O'Neill", birthdate: '1970-01-31', postcode: 'ls1 4ap',
      nhsNumber: '999 000 0417', gpOdsCode: 'b82005', phonePdsMatched: true, fixedCode: true,
    });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    expect(made.body).to.include({ email: 'rp.tester@carelogin.test', level: 'P9', nhsNumber: '9990000417', postcode: 'LS1 4AP', gpOdsCode: 'B82005', fixedCode: true, inRegister: true, password: PERSONA_PASSWORD });
    expect(made.body.mobile).to.match(/^\+447700900\d{3}$/);
    expect(made.body.gpUserId, 'P9 gets GP online credentials').to.match(/^\d{10}$/);

    const { journey, page } = await signIn(test, { email: 'rp.tester@carelogin.test', mobile: String(made.body.mobile) }, { vtr: '["P9.Cp.Cd"]', code: '190696' });
    const { idToken, userinfo } = await claimsAfter(test, journey, page);
    expect(idToken.vot).to.equal('P9.Cp.Cd');
    const expected = {
      sub: made.body.id, nhs_number: '9990000417', given_name: 'Ada', family_name: "O'Neill", birthdate: '1970-01-31', identity_proofing_level: 'P9',
      email: 'rp.tester@carelogin.test', email_verified: true, phone_number: made.body.mobile, phone_number_verified: true, phone_number_pds_matched: true,
      gp_registration_details: { gp_ods_code: 'B82005' },
      gp_integration_credentials: { gp_user_id: made.body.gpUserId, gp_linkage_key: made.body.gpLinkageKey, gp_ods_code: 'B82005' },
    };
    expect(userinfo).to.deep.equal(expected);
    for (const [claim, value] of Object.entries(expected)) expect(idToken[claim], claim).to.deep.equal(value);

    const audit: { type: string; detail: Record<string, unknown> }[] = await test.idp.db.dataSource.query(`SELECT type, detail FROM audit_event WHERE account_id = $1 AND type LIKE 'test_user.%'`, [made.body.id]);
    expect(audit).to.deep.equal([{ type: 'test_user.created', detail: { by: 'dev-api', level: 'P9', inRegister: true, fixedCode: true } }]);
  });

  it('set-level down to P5 drops the P9 claims and vot; up to P9 brings them back; each audited', async () => {
    const { testUser } = await testUsers.add(parseTestUserRequest({ level: 'P9', fixedCode: true }), { by: 'operator' });
    expect((await testUsers.setLevel(testUser.email, 'P5', { by: 'operator' }))!).to.include({ level: 'P5', createdLevel: 'P9' });

    let run = await signIn(test, testUser, { vtr: '["P5.Cp.Cd"]', code: '190696' });
    let claims = await claimsAfter(test, run.journey, run.page);
    expect(claims.idToken.vot).to.equal('P5.Cp.Cd');
    expect(claims.userinfo).to.include({ identity_proofing_level: 'P5', nhs_number: testUser.nhsNumber });
    expect(claims.userinfo, 'GP online credentials are P9 only').to.not.have.property('gp_integration_credentials');
    expect((await test.idp.services.accounts.findById(testUser.id))!, 'the account no longer holds them').to.include({ proofingLevel: 'P5', gpUserId: null, gpLinkageKey: null, nhsNumber: testUser.nhsNumber });

    // Asking for P9 now: the account is P5, so carelogin asks for GP online details instead of finishing.
    const asked = await signIn(test, testUser, { vtr: '["P9.Cp.Cd"]', code: '190696' });
    expect(heading(asked.page)).to.equal('Enter your GP online registration details');

    await testUsers.setLevel(testUser.email, 'P9', { by: 'operator' });
    run = await signIn(test, testUser, { vtr: '["P9.Cp.Cd"]', code: '190696' });
    claims = await claimsAfter(test, run.journey, run.page);
    expect(claims.idToken.vot).to.equal('P9.Cp.Cd');
    expect(claims.userinfo.gp_integration_credentials).to.deep.equal({ gp_user_id: testUser.gpUserId, gp_linkage_key: testUser.gpLinkageKey, gp_ods_code: testUser.gpOdsCode });

    await testUsers.setLevel(testUser.email, 'P0', { by: 'operator' });
    const p0 = (await test.idp.services.accounts.findById(testUser.id))!;
    expect(p0).to.include({ proofingLevel: 'P0', nhsNumber: null, familyName: null, gpUserId: null, phoneNumberPdsMatched: false });
    const audit: { detail: { from: string; to: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'test_user.level_set' ORDER BY id`, [testUser.id]);
    expect(audit.map((r) => `${r.detail.from}→${r.detail.to}`)).to.deep.equal(['P9→P5', 'P5→P9', 'P9→P0']);
  });

  it('reset lifts a password lock and puts the level and password back as made', async () => {
    const { testUser } = await testUsers.add(parseTestUserRequest({ level: 'P5', password: 'copper-lantern-harbour-9' }), { by: 'operator' });
    await testUsers.setLevel(testUser.email, 'P0', { by: 'operator' });
    await test.idp.db.dataSource.query(`UPDATE account SET password_hash = $2 WHERE id = $1`, [testUser.id, await test.idp.services.hasher.hash('a-changed-password-42')]);
    // Two wrong passwords (PASSWORD_MAX_ATTEMPTS=2 here) lock the password step.
    for (let i = 0; i < 2; i++) {
      const journey = await startJourney(test);
      await submit(journey, await submit(journey, journey.page, { email: testUser.email }), { password: 'not-the-password-at-all' });
    }
    expect((await locksOf(test.idp.db.dataSource, testUser.id)).some((l) => l.what === 'password' && l.lockedUntil !== null)).to.equal(true);

    const reset = (await testUsers.reset(testUser.email, { by: 'operator' }))!;
    expect(reset).to.include({ level: 'P5', createdLevel: 'P5', status: 'active' });
    expect(await locksOf(test.idp.db.dataSource, testUser.id)).to.deep.equal([]);
    const run = await signIn(test, testUser, { vtr: '["P5.Cp.Cd"]', password: 'copper-lantern-harbour-9' });
    expect((await claimsAfter(test, run.journey, run.page)).idToken.vot).to.equal('P5.Cp.Cd');
    const audit: { detail: Record<string, unknown> }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'test_user.reset'`, [testUser.id]);
    expect(audit).to.deep.equal([{ detail: { by: 'operator', level: 'P5', counters: 1 } }]);
  });

  it('a P0 test user made --in-register proves P5 through "Prove who you are", then P9 with its GP online details', async () => {
    const args = parseTestUsersArgs(['add', '--level', 'P0', '--in-register', '--gp-online', '--fixed-code']);
    if (args.command !== 'add') throw new Error('expected add');
    const { testUser } = await testUsers.add(parseTestUserRequest(args.request), { by: 'operator' });
    expect(testUser).to.include({ level: 'P0', inRegister: true });
    const [year, month, day] = testUser.birthdate.split('-');

    const { journey, page } = await signIn(test, testUser, { vtr: '["P9.Cp.Cd"]', code: '190696' });
    expect(heading(page)).to.equal('Prove who you are');
    const gpPage = await submit(journey, page, { 'nhs-number': testUser.nhsNumber, 'birthdate-day': day!, 'birthdate-month': month!, 'birthdate-year': year!, postcode: testUser.postcode });
    expect(heading(gpPage), pageText(gpPage).slice(0, 300)).to.equal('Enter your GP online registration details');
    const done = await submit(journey, gpPage, {
      'ods-code': testUser.gpOdsCode, 'gp-account-id': testUser.gpUserId!, 'linkage-key': testUser.gpLinkageKey!, 'family-name': testUser.familyName,
      'birthdate-day': day!, 'birthdate-month': month!, 'birthdate-year': year!,
    });
    const { idToken, userinfo } = await claimsAfter(test, journey, done);
    expect(idToken.vot).to.equal('P9.Cp.Cd');
    expect(userinfo).to.include({ nhs_number: testUser.nhsNumber, family_name: testUser.familyName, birthdate: testUser.birthdate, identity_proofing_level: 'P9' });

    // A P0 test user not in the register is not found, as PDS would not find them.
    const { testUser: outside } = await testUsers.add(parseTestUserRequest({ level: 'P0', fixedCode: true }), { by: 'operator' });
    const [y, m, d] = outside.birthdate.split('-');
    const second = await signIn(test, outside, { vtr: '["P5.Cp.Cd"]', code: '190696' });
    const miss = await submit(second.journey, second.page, { 'nhs-number': outside.nhsNumber, 'birthdate-day': d!, 'birthdate-month': m!, 'birthdate-year': y!, postcode: outside.postcode });
    expect(miss.status).to.equal(400);
  });

  it('generates unused NHS numbers and drama-range mobiles; refuses an address or NHS number already in use', async () => {
    const made: TestUserDetails[] = [];
    for (let i = 0; i < 5; i++) made.push((await testUsers.add(parseTestUserRequest({ level: 'P5' }), { by: 'operator' })).testUser);
    expect(new Set(made.map((u) => u.nhsNumber)).size).to.equal(5);
    expect(new Set(made.map((u) => u.mobile)).size).to.equal(5);
    for (const user of made) {
      expect(user.nhsNumber).to.match(/^999\d{7}$/);
      expect(user.mobile).to.match(/^\+447700900\d{3}$/);
      expect(user.email).to.match(/@carelogin\.test$/);
    }
    const email = await testUsers.add(parseTestUserRequest({ level: 'P0', email: 'p9.persona@carelogin.test' }), { by: 'operator' }).catch((e: Error) => e);
    expect(email).to.have.property('problems').that.deep.equals([{ field: 'email', text: 'An account already has this email address. Choose another, or leave it blank for a new one' }]);
    for (const taken of [made[0]!.nhsNumber, '9990009007', '9910113716']) {
      const refused = await testUsers.add(parseTestUserRequest({ level: 'P5', nhsNumber: taken }), { by: 'operator' }).catch((e: Error) => e);
      expect(refused, taken).to.have.property('problems').with.nested.property('[0].field', 'nhsNumber');
    }
  });

  it('remove deletes the account and its record; persona seeding at a restart leaves test users as they are', async () => {
    const { testUser } = await testUsers.add(parseTestUserRequest({ level: 'P9' }), { by: 'operator' });
    await testUsers.setLevel(testUser.email, 'P5', { by: 'operator' });
    const second = await startTestIdp({ db: test.db, dataDir: test.dataDir });
    await second.close();
    expect(await testUsers.find(testUser.email)).to.include({ level: 'P5', createdLevel: 'P9' });

    expect(await testUsers.remove(testUser.email, { by: 'operator' })).to.equal(true);
    expect(await testUsers.find(testUser.email)).to.equal(undefined);
    expect(await test.idp.services.accounts.findById(testUser.id)).to.equal(null);
    expect(await test.idp.db.dataSource.query(`SELECT 1 FROM test_user WHERE account_id = $1`, [testUser.id])).to.deep.equal([]);
    // Only test users: a persona or a real account is never touched by these commands.
    expect(await testUsers.remove('p9.persona@carelogin.test', { by: 'operator' })).to.equal(false);
    expect(await testUsers.reset('p5.persona@carelogin.test', { by: 'operator' })).to.equal(undefined);
  });

  it('the command prints plain name: value lines, or JSON with --json; a missing test user is exit code 1', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stderr.write;
    let codes: number[];
    try {
      codes = [await runTestUsersCommand(parseTestUsersArgs(['add', '--level', 'P5', '--given-name', 'Kofi', '--nhs-number', '9990000425', '--json']), testUsers, test.idp.config)];
      codes.push(await runTestUsersCommand(parseTestUsersArgs(['show', '--email', (JSON.parse(out[0]!) as { email: string }).email]), testUsers, test.idp.config));
      codes.push(await runTestUsersCommand(parseTestUsersArgs(['reset', '--email', 'nobody@carelogin.test']), testUsers, test.idp.config));
      codes.push(await runTestUsersCommand(parseTestUsersArgs(['add', '--level', 'P5', '--nhs-number', '9990000425']), testUsers, test.idp.config));
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    expect(codes).to.deep.equal([0, 0, 1, 1]);
    const made = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(made).to.include({ level: 'P5', givenName: 'Kofi', nhsNumber: '9990000425', password: PERSONA_PASSWORD, fixedCode: false });
    expect(out[1]).to.match(/^ {2}Email address: +\S+@carelogin\.test$/m).and.match(/^ {2}NHS number: +999 000 0425$/m).and.match(/^ {2}Security code: +a new one each time, in the development outbox/m);
    expect(out[2]).to.equal('No test user has that email address.\n');
    expect(out[3]).to.equal('nhsNumber: This NHS number is already used by an account, a test user or a patient of the fake register\n');
    const audit: { detail: { by: string } }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'test_user.created'`, [made.id]);
    expect(audit.map((r) => r.detail.by)).to.deep.equal(['operator']);
  });

  it('the JSON API refuses a cross-site form post and a browser\'s cross-site request; makes nothing', async () => {
    const before = (await testUsers.list()).length;
    const form = await fetch(`${test.url}/dev/test-users/api`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: 'level=P9' });
    expect(form.status).to.equal(403);
    const plainForm = await fetch(`${test.url}/dev/test-users/api`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"level":"P9"}' });
    expect(plainForm.status, 'a simple (non-preflighted) content type').to.equal(415);
    const crossSite = await postJson(test, '/dev/test-users/api', { level: 'P9' }, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).to.equal(403);
    const removed = await postJson(test, '/dev/test-users/api/remove', { email: 'rp.tester@carelogin.test' }, { origin: 'https://evil.example' });
    expect(removed.status).to.equal(403);
    expect((await testUsers.list()).length).to.equal(before);
    const invalid = await postJson(test, '/dev/test-users/api', { level: 'P7', nhsNumber: '1234567890' });
    expect(invalid).to.deep.equal({ status: 400, body: { error: 'invalid_request', problems: [
      { field: 'level', text: 'Select the proofing level: P0, P5 or P9' },
      { field: 'nhsNumber', text: 'Enter a valid NHS number, 10 digits with a correct check digit, like 999 000 5001' },
    ] } });
    const missing = await postJson(test, '/dev/test-users/api/reset', { email: 'nobody@carelogin.test' });
    expect(missing.status).to.equal(404);
  });
});
