import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { Browser, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { TEST_PASSWORD, heading, latestSmsCode, startJourney, submit } from './support.js';

/** Helpers for the remembered-device tests (a module of its own so importing it runs no tests). */

export const DEVICE_COOKIE = 'carelogin-device';
export const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let addresses = 0;

/** A fresh browser (no oidc-provider session), optionally carrying a device cookie. */
export function freshBrowser(test: TestIdp, deviceCookie?: string): Browser {
  addresses += 1;
  const browser = new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': `192.0.2.${addresses % 250}`, 'user-agent': CHROME_LINUX } });
  if (deviceCookie) browser.setCookie(test.url, DEVICE_COOKIE, deviceCookie);
  return browser;
}

/** Signs in through the code step with "Remember this device" ticked; returns the device cookie's Set-Cookie header. */
export async function signInRemembering(test: TestIdp, account: Account, params: Record<string, string> = {}): Promise<{ setCookie: string; value: string; page: Page }> {
  const journey = await startJourney(test, { browser: freshBrowser(test), params });
  let page = await submit(journey, journey.page, { email: account.email });
  page = await submit(journey, page, { password: TEST_PASSWORD });
  expect(heading(page)).to.equal('Check your mobile phone');
  page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!), rememberDevice: 'yes' });
  const setCookie = page.setCookies.find((c) => c.startsWith(`${DEVICE_COOKIE}=`));
  if (!setCookie) throw new Error(`no device cookie was set: ${page.setCookies.join(' | ')}`);
  const value = setCookie.slice(DEVICE_COOKIE.length + 1).split(';')[0]!;
  return { setCookie, value, page };
}

/** Email and password in a browser holding `deviceCookie`; returns the page after the password. */
export async function afterPassword(test: TestIdp, account: Account, deviceCookie: string | undefined, params: Record<string, string> = {}): Promise<Page> {
  const journey = await startJourney(test, { browser: freshBrowser(test, deviceCookie), params });
  const page = await submit(journey, journey.page, { email: account.email });
  return submit(journey, page, { password: TEST_PASSWORD });
}
