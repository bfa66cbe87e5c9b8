import { expect } from 'chai';
import { CANNOT_CONTINUE_REFERENCES, ERROR_REFERENCES } from '../../src/web/error-references.js';
import { GUARDS } from '../../interactions/engine/guards.js';
import { BACK_EVENT, DECISION_EVENT, isDecisionStep, isEndStep, isMethodStep, transitionList, type Journey } from '../../interactions/engine/types.js';
import { JOURNEYS, JOURNEY_FOR_PROMPT } from '../../interactions/journeys/index.js';
import { findMethod } from '../../interactions/methods/registry.js';
import { CONSENT_STEP } from '../../interactions/consent/consent.js';

/**
 * Proves every journey map is closed and honest (GOV.UK ipv-core's JourneyMapTest, in TS):
 * targets exist, every step is reachable and can finish, every method is registered, every event
 * a method can emit is handled (and nothing else is), and no login can be reached without
 * passing a method that proves a credential.
 */

function targets(journey: Journey, stepId: string): string[] {
  const step = journey.steps[stepId]!;
  if (isEndStep(step)) return [];
  return Object.values(step.on).flatMap((t) => transitionList(t).map((x) => x.to));
}

function reachable(journey: Journey, from: string, skip: (stepId: string) => boolean = () => false): Set<string> {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (seen.has(current) || skip(current)) continue;
    seen.add(current);
    queue.push(...targets(journey, current));
  }
  return seen;
}

for (const journey of Object.values(JOURNEYS)) {
  describe(`journey map "${journey.id}"`, () => {
    const stepIds = Object.keys(journey.steps);

    it('is registered under its own id', () => {
      expect(JOURNEYS[journey.id]).to.equal(journey);
    });

    it('starts at a step it defines', () => {
      expect(stepIds).to.include(journey.start);
    });

    it('uses kebab-case step ids, none of them the reserved consent path', () => {
      for (const id of stepIds) {
        expect(id, id).to.match(/^[a-z]+(-[a-z]+)*$/);
        expect(id).to.not.equal(CONSENT_STEP);
      }
    });

    it('only targets steps it defines', () => {
      for (const id of stepIds) {
        for (const target of targets(journey, id)) expect(stepIds, `${id} → ${target}`).to.include(target);
      }
    });

    it('only uses guards that exist', () => {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (isEndStep(step)) continue;
        for (const transitions of Object.values(step.on)) {
          for (const t of transitionList(transitions)) if (t.when) expect(GUARDS, `${id}: ${t.when}`).to.have.property(t.when);
        }
      }
    });

    it('can reach every step from the start', () => {
      const seen = reachable(journey, journey.start);
      for (const id of stepIds) expect(seen.has(id), `${id} is unreachable`).to.equal(true);
    });

    it('can finish from every step (no dead ends)', () => {
      for (const id of stepIds) {
        const ends = [...reachable(journey, id)].filter((s) => isEndStep(journey.steps[s]!));
        expect(ends.length, `${id} cannot reach an end`).to.be.above(0);
      }
    });

    it('has a login end', () => {
      expect(Object.values(journey.steps).some((s) => isEndStep(s) && s.end === 'login')).to.equal(true);
    });

    it('uses only registered methods', () => {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (isMethodStep(step)) expect(findMethod(step.method), `${id} uses "${step.method}"`).to.not.equal(undefined);
      }
    });

    it('handles every event each method can emit, and no event a method never emits', () => {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (!isMethodStep(step)) continue;
        const method = findMethod(step.method)!;
        expect(Object.keys(step.on).filter((event) => event !== BACK_EVENT).sort(), `${id} (${method.id})`).to.deep.equal([...method.events].sort());
      }
    });

    it('offers Back only to a form step that leads straight here, so going back skips nothing and sends nothing', () => {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (!isMethodStep(step) || !Object.hasOwn(step.on, BACK_EVENT)) continue;
        const targets = [step.on[BACK_EVENT]!].flat();
        expect(targets, `${id}: one unguarded Back`).to.have.length(1);
        const target = targets[0]!;
        expect(target.when, `${id}: Back is unguarded`).to.equal(undefined);
        const previous = journey.steps[target.to];
        expect(previous && isMethodStep(previous), `${id}: Back leads to a page`).to.equal(true);
        if (!previous || !isMethodStep(previous)) continue;
        const leadsHere = Object.entries(previous.on).some(([event, to]) => event !== BACK_EVENT && [to].flat().some((t) => t.to === id));
        expect(leadsHere, `${id}: ${target.to} leads here`).to.equal(true);
        expect(findMethod(previous.method)!.enter, `${id}: ${target.to} sends nothing on arrival`).to.equal(undefined);
      }
    });

    it('gives every decision only the automatic event and an unguarded fallback', () => {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (!isDecisionStep(step)) continue;
        expect(Object.keys(step.on), id).to.deep.equal([DECISION_EVENT]);
        const list = transitionList(step.on.next);
        expect(list[list.length - 1]!.when, `${id} needs a last transition without a guard`).to.equal(undefined);
      }
    });

    it('cannot reach a login without passing a method that proves a credential or an identity', () => {
      const proving = (stepId: string): boolean => {
        const step = journey.steps[stepId]!;
        const method = isMethodStep(step) ? findMethod(step.method) : undefined;
        return method?.proves !== undefined || method?.proofs !== undefined;
      };
      const withoutProof = reachable(journey, journey.start, proving);
      for (const id of withoutProof) {
        const step = journey.steps[id]!;
        expect(isEndStep(step) && step.end === 'login', `${id} is a login reachable without proving anything`).to.equal(false);
      }
    });

    it('explains every abort with a page and an error description', () => {
      for (const step of Object.values(journey.steps)) {
        if (isEndStep(step) && step.end === 'abort') {
          expect(step.page.length).to.be.above(0);
          expect(step.description.length).to.be.above(0);
        }
      }
    });
  });
}

