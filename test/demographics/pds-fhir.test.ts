import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/index.js';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import { createPatientDemographics } from '../../src/demographics/index.js';
import type { PatientDemographics, PatientRecord } from '../../src/demographics/patient-demographics.js';
import { createPdsFhirClient, toPatientRecord } from '../../src/demographics/pds-fhir.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { CHECK_UNAVAILABLE } from '../../interactions/methods/identity-check-step.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { createAccount, errorSummary, heading, signInThroughCode, submit } from '../interactions/support.js';
import { pdsFhirEnv, pdsKeyFiles, startFakePdsFhir, toFhirPatient, type FakePdsFhir } from '../helpers/fake-pds-fhir.js';

const REID = FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Reid')!;
const ELLIS = FAKE_PDS_PATIENTS.find((p) => p.deceased)!;
const TAYLORS = FAKE_PDS_PATIENTS.filter((p) => p.familyName === 'Taylor');

describe('PDS FHIR adapter (DEMOGRAPHICS_SOURCE=pds-fhir) against an HTTP stand-in for the API platform', () => {
  const keys = pdsKeyFiles();
  let pds: FakePdsFhir;
  let register: PatientDemographics;
  let logs: LogCapture;

  function client(overrides: { keyFile?: string; timeoutMs?: number } = {}): PatientDemographics {
    return createPdsFhirClient({
      settings: { baseUrl: pds.baseUrl, tokenUrl: pds.tokenUrl, apiKey: pds.apiKey, privateKeyFile: overrides.keyFile ?? keys.privateKeyFile, keyId: 'carelogin-int-1' },
      timeoutMs: overrides.timeoutMs ?? 2000,
      logger: createLogger({ level: 'debug' }, logs),
    });
  }

  beforeEach(async () => {
    logs = createLogCapture();
    pds = await startFakePdsFhir({ patients: FAKE_PDS_PATIENTS, publicKey: keys.publicKey, keyId: 'carelogin-int-1' });
    register = client();
  });
  afterEach(async () => pds.close());

  const fhirRequests = (): FakePdsFhir['requests'] => pds.requests.filter((r) => r.url.includes('/FHIR/'));
  const tokenRequests = (): FakePdsFhir['requests'] => pds.requests.filter((r) => r.url === '/oauth2/token');

  it('traces by NHS number with a bearer token and a fresh X-Request-ID, and keeps the current usual name and home postcode', async () => {
    const result = await register.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode.toLowerCase() });
    expect(result.kind).to.equal('matched');
    expect(result.kind === 'matched' && result.patient).to.deep.include({ nhsNumber: REID.nhsNumber, givenNames: REID.givenNames, familyName: REID.familyName, postcode: REID.postcode, gpOdsCode: REID.gpOdsCode });
    const [read] = fhirRequests();
    expect(read!.url).to.equal(`/personal-demographics/FHIR/R4/Patient/${REID.nhsNumber}`);
    expect(read!.headers.authorization).to.match(/^Bearer /);
    expect(read!.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });

  it('searches by name, date of birth and postcode with an exact, non-fuzzy search', async () => {
    const result = await register.trace({ givenName: 'jordan', familyName: 'REID', birthdate: REID.birthdate, postcode: REID.postcode });
    expect(result.kind).to.equal('matched');
    const query = new URL(fhirRequests()[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(query)).to.deep.equal({ family: 'REID', given: 'jordan', birthdate: `eq${REID.birthdate}`, 'address-postalcode': REID.postcode, '_exact-match': 'true' });
  });

  it('tells a miss, several records and a recorded death apart for the audit trail, as the fake register does', async () => {
    expect(await register.trace({ nhsNumber: '9434765919', birthdate: '1970-01-01', postcode: 'LS1 4AP' })).to.deep.equal({ kind: 'not-matched', why: 'no-record' });
    expect(await register.trace({ nhsNumber: REID.nhsNumber, birthdate: '1991-01-01', postcode: REID.postcode })).to.deep.equal({ kind: 'not-matched', why: 'details-differ' });
    expect(await register.trace({ givenName: 'Nobody', familyName: 'Known', birthdate: '1970-01-01', postcode: 'ZZ1 1ZZ' })).to.deep.equal({ kind: 'not-matched', why: 'no-record' });
    const sam = TAYLORS[0]!;
    expect(TAYLORS).to.have.length(2);
    expect(await register.trace({ givenName: sam.givenNames[0]!, familyName: sam.familyName, birthdate: sam.birthdate, postcode: sam.postcode })).to.deep.equal({ kind: 'not-matched', why: 'several-records' });
    expect(await register.trace({ nhsNumber: ELLIS.nhsNumber, birthdate: ELLIS.birthdate, postcode: ELLIS.postcode })).to.deep.equal({ kind: 'not-matched', why: 'deceased' });
  });

  it('fetches one token for many traces, a new one shortly before it expires, and another when PDS refuses the old one', async () => {
    await Promise.all([1, 2, 3].map(() => register.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })));
    expect(tokenRequests()).to.have.length(1);

    // A token within 30 s of its expiry is not used: with 30 s lifetimes every trace fetches a new one.
    pds.tokenLifetime = 30;
    const fresh = client();
    await fresh.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode });
    expect((await fresh.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })).kind).to.equal('matched');
    expect(tokenRequests()).to.have.length(3);
    pds.tokenLifetime = 599;

    pds.revokeTokens();
    expect((await register.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })).kind).to.equal('matched');
    expect(tokenRequests()).to.have.length(4);
  });

  it('is unavailable, and says so in the log, when the platform refuses its signed JWT (a key it does not know)', async () => {
    const stranger = client({ keyFile: pdsKeyFiles().privateKeyFile });
    expect(await stranger.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })).to.deep.equal({ kind: 'unavailable' });
    expect(fhirRequests()).to.have.length(0);
    expect(logs.find('PDS could not be reached')[0]).to.include({ status: 401 });
  });

  it('is unavailable when PDS is down or does not answer in time, and nothing the person typed reaches the log', async () => {
    pds.mode = 'down';
    expect(await register.trace({ givenName: 'Jordan', familyName: 'Reid', birthdate: REID.birthdate, postcode: REID.postcode })).to.deep.equal({ kind: 'unavailable' });
    pds.mode = 'silent';
    const slow = client({ timeoutMs: 300 });
    const started = Date.now();
    expect(await slow.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })).to.deep.equal({ kind: 'unavailable' });
    expect(Date.now() - started).to.be.below(2000);
    const text = logs.text();
    expect(text).to.include('PDS could not');
    for (const typed of [REID.nhsNumber, 'Jordan', REID.birthdate, REID.postcode]) expect(text).to.not.include(typed);
  });

  it('retrieves the record under an NHS number as PDS holds it, a death included (the back office\'s re-check); no record, down or too slow are told apart', async () => {
    expect(await register.retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'found', patient: REID });
    expect(await register.retrieve(ELLIS.nhsNumber)).to.deep.equal({ kind: 'found', patient: ELLIS });
    expect(fhirRequests().map((r) => r.url)).to.deep.equal([`/personal-demographics/FHIR/R4/Patient/${REID.nhsNumber}`, `/personal-demographics/FHIR/R4/Patient/${ELLIS.nhsNumber}`]);
    expect(await register.retrieve('9434765919')).to.deep.equal({ kind: 'no-record' });
    pds.mode = 'down';
    expect(await register.retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'unavailable' });
    pds.mode = 'silent';
    const started = Date.now();
    expect(await client({ timeoutMs: 300 }).retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'unavailable' });
    expect(Date.now() - started).to.be.below(2000);
    expect(logs.text()).to.not.include(REID.nhsNumber);
  });

  it('never matches a restricted record, whose answer has no address', () => {
    const restricted = { ...toFhirPatient(REID), address: undefined };
    expect(toPatientRecord(restricted as never, Date.now())).to.equal(undefined);
  });

  it('reads past names and addresses as history, not as the current ones', () => {
    const moved: PatientRecord = { ...REID, postcode: 'EH1 1YZ' };
    const fhir = toFhirPatient(moved) as { address: { use: string; period: { start: string; end?: string }; postalCode: string }[] };
    fhir.address.unshift({ use: 'home', period: { start: '2001-01-01', end: '2014-12-31' }, postalCode: REID.postcode });
    expect(toPatientRecord(fhir as never, Date.parse('2026-12-07'))).to.include({ postcode: 'EH1 1YZ', familyName: REID.familyName });
  });
});

