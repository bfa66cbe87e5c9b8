import { expect } from 'chai';
import { UnknownEventError } from '../../interactions/engine/errors.js';
import { nextStep, startStep } from '../../interactions/engine/next-step.js';
import type { JourneyFacts } from '../../interactions/engine/types.js';
import { signInJourney } from '../../interactions/journeys/sign-in.js';
import { stepUpJourney } from '../../interactions/journeys/step-up.js';

/**
 * Transition tables (GOV.UK state-machine.test.ts style): for each journey, every
 * (step, event, facts) row and where it must lead. A change to a journey that moves any
 * row is a reviewed change to this table too.
 */
interface Row {
  readonly from: string;
  readonly event: string;
  readonly facts: JourneyFacts;
  readonly to: string;
}

const MOBILE: JourneyFacts = { hasVerifiedMobile: true };
const NO_MOBILE: JourneyFacts = { hasVerifiedMobile: false };

describe('sign-in journey transitions', () => {
  it('starts at enter-email', () => {
    expect(startStep(signInJourney, {}).step).to.equal('enter-email');
  });

  const rows: Row[] = [
    { from: 'enter-email', event: 'submitted', facts: {}, to: 'enter-password' },
    { from: 'enter-password', event: 'verified', facts: MOBILE, to: 'enter-security-code' },
    { from: 'enter-password', event: 'verified', facts: { ...NO_MOBILE, hasVerifiedEmail: true }, to: 'add-mobile-number' },
    { from: 'enter-password', event: 'verified', facts: {}, to: 'confirm-email' },
    { from: 'enter-password', event: 'emailChangeRequested', facts: {}, to: 'enter-email' },
    { from: 'enter-security-code', event: 'verified', facts: MOBILE, to: 'signed-in' },
  ];
  for (const row of rows) {
    it(`${row.from} --${row.event}${JSON.stringify(row.facts)}--> ${row.to}`, () => {
      expect(nextStep(signInJourney, row.from, row.event, row.facts).step).to.equal(row.to);
    });
  }

  it('passes through choose-second-factor without resting there', () => {
    const result = nextStep(signInJourney, 'enter-password', 'verified', MOBILE);
    expect(result.path.map((t) => t.to)).to.deep.equal(['choose-second-factor', 'enter-security-code']);
  });

  it('has no way from the email step straight to a later step (no skipping)', () => {
    expect(() => nextStep(signInJourney, 'enter-email', 'verified', MOBILE)).to.throw(UnknownEventError);
  });
});