describe('sign-in journey proves both factors before a login', () => {
  it('passes the password and a second factor (a text message code or an authenticator app code) on every path to signed-in but a passkey\'s', () => {
    const journey = JOURNEYS['sign-in'];
    // A passkey is both factors in one (Cm, user verification required): its path is checked apart.
    for (const methods of [['password', 'passkey'], ['sms-code', 'authenticator-code', 'passkey']]) {
      const blocked = (id: string): boolean => {
        const step = journey.steps[id]!;
        return isMethodStep(step) && methods.includes(step.method);
      };
      expect(reachable(journey, journey.start, blocked).has('signed-in'), `signed-in reachable without ${methods.join(' or ')}`).to.equal(false);
    }
  });

  it('can still reach signed-in through each second factor alone, and through a passkey alone', () => {
    const journey = JOURNEYS['sign-in'];
    for (const [method, ...others] of [['sms-code', 'authenticator-code', 'passkey'], ['authenticator-code', 'sms-code', 'passkey'], ['passkey', 'password']]) {
      const blocked = (id: string): boolean => {
        const step = journey.steps[id]!;
        return isMethodStep(step) && others.includes(step.method);
      };
      expect(reachable(journey, journey.start, blocked).has('signed-in'), `signed-in unreachable with ${method} alone`).to.equal(true);
    }
  });
});

describe('prompts', () => {
  it('maps the login and vtr prompts to journeys that exist', () => {
    expect(JOURNEY_FOR_PROMPT).to.deep.equal({ login: 'sign-in', vtr: 'step-up' });
    for (const id of Object.values(JOURNEY_FOR_PROMPT)) expect(JOURNEYS).to.have.property(id);
  });
});

describe('error references', () => {
  it('are unique, and every page a journey can end on has one', () => {
    const codes = Object.values(ERROR_REFERENCES);
    expect(new Set(codes).size).to.equal(codes.length);
    for (const journey of Object.values(JOURNEYS)) {
      for (const [id, step] of Object.entries(journey.steps)) {
        if (isEndStep(step) && step.end === 'abort') expect(CANNOT_CONTINUE_REFERENCES[step.page], `${journey.id} ${id}`).to.match(/^CL\d{4}$/);
      }
    }
  });
});
