import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { journeyToMermaid } from '../../interactions/engine/mermaid.js';
import type { Journey } from '../../interactions/engine/types.js';
import { JOURNEYS } from '../../interactions/journeys/index.js';
import { PROJECT_ROOT } from '../../src/project-root.js';

describe('journey diagrams', () => {
  it('draws method steps as boxes, decisions as diamonds, ends as rounded, and labels guarded edges', () => {
    const journey: Journey = {
      id: 'sign-in',
      start: 'ask',
      steps: {
        ask: { method: 'email', on: { submitted: { to: 'route' } } },
        route: { on: { next: [{ to: 'end', when: 'hasVerifiedMobile' }, { to: 'stop' }] } },
        end: { end: 'login' },
        stop: { end: 'abort', page: 'authentication-method-not-available', error: 'access_denied', description: 'authentication method not available' },
      },
    };
    expect(journeyToMermaid(journey).split('\n')).to.deep.equal([
      'flowchart TD',
      '  start((start)) --> s_ask',
      '  s_ask["ask<br/><i>email</i>"]',
      '  s_route{"route"}',
      '  s_end(["end<br/><b>login</b>"])',
      '  s_stop(["stop<br/><b>abort: authentication method not available</b>"])',
      '  s_ask -->|"submitted"| s_route',
      '  s_route -->|"next [hasVerifiedMobile]"| s_end',
      '  s_route -->|"next"| s_stop',
    ]);
  });

  // The diagrams in docs/journeys.md are generated from the journey data; this keeps them current.
  // Regenerate with: npx tsx interactions/journeys/print-diagrams.ts
  for (const journey of Object.values(JOURNEYS)) {
    it(`docs/journeys.md shows the current "${journey.id}" journey`, () => {
      const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'journeys.md'), 'utf8');
      expect(doc).to.contain(`### ${journey.id}\n\n\`\`\`mermaid\n${journeyToMermaid(journey)}\n\`\`\``);
    });
  }
});
