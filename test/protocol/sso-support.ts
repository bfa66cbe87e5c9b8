import { randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import type { TestRp } from '../helpers/relying-party.js';

/** Helpers for the asserted_login_identity tests (a module of its own so importing it runs no tests). */

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
export const SSO_CREDENTIALS = { email: p9.email, password: p9.password, code: '190696' };
export const RP_ORIGIN = 'http://localhost:9';
export const VTR = '["P9.Cp.Cd"]';
const credentials = SSO_CREDENTIALS;

/** What RP1 makes for RP2 (NHS login's VACC generateAssertedLoginIdentityJwt): code = its ID token's jti. */
export async function assertion(rp1: TestRp, code: string, options: { lifetime?: number; iatOffset?: number; jti?: string } = {}): Promise<string> {
  const iat = Math.floor(Date.now() / 1000) + (options.iatOffset ?? 0);
  return new SignJWT({ code, jti: options.jti ?? randomUUID() })
    .setProtectedHeader({ alg: 'RS512', kid: rp1.kid })
    .setIssuer(rp1.clientId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.lifetime ?? 60))
    .sign(rp1.privateKey);
}

/** Starts an IdP with RP1 (test.rp), its SSO partner and a service that is not a partner. */
export async function startSsoIdp(): Promise<TestIdp> {
  return startTestIdp({
    rp: { redirectUri: `${RP_ORIGIN}/rp1`, ssoPartners: ['partner-rp'] },
    extraClients: [
      { clientId: 'partner-rp', redirectUri: `${RP_ORIGIN}/partner` },
      { clientId: 'stranger-rp', redirectUri: `${RP_ORIGIN}/stranger` },
    ],
  });
}

/** Signs the persona in to RP1; returns its ID token's claims (the jti is the assertion's code). */
export async function signedInToRp1(test: TestIdp): Promise<{ jti: string; sub: string; authTime: number }> {
  const result = await signIn(test, credentials, { browser: new Browser({ stopAt: RP_ORIGIN }), params: { vtr: VTR } });
  const claims = decodeJwt((await test.rp.exchange(result.callbackUrl, result.request)).id_token!);
  return { jti: claims.jti as string, sub: claims.sub!, authTime: claims.auth_time as number };
}

/** RP2 sends the assertion from a browser with no carelogin session; returns where the browser ends up. */
export async function presentAt(rp2: TestRp, token: string, params: Record<string, string> = { prompt: 'none' }): Promise<{ callback?: URL; page: Awaited<ReturnType<Browser['get']>>; request: Awaited<ReturnType<TestRp['authorize']>> }> {
  const request = await rp2.authorize({ vtr: VTR, asserted_login_identity: token, ...params });
  const page = await new Browser({ stopAt: RP_ORIGIN }).get(request.url);
  return { callback: page.callbackUrl ? new URL(page.callbackUrl) : undefined, page, request };
}

