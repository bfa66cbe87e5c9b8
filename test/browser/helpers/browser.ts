/**
 * Real-browser helpers: Debian's Chromium driven by playwright-core, screenshots, and axe-core
 * accessibility scans. See docs/accessibility.md.
 *
 * A machine without Chromium skips the browser tests (with a message saying why), except in CI
 * (`CI` set), where a missing browser fails the run.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AxeResults, ImpactValue, Result, RunOptions } from 'axe-core';
import { PROJECT_ROOT } from '../../../src/project-root.js';

/** The WCAG levels we hold every page to (axe-core tags). */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] as const;

export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-artifacts', 'screenshots');

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where Chromium is: CHROMIUM_PATH, else Debian's /usr/bin/chromium; undefined when neither exists. */
export function findChromium(): string | undefined {
  const candidate = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  return existsSync(candidate) ? candidate : undefined;
}

/**
 * For a mocha `before` hook (a `function`, not an arrow, so `this` is the hook context): skips the
 * suite when no Chromium is installed, or throws when running in CI, where the browser is required.
 * Returns the executable path.
 */
export function requireChromium(hook: Mocha.Context): string {
  const executable = findChromium();
  if (executable) return executable;
  const where = process.env.CHROMIUM_PATH ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH}` : '/usr/bin/chromium';
  if (process.env.CI) throw new Error(`Chromium is required in CI but was not found at ${where} (install it: apt-get install -y chromium)`);
  console.warn(`      ⚠ browser tests skipped: no Chromium at ${where} (Debian: apt-get install -y chromium, or set CHROMIUM_PATH)`);
  hook.skip();
}

/**
 * Launches Chromium headless with the flags a closed network and root need. playwright-core
 * gives every launch a fresh, empty user-data-dir of its own (and deletes it on close).
 */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

let shared: { executablePath: string; browser: Promise<Browser>; users: number; closing?: NodeJS.Timeout } | undefined;

/**
 * One Chromium for the browser test files that run one after another (a launch and a cold first
 * page cost a second or two each): a file acquires it in `before` and releases it in `after`; the
 * last release closes it unless another file acquires it within a moment. Each test still gets
 * its own context (cookies, storage), so files cannot see each other's state.
 */
export async function acquireChromium(executablePath: string): Promise<Browser> {
  const current = shared;
  if (current && current.executablePath === executablePath) {
    clearTimeout(current.closing);
    current.closing = undefined;
    current.users += 1;
    const browser = await current.browser.catch(() => undefined);
    if (browser?.isConnected()) return browser;
    if (shared === current) shared = undefined;
  }
  const browser = launchChromium(executablePath);
  const entry = { executablePath, browser, users: 1 };
  shared = entry;
  browser.catch(() => {
    if (shared === entry) shared = undefined;
  });
  return browser;
}

/** Gives the shared Chromium back (see acquireChromium); safe to call when acquire failed or never ran. */
export async function releaseChromium(): Promise<void> {
  const current = shared;
  if (!current) return;
  current.users -= 1;
  if (current.users > 0) return;
  await new Promise<void>((resolve) => {
    current.closing = setTimeout(() => {
      if (shared === current) shared = undefined;
      current.browser.then((b) => b.close()).catch(() => undefined);
    }, 2000);
    // Never keeps the process alive; mocha's exit (or playwright's own exit hook) ends Chromium then.
    current.closing.unref();
    resolve();
  });
}

/** A fresh context (its own cookies and storage): UK English, a laptop-sized viewport. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  return context;
}

/**
 * Problems the page reported itself: uncaught script errors, CSP violations and other console
 * errors, and sub-resources (scripts, styles, images) that failed or answered 4xx/5xx. A document
 * answering 400 is how a form re-renders with errors, so documents are not counted.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${page.url()}: uncaught ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (text.startsWith('Failed to load resource:')) return;
    errors.push(`${page.url()}: console error: ${text}`);
  });
  page.on('requestfailed', (request) => {
    if (request.resourceType() === 'document') return;
    // A load cut short because the page navigated away (a favicon, typically) is not a defect.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    errors.push(`${page.url()}: ${request.resourceType()} ${request.url()} failed: ${request.failure()?.errorText ?? 'unknown'}`);
  });
  page.on('response', (response) => {
    const request = response.request();
    if (response.status() >= 400 && request.resourceType() !== 'document') errors.push(`${page.url()}: ${request.resourceType()} ${response.url()} answered ${response.status()}`);
  });
  return errors;
}

/** Screenshots for one test, numbered in order: test-artifacts/screenshots/<test>/<nn>-<page>.png. */
export class Screenshots {
  private count = 0;
  readonly dir: string;

  constructor(test: string) {
    this.dir = path.join(SCREENSHOT_DIR, slug(test));
    mkdirSync(this.dir, { recursive: true });
  }

  async take(page: Page, name: string): Promise<string> {
    this.count += 1;
    const file = path.join(this.dir, `${String(this.count).padStart(2, '0')}-${slug(name)}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
}

