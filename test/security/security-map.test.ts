import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { securityMap, securityMapMarkdown } from './security-map.js';

describe('security test map', () => {
  it('docs/security-tests.md shows which security test names each security-bar id (npx tsx test/security/print-security-map.ts)', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'security-tests.md'), 'utf8');
    expect(doc).to.contain(securityMapMarkdown());
  });

  it('names every id issue 3 asks security tests for', () => {
    const map = securityMap();
    for (const id of ['A1', 'A3', 'A4', 'A5', 'A6', 'B1', 'B2', 'B4', 'B9', 'C1', 'C2', 'C5', 'F1', 'F2', 'F4', 'H1']) expect(map.has(id), id).to.equal(true);
  });
});
