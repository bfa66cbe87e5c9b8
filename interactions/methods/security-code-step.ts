import type { EntityManager } from 'typeorm';
import type { CodePurpose, VerifyResult } from '../../src/security/security-codes.js';
import { smsSendRefusal } from '../../src/security/sms-throttle.js';
import { minutesText, tooManyRequestsView } from './pages.js';
import type { Outcome, StepContext, View } from './types.js';

/** What every security-code page says about the code typed. */
export const MESSAGES = {
  missing: 'Enter the security code',
  format: 'The security code must be 6 numbers',
  incorrect: 'The security code is not correct',
  expired: 'The security code has expired – request a new code',
} as const;

/** What sending a code came to, as every code step's sender reports it. */
export type SendResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly retryAfterSeconds: number };

/** The messages that carry nothing but a security code. */
type CodeTemplate = 'sign-in-security-code' | 'sign-in-email-code' | 'mobile-confirmation-code';

export interface CodeToSend {
  readonly accountId: string;
  readonly purpose: CodePurpose;
  readonly channel: 'sms' | 'email';
  readonly to: string;
  readonly template: CodeTemplate;
  /** The documented persona code (security-codes.ts refuses it for anyone else). */
  readonly fixedCode?: string | undefined;
  /** With `fixedCode`: the account's test_persona, from the account this request read. */
  readonly testPersona?: string | null;
}

/**
 * Issues a code bound to this journey and queues its message, in the caller's transaction: both
 * happen or neither. Texts are throttled per IP and number block by the issue itself (B4).
 */
export async function sendSecurityCode(ctx: StepContext, manager: EntityManager, send: CodeToSend): Promise<SendResult> {
  const { codes, notifications, audit } = ctx.services;
  const issued = await codes.issue(manager, {
    accountId: send.accountId,
    purpose: send.purpose,
    journeyId: ctx.uid,
    channel: send.channel,
    destination: send.to,
    ip: ctx.ip,
    ...(send.fixedCode ? { fixedCode: send.fixedCode, testPersona: send.testPersona ?? null } : {}),
  });
  if (!issued.ok) return issued;
  await notifications.enqueue(manager, { template: send.template, to: send.to, data: { code: issued.code }, accountId: send.accountId, deliverBefore: issued.expiresAt });
  await audit.record('security_code.sent', { accountId: send.accountId, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: send.purpose, channel: send.channel } }, manager);
  return { ok: true };
}

/** The answer to "Send a new code": a notice, the locked page, or the resend limit's message. */
export async function resendOutcome<E extends string>(sent: SendResult, notice: string, locked: () => Promise<View>): Promise<Outcome<E>> {
  if (sent.ok) return { kind: 'retry', notice };
  if (sent.reason === 'locked') return { kind: 'page', view: await locked() };
  return {
    kind: 'retry',
    errors: [{ field: 'code', text: `You have asked for too many new codes. Enter the last code we sent you, or wait ${minutesText(sent.retryAfterSeconds)} before asking for another` }],
  };
}

/**
 * The 429 page when the text this step sends on arrival was held back by the per-IP or per-number-
 * block throttle (B4) and so there is no code to enter; undefined when the usual page applies.
 */
export async function throttledArrivalView(ctx: StepContext, sms: { readonly destination: string; readonly purpose: string }): Promise<View | undefined> {
  const { config, dataSource } = ctx.services;
  const wait = await smsSendRefusal(dataSource, config, { ip: ctx.ip, destination: sms.destination, journeyId: ctx.uid, purpose: sms.purpose });
  return wait === null ? undefined : tooManyRequestsView(wait, 'texts');
}

/**
 * Audits a security-code check and turns it into the step's answer. `onValid` does the step's work
 * (change the number, remember the device …) and returns its event; wrong and expired codes re-show
 * the page with the reason; a lock shows the locked page.
 */
export async function codeCheckOutcome<E extends string>(
  ctx: StepContext,
  result: VerifyResult,
  subject: { readonly accountId: string; readonly purpose: string },
  onValid: () => Promise<Outcome<E>>,
  locked: () => Promise<View>,
): Promise<Outcome<E>> {
  const event = { accountId: subject.accountId, clientId: ctx.clientId, ip: ctx.ip };
  switch (result) {
    case 'valid':
      await ctx.services.audit.record('security_code.verified', { ...event, detail: { purpose: subject.purpose } });
      return onValid();
    case 'invalid':
    case 'expired':
      await ctx.services.audit.record('security_code.failed', { ...event, detail: { purpose: subject.purpose, reason: result } });
      return { kind: 'retry', errors: [{ field: 'code', text: result === 'expired' ? MESSAGES.expired : MESSAGES.incorrect }] };
    case 'locked':
      await ctx.services.audit.record('security_code.locked', { ...event, detail: { purpose: subject.purpose } });
      return { kind: 'page', view: await locked() };
  }
}
