import type { Journey, JourneyId } from '../engine/types.js';
import { createAccountJourney } from './create-account.js';
import { signInJourney } from './sign-in.js';
import { stepUpJourney } from './step-up.js';

/** Every journey, by id. journey-lint.test.ts and docs/journeys.md cover each one listed here. */
export const JOURNEYS: Readonly<Record<JourneyId, Journey>> = {
  'sign-in': signInJourney,
  'step-up': stepUpJourney,
  'create-account': createAccountJourney,
};

/** The oidc-provider prompts that start a journey, and which one. Consent is a page, not a journey. */
export const JOURNEY_FOR_PROMPT: Readonly<Record<string, JourneyId>> = {
  login: 'sign-in',
  vtr: 'step-up',
};
