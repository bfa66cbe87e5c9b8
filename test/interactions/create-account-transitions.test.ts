import { expect } from 'chai';
import { UnknownEventError } from '../../interactions/engine/errors.js';
import { nextStep, startStep } from '../../interactions/engine/next-step.js';
import type { JourneyFacts } from '../../interactions/engine/types.js';
import { createAccountJourney } from '../../interactions/journeys/create-account.js';
import { signInJourney } from '../../interactions/journeys/sign-in.js';

/**
 * Transition tables for creating an account and for sign-in's "no verified mobile" branch
 * (same style as journey-transitions.test.ts): every row and where it must lead.
 */
interface Row {
  readonly from: string;
  readonly event: string;
  readonly facts: JourneyFacts;
  readonly to: string;
}

describe('create-account journey transitions', () => {
  it('starts at enter-account-details', () => {
    expect(startStep(createAccountJourney, {}).step).to.equal('enter-account-details');
  });

  const rows: Row[] = [
    { from: 'enter-account-details', event: 'registered', facts: {}, to: 'confirm-email' },
    { from: 'confirm-email', event: 'confirmed', facts: {}, to: 'enter-mobile-number' },
    { from: 'enter-mobile-number', event: 'submitted', facts: {}, to: 'confirm-mobile' },
    { from: 'confirm-mobile', event: 'verified', facts: {}, to: 'account-created' },
    { from: 'confirm-mobile', event: 'changeNumberRequested', facts: {}, to: 'enter-mobile-number' },
  ];
  for (const row of rows) {
    it(`${row.from} --${row.event}--> ${row.to}`, () => {
      expect(nextStep(createAccountJourney, row.from, row.event, row.facts).step).to.equal(row.to);
    });
  }

  it('cannot skip the email confirmation', () => {
    expect(() => nextStep(createAccountJourney, 'enter-account-details', 'confirmed', {})).to.throw(UnknownEventError);
    expect(() => nextStep(createAccountJourney, 'enter-account-details', 'verified', {})).to.throw(UnknownEventError);
  });

  it('is entered only from sign-in\'s email page, and not when the service sent allow_registration=false', () => {
    expect(createAccountJourney.entry).to.deep.include({ from: 'sign-in', steps: ['enter-email'], action: 'create-account', unlessParam: { name: 'allow_registration', value: 'false' } });
  });
});

describe('sign-in without a verified mobile', () => {
  const rows: Row[] = [
    { from: 'enter-password', event: 'verified', facts: { hasVerifiedMobile: false, hasVerifiedEmail: true }, to: 'add-mobile-number' },
    { from: 'enter-password', event: 'verified', facts: { hasVerifiedMobile: false, hasVerifiedEmail: false }, to: 'confirm-email' },
    { from: 'enter-password', event: 'verified', facts: {}, to: 'confirm-email' },
    { from: 'confirm-email', event: 'confirmed', facts: {}, to: 'add-mobile-number' },
    { from: 'add-mobile-number', event: 'submitted', facts: {}, to: 'confirm-mobile' },
    { from: 'confirm-mobile', event: 'verified', facts: {}, to: 'mobile-added' },
    { from: 'confirm-mobile', event: 'changeNumberRequested', facts: {}, to: 'add-mobile-number' },
  ];
  for (const row of rows) {
    it(`${row.from} --${row.event}${JSON.stringify(row.facts)}--> ${row.to}`, () => {
      expect(nextStep(signInJourney, row.from, row.event, row.facts).step).to.equal(row.to);
    });
  }

  it('ends with a login only after the password and the new mobile\'s code', () => {
    expect(signInJourney.steps['mobile-added']).to.deep.equal({ end: 'login' });
    expect(signInJourney.steps['confirm-mobile']).to.deep.include({ method: 'confirm-mobile' });
  });
});
