import type { Config } from '../config/index.js';
import { createFakePds, createNoDemographics, createUnavailablePds, loadFakePdsFile } from './fake-pds.js';
import type { PatientDemographics } from './patient-demographics.js';

/** The adapter DEMOGRAPHICS_SOURCE selects; a bad FAKE_PDS_FILE stops the start (ConfigError). */
export function createPatientDemographics(config: Config): PatientDemographics {
  switch (config.identityChecks.demographics.source) {
    case 'fake-pds':
      return createFakePds(config.identityChecks.demographics.fakePdsFile ? loadFakePdsFile(config.identityChecks.demographics.fakePdsFile) : undefined);
    case 'unavailable':
      return createUnavailablePds();
    case 'none':
      return createNoDemographics();
  }
}
