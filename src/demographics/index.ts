import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { createFakePds, createNoDemographics, createUnavailablePds, loadFakePdsFile } from './fake-pds.js';
import type { TestUserRegister } from '../test-users/register.js';
import { FAKE_PDS_PATIENTS } from './fake-pds-patients.js';
import type { PatientDemographics, PatientRecord } from './patient-demographics.js';
import { createPdsFhir } from './pds-fhir.js';

/** The fake register's own patients: an RP developer's FAKE_PDS_FILE, or the built-in ones. */
export function fakeRegisterPatients(config: Config): readonly PatientRecord[] {
  return config.identityChecks.demographics.fakePdsFile ? loadFakePdsFile(config.identityChecks.demographics.fakePdsFile) : FAKE_PDS_PATIENTS;
}

/**
 * The adapter DEMOGRAPHICS_SOURCE selects; a bad FAKE_PDS_FILE or PDS key stops the start (ConfigError).
 * `testUsers`: the test users the fake register holds too (D27); only `fake-pds` reads them.
 */
export function createPatientDemographics(config: Config, logger: Logger, testUsers?: TestUserRegister): PatientDemographics {
  switch (config.identityChecks.demographics.source) {
    case 'pds-fhir':
      return createPdsFhir(config, logger);
    case 'fake-pds':
      return createFakePds(fakeRegisterPatients(config), testUsers);
    case 'unavailable':
      return createUnavailablePds();
    case 'none':
      return createNoDemographics();
  }
}
