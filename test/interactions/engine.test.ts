import { expect } from 'chai';
import { DecisionLoopError, NoTransitionError, UnknownEventError, UnknownStepError } from '../../interactions/engine/errors.js';
import { GUARDS } from '../../interactions/engine/guards.js';
import { nextStep, startStep } from '../../interactions/engine/next-step.js';
import type { Journey } from '../../interactions/engine/types.js';

/**
 * The pure engine on a small made-up journey, so each rule is tested on its own terms:
 * first matching transition wins, decisions fire by themselves, unknown names are typed errors.
 */
const journey: Journey = {
  id: 'sign-in',
  start: 'ask',
  steps: {
    ask: { method: 'email', on: { submitted: { to: 'route' }, skipped: { to: 'done' } } },
    route: {
      on: {
        next: [
          { to: 'mobile', when: 'hasVerifiedMobile' },
          { to: 'proof', when: 'identityVerificationRequired' },
          { to: 'stuck' },
        ],
      },
    },
    mobile: { method: 'sms-code', on: { verified: { to: 'done' } } },
    proof: { method: 'password', on: { verified: [{ to: 'done', when: 'hasVerifiedMobile' }] } },
    stuck: { end: 'abort', page: 'authentication-method-not-available', error: 'access_denied', description: 'authentication method not available' },
    done: { end: 'login' },
  },
};

describe('journey engine: nextStep', () => {
  it('follows a plain transition to a method step and reports the edge taken', () => {
    const result = nextStep(journey, 'mobile', 'verified', {});
    expect(result.step).to.equal('done');
    expect(result.path).to.deep.equal([{ from: 'mobile', event: 'verified', to: 'done' }]);
  });

  it('fires decision steps automatically and rests on the first guarded target that holds', () => {
    const result = nextStep(journey, 'ask', 'submitted', { hasVerifiedMobile: true });
    expect(result.step).to.equal('mobile');
    expect(result.path).to.deep.equal([
      { from: 'ask', event: 'submitted', to: 'route' },
      { from: 'route', event: 'next', to: 'mobile' },
    ]);
  });

  it('takes the first matching transition when several guards hold', () => {
    const result = nextStep(journey, 'ask', 'submitted', { hasVerifiedMobile: true, stepUp: { reason: 'proofing', missing: [] } });
    expect(result.step).to.equal('mobile');
  });

  it('falls through to an unguarded transition when no guard holds', () => {
    expect(nextStep(journey, 'ask', 'submitted', {}).step).to.equal('stuck');
  });

  it('uses the second guard when only it holds', () => {
    expect(nextStep(journey, 'ask', 'submitted', { stepUp: { reason: 'proofing', missing: [] } }).step).to.equal('proof');
  });

  it('throws UnknownEventError for an event the step does not handle', () => {
    expect(() => nextStep(journey, 'mobile', 'submitted', {})).to.throw(UnknownEventError);
  });

  it('throws UnknownEventError for inherited object keys rather than following them', () => {
    expect(() => nextStep(journey, 'mobile', 'toString', {})).to.throw(UnknownEventError);
    expect(() => nextStep(journey, 'mobile', '__proto__', {})).to.throw(UnknownEventError);
  });

  it('throws UnknownEventError for any event on an end step', () => {
    expect(() => nextStep(journey, 'done', 'verified', {})).to.throw(UnknownEventError);
  });

  it('throws UnknownStepError for a step the journey does not have', () => {
    expect(() => nextStep(journey, 'nowhere', 'verified', {})).to.throw(UnknownStepError);
    expect(() => nextStep(journey, 'constructor', 'verified', {})).to.throw(UnknownStepError);
  });

  it('throws NoTransitionError when every transition is guarded and none holds', () => {
    expect(() => nextStep(journey, 'proof', 'verified', {})).to.throw(NoTransitionError);
  });

  it('throws UnknownStepError when a transition names a missing target', () => {
    const broken: Journey = { id: 'sign-in', start: 'a', steps: { a: { method: 'email', on: { submitted: { to: 'missing' } } } } };
    expect(() => nextStep(broken, 'a', 'submitted', {})).to.throw(UnknownStepError);
  });

  it('throws DecisionLoopError when decisions lead back to themselves', () => {
    const looping: Journey = {
      id: 'sign-in',
      start: 'a',
      steps: { a: { on: { next: { to: 'b' } } }, b: { on: { next: { to: 'a' } } } },
    };
    expect(() => startStep(looping, {})).to.throw(DecisionLoopError);
  });
});

describe('journey engine: startStep', () => {
  it('rests on the start step when it is a method step', () => {
    expect(startStep(journey, {})).to.deep.equal({ step: 'ask', path: [] });
  });

  it('resolves decisions at the start', () => {
    const decided: Journey = { ...journey, start: 'route' };
    expect(startStep(decided, { hasVerifiedMobile: true }).step).to.equal('mobile');
  });
});

describe('journey guards', () => {
  it('hasVerifiedMobile holds only for an explicit true', () => {
    expect(GUARDS.hasVerifiedMobile({ hasVerifiedMobile: true })).to.equal(true);
    expect(GUARDS.hasVerifiedMobile({ hasVerifiedMobile: false })).to.equal(false);
    expect(GUARDS.hasVerifiedMobile({})).to.equal(false);
  });

  it('identityVerificationRequired holds only for a proofing shortfall', () => {
    expect(GUARDS.identityVerificationRequired({ stepUp: { reason: 'proofing', missing: [] } })).to.equal(true);
    expect(GUARDS.identityVerificationRequired({ stepUp: { reason: 'credentials', missing: ['Cd'] } })).to.equal(false);
    expect(GUARDS.identityVerificationRequired({})).to.equal(false);
  });

  it('securityCodeCompletesStepUp needs exactly Cd missing and a verified mobile', () => {
    const ok = { hasVerifiedMobile: true, stepUp: { reason: 'credentials', missing: ['Cd'] } } as const;
    expect(GUARDS.securityCodeCompletesStepUp(ok)).to.equal(true);
    expect(GUARDS.securityCodeCompletesStepUp({ ...ok, hasVerifiedMobile: false })).to.equal(false);
    expect(GUARDS.securityCodeCompletesStepUp({ ...ok, stepUp: { reason: 'credentials', missing: ['Cd', 'Cm'] } })).to.equal(false);
    expect(GUARDS.securityCodeCompletesStepUp({ ...ok, stepUp: { reason: 'credentials', missing: ['Ck'] } })).to.equal(false);
    expect(GUARDS.securityCodeCompletesStepUp({ ...ok, stepUp: { reason: 'credentials', missing: [] } })).to.equal(false);
    expect(GUARDS.securityCodeCompletesStepUp({ ...ok, stepUp: { reason: 'proofing', missing: ['Cd'] } })).to.equal(false);
  });
});