describe('PDS FHIR configuration', () => {
  const base = { DEMOGRAPHICS_SOURCE: 'pds-fhir', PDS_FHIR_BASE_URL: 'https://int.api.service.nhs.uk/personal-demographics/FHIR/R4', PDS_TOKEN_URL: 'https://int.api.service.nhs.uk/oauth2/token', PDS_API_KEY: 'key', PDS_KEY_ID: 'kid-1' };

  it('needs every PDS_* setting, https outside this machine, and the settings only with pds-fhir', () => {
    expect(() => loadConfig({ DEMOGRAPHICS_SOURCE: 'pds-fhir' })).to.throw(ConfigError, /PDS_FHIR_BASE_URL, PDS_TOKEN_URL, PDS_API_KEY, PDS_PRIVATE_KEY_FILE, PDS_KEY_ID/);
    expect(() => loadConfig({ ...base, PDS_PRIVATE_KEY_FILE: 'x.pem', PDS_TOKEN_URL: 'http://api.example/oauth2/token' })).to.throw(ConfigError, /PDS_TOKEN_URL must use https/);
    expect(() => loadConfig({ PDS_API_KEY: 'key' })).to.throw(ConfigError, /need DEMOGRAPHICS_SOURCE=pds-fhir/);
    expect(loadConfig({ ...base, PDS_PRIVATE_KEY_FILE: '/tmp/k.pem', PDS_FHIR_BASE_URL: 'http://localhost:9000/FHIR/R4', PDS_TOKEN_URL: 'http://127.0.0.1:9000/oauth2/token' }).identityChecks.demographics.pds).to.include({ apiKey: 'key', keyId: 'kid-1' });
  });

  it('stops the start when the private key cannot be read or is not RSA ≥ 2048', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-pds-'));
    const silent = createLogger({ level: 'silent' });
    expect(() => createPatientDemographics(loadConfig({ ...base, PDS_PRIVATE_KEY_FILE: path.join(dir, 'missing.pem') }), silent)).to.throw(ConfigError, /could not be read/);
    const ec = path.join(dir, 'ec.pem');
    writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(() => createPatientDemographics(loadConfig({ ...base, PDS_PRIVATE_KEY_FILE: ec }), silent)).to.throw(ConfigError, /RSA key of at least 2048 bits/);
  });
});

