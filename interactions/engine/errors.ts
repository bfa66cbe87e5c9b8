import { CareloginError } from '../../src/errors.js';

/**
 * Engine errors, in the one hierarchy (CareloginError). A journey definition bug or a request that
 * names something the journey does not have is a 400/500 with a safe message, never a stack trace.
 */

/** A step id that the journey does not define (a bad URL, or a journey changed under a live session). */
export class UnknownStepError extends CareloginError {
  constructor(readonly journeyId: string, readonly stepId: string) {
    super('journey_unknown_step', `Journey "${journeyId}" has no step "${stepId}"`, { status: 404, expose: false });
  }
}

/** An event the current step does not handle: a method emitted something the journey forgot. */
export class UnknownEventError extends CareloginError {
  constructor(readonly journeyId: string, readonly stepId: string, readonly event: string) {
    super('journey_unknown_event', `Step "${stepId}" of journey "${journeyId}" does not handle the event "${event}"`, { status: 500, expose: false });
  }
}

/** Every transition for an event was guarded and none held: the journey needs a fallback transition. */
export class NoTransitionError extends CareloginError {
  constructor(readonly journeyId: string, readonly stepId: string, readonly event: string) {
    super('journey_no_transition', `No transition of step "${stepId}" in journey "${journeyId}" matched the event "${event}"`, { status: 500, expose: false });
  }
}

/** Decision steps that lead back to themselves without resting anywhere. */
export class DecisionLoopError extends CareloginError {
  constructor(readonly journeyId: string, readonly path: readonly string[]) {
    super('journey_decision_loop', `Journey "${journeyId}" loops through decision steps: ${path.join(' → ')}`, { status: 500, expose: false });
  }
}

/**
 * The journey moved on while this request was being handled (a double-submitted form, two tabs).
 * Not a fault: the request is answered with the journey's current step.
 */
export class JourneyConflictError extends CareloginError {
  constructor(readonly uid: string) {
    super('journey_conflict', 'The journey has already moved on', { status: 409, expose: false });
  }
}

/**
 * Something that the journey data and the lint test are meant to make impossible happened anyway
 * (a journey resting on a decision, an unregistered method, a login with nothing proven, an account
 * changing mid-journey). Refuse, loudly, rather than finish a login on a broken journey.
 */
export class JourneyInvariantError extends CareloginError {
  constructor(detail: string) {
    super('journey_invariant', detail, { status: 500, expose: false });
  }
}
