import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isValidNhsNumber } from '../../src/accounts/nhs-number.js';
import { PERSONAS } from '../../src/accounts/personas.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { createPatientDemographics } from '../../src/demographics/index.js';
import { createLogger } from '../../src/logger.js';
import { loadFakePdsFile, tracePatients } from '../../src/demographics/fake-pds.js';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import { nameKey, postcodeKey, type PatientRecord } from '../../src/demographics/patient-demographics.js';
import { createGpOnlineRegistration, FAKE_GP_REGISTRATIONS, verifyRegistration } from '../../src/gp-online/fake-gp-online.js';

const silentLogger = createLogger({ level: 'silent' });
const REID = FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Reid')!;

describe('fake patient register (PDS stand-in)', () => {
  it('holds only fictional, well-formed patients, none of them a persona', () => {
    const personaNumbers = PERSONAS.map((p) => p.nhsNumber).filter(Boolean);
    const numbers = FAKE_PDS_PATIENTS.map((p) => p.nhsNumber);
    expect(new Set(numbers).size).to.equal(numbers.length);
    for (const patient of FAKE_PDS_PATIENTS) {
      expect(isValidNhsNumber(patient.nhsNumber), patient.nhsNumber).to.equal(true);
      expect(patient.nhsNumber.startsWith('99'), 'outside the numbers issued to real people').to.equal(true);
      expect(personaNumbers).to.not.include(patient.nhsNumber);
      expect(Number.isNaN(Date.parse(patient.birthdate))).to.equal(false);
    }
  });

  it('traces by NHS number: that record, with its birth date and postcode', () => {
    expect(tracePatients(FAKE_PDS_PATIENTS, { nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: 'g11xq' })).to.deep.equal({ kind: 'matched', patient: REID });
    expect(tracePatients(FAKE_PDS_PATIENTS, { nhsNumber: REID.nhsNumber, birthdate: '1990-10-11', postcode: REID.postcode })).to.deep.equal({ kind: 'not-matched', why: 'details-differ' });
    expect(tracePatients(FAKE_PDS_PATIENTS, { nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: 'G1 1XX' })).to.deep.equal({ kind: 'not-matched', why: 'details-differ' });
    expect(tracePatients(FAKE_PDS_PATIENTS, { nhsNumber: '9434765919', birthdate: REID.birthdate, postcode: REID.postcode })).to.deep.equal({ kind: 'not-matched', why: 'no-record' });
  });

  it('traces by name: family name, first given name, birth date and postcode, and exactly one record', () => {
    const byName = (givenName: string, familyName: string, birthdate: string, postcode: string) => tracePatients(FAKE_PDS_PATIENTS, { givenName, familyName, birthdate, postcode });
    expect(byName('thomas', "O’BRIEN", '1978-11-30', 'cf101ep').kind).to.equal('matched');
    expect(byName('Patrick', "O'Brien", '1978-11-30', 'CF10 1EP'), 'a middle name is not the first').to.deep.equal({ kind: 'not-matched', why: 'no-record' });
    expect(byName('Priya', 'Sharma Lewis', '1983-05-22', 'B1 1BB').kind, 'a hyphen typed as a space').to.equal('matched');
    expect(byName('Sam', 'Taylor', '1988-09-09', 'EX1 1AA')).to.deep.equal({ kind: 'not-matched', why: 'several-records' });
    expect(byName('Margaret', 'Ellis', '1931-04-12', 'SW1A 2AA')).to.deep.equal({ kind: 'not-matched', why: 'deceased' });
    expect(byName('', 'Reid', REID.birthdate, REID.postcode)).to.deep.equal({ kind: 'not-matched', why: 'no-record' });
  });

  it('compares names and postcodes the way people type them', () => {
    expect(nameKey('  Zoë  ')).to.equal(nameKey('zoe'));
    expect(nameKey('Smith‐Jones')).to.equal(nameKey('smith jones'));
    expect(nameKey('Smith')).to.not.equal(nameKey('Smyth'));
    expect(postcodeKey('ls1 4ap')).to.equal(postcodeKey('LS14AP'));
  });

  it('loads an RP developer\'s own register, and stops the start on a bad one naming the problem', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-pds-'));
    const good: PatientRecord[] = [{ nhsNumber: '9910125080', givenNames: ['Ada'], familyName: 'Lovelace', birthdate: '1985-12-10', postcode: 'W1A 1AA', gpOdsCode: 'E85001' }];
    const file = path.join(dir, 'patients.json');
    writeFileSync(file, JSON.stringify(good));
    expect(loadFakePdsFile(file)).to.deep.equal(good);
    const register = createPatientDemographics(loadConfig({ FAKE_PDS_FILE: file }), silentLogger);
    expect(register).to.include({ source: 'fake-pds', enabled: true });

    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ ...good[0], nhsNumber: '9910125081' }]));
    expect(() => loadFakePdsFile(bad)).to.throw(ConfigError, /checksum-valid NHS number/);
    writeFileSync(bad, JSON.stringify([good[0], good[0]]));
    expect(() => loadFakePdsFile(bad)).to.throw(ConfigError, /twice/);
    writeFileSync(bad, '{ not json');
    expect(() => loadFakePdsFile(bad)).to.throw(ConfigError, /could not be read as JSON/);
  });

  it('selects the adapter by configuration', async () => {
    expect(createPatientDemographics(loadConfig({ DEMOGRAPHICS_SOURCE: 'none' }), silentLogger)).to.include({ source: 'none', enabled: false });
    const down = createPatientDemographics(loadConfig({ DEMOGRAPHICS_SOURCE: 'unavailable' }), silentLogger);
    expect(await down.trace({ nhsNumber: REID.nhsNumber, birthdate: REID.birthdate, postcode: REID.postcode })).to.deep.equal({ kind: 'unavailable' });
    expect(await down.retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'unavailable' });
    expect(await createPatientDemographics(loadConfig({ DEMOGRAPHICS_SOURCE: 'none' }), silentLogger).retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'unavailable' });
  });

  it('retrieves the record under an NHS number whatever it says, a death included (the back office\'s re-check), and says when there is none', async () => {
    const register = createPatientDemographics(loadConfig({}), silentLogger);
    expect(await register.retrieve(REID.nhsNumber)).to.deep.equal({ kind: 'found', patient: REID });
    const deceased = FAKE_PDS_PATIENTS.find((p) => p.deceased)!;
    expect(await register.retrieve(deceased.nhsNumber)).to.deep.equal({ kind: 'found', patient: deceased });
    const p5 = PERSONAS.find((p) => p.key === 'p5')!;
    expect(await register.retrieve(p5.nhsNumber!)).to.deep.equal({ kind: 'no-record' });
  });
});

