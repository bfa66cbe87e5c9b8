import { DecisionLoopError, NoTransitionError, UnknownEventError, UnknownStepError } from './errors.js';
import { evaluateGuard } from './guards.js';
import { DECISION_EVENT, isDecisionStep, isEndStep, transitionList, type Journey, type JourneyFacts, type Step, type Transitions } from './types.js';

/** One edge taken, for the transition log line. */
export interface TakenTransition {
  readonly from: string;
  readonly event: string;
  readonly to: string;
}

export interface NextStep {
  /** Where the journey rests: a method step or an end step, never a decision. */
  readonly step: string;
  /** Every edge taken to get there, decisions included. */
  readonly path: readonly TakenTransition[];
}

export function getStep(journey: Journey, stepId: string): Step {
  const step = Object.hasOwn(journey.steps, stepId) ? journey.steps[stepId] : undefined;
  if (!step) throw new UnknownStepError(journey.id, stepId);
  return step;
}

/**
 * The pure transition function: where `event` on `stepId` leads, given `facts`. The first
 * transition whose guard holds wins; decision steps then fire `next` on themselves until the
 * journey rests on a method or end step.
 */
export function nextStep(journey: Journey, stepId: string, event: string, facts: JourneyFacts): NextStep {
  const path: TakenTransition[] = [];
  const to = follow(journey, stepId, event, facts);
  path.push({ from: stepId, event, to });
  return settleFrom(journey, to, facts, path);
}

/** Where a journey begins resting: its start step, after any decisions at the start. */
export function startStep(journey: Journey, facts: JourneyFacts): NextStep {
  return settleFrom(journey, journey.start, facts, []);
}

function settleFrom(journey: Journey, stepId: string, facts: JourneyFacts, path: TakenTransition[]): NextStep {
  let current = stepId;
  const visited = new Set<string>();
  while (isDecisionStep(getStep(journey, current))) {
    if (visited.has(current)) throw new DecisionLoopError(journey.id, [...visited, current]);
    visited.add(current);
    const to = follow(journey, current, DECISION_EVENT, facts);
    path.push({ from: current, event: DECISION_EVENT, to });
    current = to;
  }
  return { step: current, path };
}

function follow(journey: Journey, stepId: string, event: string, facts: JourneyFacts): string {
  const step = getStep(journey, stepId);
  if (isEndStep(step)) throw new UnknownEventError(journey.id, stepId, event);
  const on: Readonly<Record<string, Transitions>> = step.on;
  // hasOwn, so an event named "constructor" or "__proto__" is unknown rather than inherited.
  const handled = Object.hasOwn(on, event) ? on[event] : undefined;
  if (!handled) throw new UnknownEventError(journey.id, stepId, event);
  const transitions = transitionList(handled);
  const match = transitions.find((t) => t.when === undefined || evaluateGuard(t.when, facts));
  if (!match) throw new NoTransitionError(journey.id, stepId, event);
  getStep(journey, match.to); // a target the journey does not define is an UnknownStepError here, not later
  return match.to;
}
