import type { EntityManager } from 'typeorm';
import { createRememberedDevices, deviceCookieHeader, deviceCookieName } from '../../src/accounts/remembered-devices.js';
import type { StepContext } from './types.js';

/**
 * "Remember this device" (X2, B9), for the second-factor steps that offer it (a text message code,
 * an authenticator app code). A remembered browser gives Cd with amr `remembered_device`.
 */

/**
 * This browser is remembered for THIS account: a device cookie of another account, an unknown,
 * forged or expired one is simply no device. `touch` records a use.
 */
export async function deviceRemembered(ctx: StepContext, touch: boolean, manager?: EntityManager): Promise<boolean> {
  const account = ctx.account;
  if (!account || !ctx.request) return false;
  const value = ctx.request.cookie(deviceCookieName(ctx.services.config.issuer));
  if (!value) return false;
  return createRememberedDevices(ctx.services.dataSource, ctx.services.config).recognise(account.id, value, { touch, manager });
}

/** Only after a right code: the browser gets `id.secret`, the database only the secret's SHA-256. */
export async function rememberThisDevice(ctx: StepContext, accountId: string, request: NonNullable<StepContext['request']>): Promise<void> {
  const { config, dataSource, audit } = ctx.services;
  const device = await createRememberedDevices(dataSource, config).remember(accountId, request.userAgent);
  request.setCookie(deviceCookieHeader(config.issuer, device.cookieValue, config.ttl.rememberedDevice));
  await audit.record('remembered_device.added', { accountId, clientId: ctx.clientId, ip: ctx.ip });
}