/** One-off screenshot: test-artifacts/screenshots/<test>/<name>.png. */
export async function screenshot(page: Page, test: string, name: string): Promise<string> {
  const dir = path.join(SCREENSHOT_DIR, slug(test));
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${slug(name)}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'page';
}

let axeSource: string | undefined;

interface AxeGlobal {
  axe?: { run(options: RunOptions): Promise<AxeResults> };
}

/**
 * Runs axe-core in the page against WCAG 2.2 A/AA (AXE_TAGS) and returns the violations.
 * axe is injected with page.evaluate (CDP Runtime.evaluate), which the page's CSP
 * (`script-src 'self' 'nonce-…'`) does not govern, so the context keeps its CSP on and the
 * browser tests still notice a page whose own scripts the CSP blocks.
 */
export async function axeScan(page: Page): Promise<Result[]> {
  axeSource ??= readFileSync(path.join(PROJECT_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const loaded = await page.evaluate(() => Boolean((globalThis as AxeGlobal).axe));
  if (!loaded) await page.evaluate(axeSource);
  const results = await page.evaluate(async (tags) => {
    const axe = (globalThis as AxeGlobal).axe;
    if (!axe) throw new Error('axe-core did not load into the page');
    return axe.run({ runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
  }, [...AXE_TAGS]);
  return results.violations;
}

/** A readable account of axe violations: rule, impact, what it means, each element (selector and HTML), help URL. */
export function formatViolations(violations: readonly Result[], where: string): string {
  const lines = [`${violations.length} accessibility violation(s) on ${where}:`];
  for (const violation of violations) {
    lines.push(`  • ${violation.id} [${impact(violation.impact)}] ${violation.help}`);
    lines.push(`    ${violation.helpUrl}`);
    for (const node of violation.nodes) {
      lines.push(`    - ${node.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))).join(', ')}`);
      lines.push(`      ${node.html.slice(0, 300)}`);
      if (node.failureSummary) lines.push(`      ${node.failureSummary.replace(/\n/g, '\n      ')}`);
    }
  }
  return lines.join('\n');
}

function impact(value: ImpactValue | undefined): string {
  return value ?? 'unknown impact';
}

/** Scans the page and throws with a readable list when axe finds any WCAG 2.2 A/AA violation. */
export async function expectNoAxeViolations(page: Page, label?: string): Promise<void> {
  const violations = await axeScan(page);
  if (violations.length > 0) throw new Error(formatViolations(violations, label ? `${label} (${page.url()})` : page.url()));
}

/**
 * The usual step of a browser journey: wait for the page, take its screenshot, and scan it.
 * `scanned` collects each page's label so a test can assert what it covered.
 */
export class JourneyRecorder {
  readonly shots: Screenshots;
  readonly scanned: string[] = [];

  constructor(test: string) {
    this.shots = new Screenshots(test);
  }

  async check(page: Page, name: string, options: { axe?: boolean } = {}): Promise<void> {
    await page.waitForLoadState('load');
    // The screenshot and the scan run side by side (axe does not change what the page looks like).
    await Promise.all([this.shots.take(page, name), options.axe === false ? undefined : expectNoAxeViolations(page, name)]);
    if (options.axe !== false) this.scanned.push(name);
  }
}
