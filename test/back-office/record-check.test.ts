import { expect } from 'chai';
import { compareRecord, needsConfirmation } from '../../src/back-office/record-check.js';
import type { PatientRecord } from '../../src/demographics/patient-demographics.js';

describe('back office: comparing the account with the NHS record (the re-check)', () => {
  const record: PatientRecord = { nhsNumber: '9910011387', givenNames: ['Thomas', 'Patrick'], familyName: "O'Brien", birthdate: '1978-11-30', postcode: 'CF10 1EP', gpOdsCode: 'W97016' };
  const account = { givenName: 'Thomas Patrick', familyName: "O'Brien", birthdate: '1978-11-30', postcode: 'CF10 1EP' };

  it('matches as identity checks do: case, spacing, accents and the kind of apostrophe do not matter; a date column read as a Date counts', () => {
    const check = compareRecord({ givenName: 'thomas  patrick', familyName: 'O’BRIEN', birthdate: new Date(1978, 10, 30) as unknown as string, postcode: 'cf101ep' }, record);
    expect(check).to.deep.equal({ found: true, name: true, birthdate: true, postcode: true, deceased: false });
    expect(needsConfirmation(check)).to.equal(false);
    expect(needsConfirmation(undefined), 'never re-checked: nothing to confirm').to.equal(false);
  });

  it('says which detail differs, and that a death is recorded; each of these makes Approve need a confirmation', () => {
    const changes = {
      name: { ...account, familyName: 'Brien' },
      birthdate: { ...account, birthdate: '1978-11-29' },
      postcode: { ...account, postcode: 'CF11 9AA' },
    } as const;
    for (const [field, changed] of Object.entries(changes)) {
      const check = compareRecord(changed, record);
      expect(check, field).to.deep.equal({ found: true, name: field !== 'name', birthdate: field !== 'birthdate', postcode: field !== 'postcode', deceased: false });
      expect(needsConfirmation(check), field).to.equal(true);
    }
    expect(needsConfirmation(compareRecord(account, { ...record, deceased: '2025-01-01' }))).to.equal(true);
    expect(needsConfirmation({ found: false })).to.equal(true);
  });
});