describe('P5 identity check through the PDS FHIR adapter (the whole journey, real HTTP at both ends)', () => {
  const keys = pdsKeyFiles();
  let pds: FakePdsFhir;
  let test: TestIdp;

  before(async () => {
    pds = await startFakePdsFhir({ patients: FAKE_PDS_PATIENTS, publicKey: keys.publicKey, keyId: 'carelogin-int-1' });
    test = await startTestIdp({
      env: pdsFhirEnv(pds, keys),
    });
  });
  after(async () => {
    await test?.close();
    await pds?.close();
  });

  it('matches a patient PDS knows and returns vot P5 with the register\'s details; PDS down is "try again in a few minutes"', async () => {
    const account = await createAccount(test);
    const { journey, page } = await signInThroughCode(test, account, { params: { vtr: '["P5.Cp.Cd"]', scope: 'openid profile' } });
    expect(heading(page)).to.equal('Prove who you are');

    pds.mode = 'down';
    const later = await submit(journey, page, { 'nhs-number': REID.nhsNumber, 'birthdate-day': '10', 'birthdate-month': '10', 'birthdate-year': '1990', postcode: REID.postcode });
    expect(errorSummary(later)).to.deep.equal([CHECK_UNAVAILABLE]);

    pds.mode = 'ok';
    let done = await submit(journey, later, { 'nhs-number': REID.nhsNumber, 'birthdate-day': '10', 'birthdate-month': '10', 'birthdate-year': '1990', postcode: REID.postcode });
    if (!done.callbackUrl) done = await journey.browser.submit(done, {}, { button: 'Continue' });
    const claims = (await test.rp.exchange(done.callbackUrl!, journey.request)).claims()!;
    expect(claims).to.include({ vot: 'P5.Cp.Cd', nhs_number: REID.nhsNumber, identity_proofing_level: 'P5' });
    expect((await test.idp.services.accounts.findById(account.id))!).to.include({ proofingLevel: 'P5', familyName: REID.familyName, gpOdsCode: REID.gpOdsCode });
    expect(pds.requests.filter((r) => r.url.includes('/FHIR/'))).to.have.length(1); // the outage was answered before any FHIR call
  });
});