describe('step-up journey transitions', () => {
  const rows: { name: string; facts: JourneyFacts; to: string }[] = [
    { name: 'Cd missing, verified mobile', facts: { hasVerifiedMobile: true, stepUp: { reason: 'credentials', missing: ['Cd'] } }, to: 'enter-security-code' },
    { name: 'Cd missing, no mobile', facts: { hasVerifiedMobile: false, stepUp: { reason: 'credentials', missing: ['Cd'] } }, to: 'method-not-available' },
    { name: 'Cm missing', facts: { hasVerifiedMobile: true, stepUp: { reason: 'credentials', missing: ['Cm'] } }, to: 'method-not-available' },
    { name: 'Ck missing', facts: { hasVerifiedMobile: true, stepUp: { reason: 'credentials', missing: ['Ck'] } }, to: 'method-not-available' },
    { name: 'Cp and Cd missing', facts: { hasVerifiedMobile: true, stepUp: { reason: 'credentials', missing: ['Cp', 'Cd'] } }, to: 'method-not-available' },
    { name: 'identity level too low', facts: { hasVerifiedMobile: true, stepUp: { reason: 'proofing', missing: ['Cd'] } }, to: 'identity-verification-required' },
    { name: 'P0 asked for P5', facts: { identityLevel: 'P0', proofingRoutes: ['demographics-match', 'gp-linkage'], stepUp: { reason: 'proofing', missing: [], level: 'P5' } }, to: 'enter-your-details' },
    { name: 'P0 asked for P9 (P5 first)', facts: { identityLevel: 'P0', proofingRoutes: ['demographics-match', 'gp-linkage'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'enter-your-details' },
    { name: 'P0 asked for P9 with no GP route (no P5 detour)', facts: { identityLevel: 'P0', proofingRoutes: ['demographics-match'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'identity-verification-required' },
    { name: 'P5 asked for P9', facts: { identityLevel: 'P5', proofingRoutes: ['demographics-match', 'gp-linkage'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'enter-gp-details' },
    { name: 'P0 asked for P9 with photo ID only (P5 first)', facts: { identityLevel: 'P0', proofingRoutes: ['demographics-match', 'photo-id'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'enter-your-details' },
    { name: 'P5 asked for P9 with both P9 routes (GP first, photo ID offered there)', facts: { identityLevel: 'P5', proofingRoutes: ['demographics-match', 'gp-linkage', 'photo-id'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'enter-gp-details' },
    { name: 'P5 asked for P9 with photo ID only', facts: { identityLevel: 'P5', proofingRoutes: ['photo-id'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }, to: 'provide-photo-id' },
    { name: 'P5 asked for P5 with photo ID on (nothing to prove)', facts: { identityLevel: 'P5', hasVerifiedMobile: true, proofingRoutes: ['photo-id'], stepUp: { reason: 'proofing', missing: ['Cd'], level: 'P5' } }, to: 'enter-security-code' },
    { name: 'P0 asked for P5 with checks switched off', facts: { identityLevel: 'P0', proofingRoutes: [], stepUp: { reason: 'proofing', missing: [], level: 'P5' } }, to: 'identity-verification-required' },
    { name: 'nothing known', facts: {}, to: 'method-not-available' },
  ];
  for (const row of rows) {
    it(`starts at ${row.to} when ${row.name}`, () => {
      expect(startStep(stepUpJourney, row.facts).step).to.equal(row.to);
    });
  }

  it('after an identity check: done, the next route, or the credential still missing', () => {
    const routes = ['demographics-match', 'gp-linkage'];
    expect(nextStep(stepUpJourney, 'enter-your-details', 'matched', { identityLevel: 'P5', proofingRoutes: routes, stepUp: { reason: 'proofing', missing: [], level: 'P5' } }).step).to.equal('signed-in');
    expect(nextStep(stepUpJourney, 'enter-your-details', 'matched', { identityLevel: 'P5', proofingRoutes: routes, stepUp: { reason: 'proofing', missing: [], level: 'P9' } }).step).to.equal('enter-gp-details');
    expect(nextStep(stepUpJourney, 'enter-gp-details', 'matched', { identityLevel: 'P9', hasVerifiedMobile: true, proofingRoutes: routes, stepUp: { reason: 'proofing', missing: ['Cd'], level: 'P9' } }).step).to.equal('enter-security-code');
    // Any vector asked for will do, not only the one oidc-provider named (here P5.Cp.Ck, for a Cp+Cd session).
    expect(nextStep(stepUpJourney, 'enter-your-details', 'matched', { identityLevel: 'P5', amr: ['pwd', 'sms'], requestedCredentials: [['Cp', 'Ck'], ['Cp', 'Cd']], proofingRoutes: routes, stepUp: { reason: 'proofing', missing: ['Ck'], level: 'P5' } }).step).to.equal('signed-in');
    expect(nextStep(stepUpJourney, 'enter-gp-details', 'matched', { identityLevel: 'P9', amr: ['hwk'], requestedCredentials: [['Cp', 'Cd'], ['Cp', 'Ck'], ['Cm']], proofingRoutes: routes, stepUp: { reason: 'proofing', missing: ['Cp', 'Cd'], level: 'P9' } }).step).to.equal('signed-in');
    // A match that somehow left the level short never signs in.
    expect(nextStep(stepUpJourney, 'enter-gp-details', 'matched', { identityLevel: 'P5', proofingRoutes: ['demographics-match'], stepUp: { reason: 'proofing', missing: [], level: 'P9' } }).step).to.equal('identity-verification-required');
  });

  it('signs in again after the security code', () => {
    expect(nextStep(stepUpJourney, 'enter-security-code', 'verified', {}).step).to.equal('signed-in');
  });

  it('ends with the error descriptions relying parties are told to expect', () => {
    expect(stepUpJourney.steps['identity-verification-required']).to.deep.include({ end: 'abort', error: 'access_denied', description: 'identity verification required' });
    expect(stepUpJourney.steps['method-not-available']).to.deep.include({ end: 'abort', error: 'access_denied', description: 'authentication method not available' });
  });
});
