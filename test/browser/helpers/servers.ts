import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDemoRp, type DemoRp } from '../../../src/demo-rp/app.js';
import { ensureDemoRpRegistered } from '../../../src/demo-rp/registration.js';
import { createLogger } from '../../../src/logger.js';
import { testConfig } from '../../helpers/database.js';
import { startTestIdp, type TestIdp } from '../../helpers/idp.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { acquireChromium, collectPageErrors, newContext, releaseChromium, requireChromium } from './browser.js';

export interface IdpWithDemoRp {
  /** The demo relying party's origin, e.g. http://localhost:41235 */
  readonly rpUrl: string;
  readonly idp: TestIdp;
  readonly demo: DemoRp;
  close(): Promise<void>;
}

const silent = createLogger({ level: 'silent' });

/**
 * A real IdP and the demo relying party, each on an ephemeral port (as test/demo-rp does): the
 * demo RP is registered in the clients file first, then the IdP starts reading that file.
 */
export async function startIdpWithDemoRp(options: { env?: Record<string, string> } = {}): Promise<IdpWithDemoRp> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-browser-'));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rpUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  const config = testConfig({ DATA_DIR: dir, CLIENTS_FILE: path.join(dir, 'clients.json'), DEMO_RP_URL: rpUrl });
  let idp: TestIdp | undefined;
  try {
    const credentials = await ensureDemoRpRegistered(config, silent);
    idp = await startTestIdp({ env: { CLIENTS_FILE: config.clientsFile, DATA_DIR: dir, ...options.env } });
    const demo = await createDemoRp({ config, logger: silent, credentials, issuer: idp.url });
    server.on('request', demo.app.callback());
    const started = idp;
    return {
      rpUrl,
      idp: started,
      demo,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await demo.close();
        await started.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    server.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface BrowserSuite {
  /** The IdP and demo service this suite's tests share (available inside tests, not at definition time). */
  readonly env: IdpWithDemoRp;
  /** A fresh browser context (own cookies) with one page, and the page's errors as they happen. */
  openPage(): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
}

/**
 * Registers the suite's hooks: the shared Chromium and one IdP + demo service, started together
 * before the tests and closed after them with every context the tests opened.
 */
export function useBrowserSuite(): BrowserSuite {
  let browser: Browser | undefined;
  let env: IdpWithDemoRp | undefined;
  const contexts: BrowserContext[] = [];
  before(async function () {
    const executable = requireChromium(this);
    [browser, env] = await Promise.all([acquireChromium(executable), startIdpWithDemoRp()]);
  });
  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    if (browser) await releaseChromium();
    await env?.close();
  });
  return {
    get env(): IdpWithDemoRp {
      if (!env) throw new Error('useBrowserSuite: the suite has not started yet');
      return env;
    },
    async openPage() {
      const context = await newContext(browser!);
      contexts.push(context);
      const page = await context.newPage();
      return { context, page, errors: collectPageErrors(page) };
    },
  };
}
