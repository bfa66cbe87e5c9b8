import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/project-root.js';

/**
 * Which security-bar tests (its numbered attacks and faults, A1…H9, and its decisions, X1…X13)
 * each `*.security.test.ts` names. docs/security-tests.md shows the table this builds;
 * security-map.test.ts fails when the page is out of date. Print it with
 * `npx tsx test/security/print-security-map.ts`.
 */
const ID = /(?<![%\w])([A-HX][1-9]\d?)\b/g;

function securityTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...securityTestFiles(full));
    else if (entry.name.endsWith('.security.test.ts')) found.push(full);
  }
  return found;
}

function order(a: string, b: string): number {
  return a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a[0]! < b[0]! ? -1 : 1;
}

/** id → the test files that name it, both sorted. */
export function securityMap(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const file of securityTestFiles(path.join(PROJECT_ROOT, 'test')).sort()) {
    const relative = path.relative(PROJECT_ROOT, file).split(path.sep).join('/');
    for (const id of new Set([...readFileSync(file, 'utf8').matchAll(ID)].map((m) => m[1]!))) {
      map.set(id, [...(map.get(id) ?? []), relative]);
    }
  }
  return new Map([...map.entries()].sort(([a], [b]) => order(a, b)));
}

export function securityMapMarkdown(): string {
  const lines = ['| id | tests |', '| --- | --- |'];
  for (const [id, files] of securityMap()) lines.push(`| ${id} | ${files.map((f) => `\`${f}\``).join(', ')} |`);
  return lines.join('\n');
}
