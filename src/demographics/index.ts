import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { createFakePds, createNoDemographics, createUnavailablePds, loadFakePdsFile } from './fake-pds.js';
import type { PatientDemographics } from './patient-demographics.js';
import { createPdsFhir } from './pds-fhir.js';

/** The adapter DEMOGRAPHICS_SOURCE selects; a bad FAKE_PDS_FILE or PDS key stops the start (ConfigError). */
export function createPatientDemographics(config: Config, logger: Logger): PatientDemographics {
  switch (config.identityChecks.demographics.source) {
    case 'pds-fhir':
      return createPdsFhir(config, logger);
    case 'fake-pds':
      return createFakePds(config.identityChecks.demographics.fakePdsFile ? loadFakePdsFile(config.identityChecks.demographics.fakePdsFile) : undefined);
    case 'unavailable':
      return createUnavailablePds();
    case 'none':
      return createNoDemographics();
  }
}
