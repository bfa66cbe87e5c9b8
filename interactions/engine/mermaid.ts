import { isDecisionStep, isEndStep, isMethodStep, transitionList, type Journey, type Step } from './types.js';

/**
 * A journey as a mermaid flowchart, generated from the same data the engine runs, so the picture in
 * docs/journeys.md cannot drift from the code (journeys-doc.test.ts compares them).
 * Method steps are boxes, decisions diamonds, ends rounded; edges carry `event [guard]`.
 */
export function journeyToMermaid(journey: Journey): string {
  const lines = ['flowchart TD'];
  // Prefixed so a step id can never be a mermaid keyword (`end`, `graph`) or collide with the start node.
  const id = (stepId: string): string => `s_${stepId.replace(/[^A-Za-z0-9]/g, '_')}`;
  lines.push(`  start((start)) --> ${id(journey.start)}`);
  for (const [stepId, step] of Object.entries(journey.steps)) {
    lines.push(`  ${id(stepId)}${shape(stepId, step)}`);
  }
  for (const [stepId, step] of Object.entries(journey.steps)) {
    if (isEndStep(step)) continue;
    for (const [event, transitions] of Object.entries(step.on)) {
      for (const transition of transitionList(transitions)) {
        const label = transition.when ? `${event} [${transition.when}]` : event;
        lines.push(`  ${id(stepId)} -->|"${label}"| ${id(transition.to)}`);
      }
    }
  }
  return lines.join('\n');
}

function shape(stepId: string, step: Step): string {
  if (isMethodStep(step)) return `["${stepId}<br/><i>${step.method}</i>"]`;
  if (isDecisionStep(step)) return `{"${stepId}"}`;
  if (step.end === 'login') return `(["${stepId}<br/><b>login</b>"])`;
  return `(["${stepId}<br/><b>abort: ${step.description}</b>"])`;
}
