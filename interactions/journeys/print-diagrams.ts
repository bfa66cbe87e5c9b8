/**
 * Prints each journey's mermaid diagram, ready to paste into docs/journeys.md:
 *   npx tsx interactions/journeys/print-diagrams.ts
 * test/interactions/journeys-doc.test.ts fails until the doc holds the current diagrams.
 */
import { journeyToMermaid } from '../engine/mermaid.js';
import { JOURNEYS } from './index.js';

for (const journey of Object.values(JOURNEYS)) {
  process.stdout.write(`### ${journey.id}\n\n\`\`\`mermaid\n${journeyToMermaid(journey)}\n\`\`\`\n\n`);
}