describe('fake GP online registrations (IM1 linkage stand-in)', () => {
  const amara = FAKE_PDS_PATIENTS.find((p) => p.familyName === 'Patel')!;
  const registration = FAKE_GP_REGISTRATIONS.find((r) => r.nhsNumber === amara.nhsNumber)!;
  const query = { odsCode: registration.odsCode, accountId: registration.accountId, linkageKey: registration.linkageKey, familyName: 'patel', birthdate: amara.birthdate };

  it('belong to living patients of the fake register, at the practice the register gives', () => {
    for (const r of FAKE_GP_REGISTRATIONS) {
      const patient = FAKE_PDS_PATIENTS.find((p) => p.nhsNumber === r.nhsNumber);
      expect(patient, r.nhsNumber).to.not.equal(undefined);
      expect(patient!.deceased).to.equal(undefined);
      expect(r.odsCode).to.equal(patient!.gpOdsCode);
    }
  });

  it('match on the practice, account ID and exact linkage key, with the last name and date of birth', () => {
    expect(verifyRegistration(FAKE_GP_REGISTRATIONS, FAKE_PDS_PATIENTS, { ...query, odsCode: query.odsCode.toLowerCase() })).to.deep.equal({ kind: 'matched', patient: amara, accountId: registration.accountId, linkageKey: registration.linkageKey });
    expect(verifyRegistration(FAKE_GP_REGISTRATIONS, FAKE_PDS_PATIENTS, { ...query, linkageKey: query.linkageKey.toUpperCase() })).to.deep.equal({ kind: 'not-matched', why: 'no-registration' });
    expect(verifyRegistration(FAKE_GP_REGISTRATIONS, FAKE_PDS_PATIENTS, { ...query, accountId: '5100381143' })).to.deep.equal({ kind: 'not-matched', why: 'no-registration' });
    expect(verifyRegistration(FAKE_GP_REGISTRATIONS, FAKE_PDS_PATIENTS, { ...query, familyName: 'Patil' })).to.deep.equal({ kind: 'not-matched', why: 'details-differ' });
    expect(verifyRegistration(FAKE_GP_REGISTRATIONS, FAKE_PDS_PATIENTS, { ...query, birthdate: '1991-02-04' })).to.deep.equal({ kind: 'not-matched', why: 'details-differ' });
  });

  it('are switched by configuration', async () => {
    expect(createGpOnlineRegistration(loadConfig({ GP_ONLINE_SOURCE: 'none' }))).to.include({ source: 'none', enabled: false });
    expect(await createGpOnlineRegistration(loadConfig({ GP_ONLINE_SOURCE: 'unavailable' })).verify(query)).to.deep.equal({ kind: 'unavailable' });
    expect((await createGpOnlineRegistration(loadConfig({})).verify(query)).kind).to.equal('matched');
  });
});
