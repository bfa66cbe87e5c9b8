import type { EntityManager } from 'typeorm';
import type { CodePurpose, VerifyResult } from '../../src/security/security-codes.js';
import { textCodeAtOnce } from '../../src/notifications/code-text.js';
import { codeTextState } from '../../src/security/sms-throttle.js';
import { ERROR_REFERENCES } from '../../src/web/error-references.js';
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

/** The last 4 digits, enough for a person to recognise their number and useless to anyone else. */
export function mobileEnding(mobile: string): string {
  return mobile.replace(/\D/g, '').slice(-4);
}

/**
 * Issues a code bound to this journey and queues its message, in the caller's transaction: both
 * happen or neither. Texts are throttled per IP and number block by the issue itself (B4), and
 * tried at once when the transaction has committed (G3): if the provider cannot take one, the code
 * is marked not sent, the send is given back, and the step's page says so (codeTextView).
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
  const text = send.channel === 'sms';
  const messageId = await notifications.enqueue(manager, { template: send.template, to: send.to, data: { code: issued.code }, accountId: send.accountId, deliverBefore: issued.expiresAt, deliverAtOnce: text });
  await audit.record('security_code.sent', { accountId: send.accountId, clientId: ctx.clientId, ip: ctx.ip, detail: { purpose: send.purpose, channel: send.channel } }, manager);
  // Emails wait for the worker (G4: "we will send your email shortly" is true of an outbox).
  if (text) {
    const codeText = { codeId: issued.id, journeyId: ctx.uid, purpose: send.purpose, messageId, accountId: send.accountId, clientId: ctx.clientId, ip: ctx.ip };
    ctx.afterCommit(async () => {
      await textCodeAtOnce(ctx.services, codeText);
    });
  }
  return { ok: true };
}

/** Another way on from a code page whose text could not be sent: one of the step's actions. */
export interface CodeAlternative {
  readonly action: string;
  readonly heading: string;
  readonly text: string;
  readonly button: string;
}

/** "Change number", for the steps that confirm a number being added or changed to. */
export const CHANGE_NUMBER: CodeAlternative = {
  action: 'change-number',
  heading: 'Use a different mobile number',
  text: 'If the number is wrong, or the phone is not with you, you can enter a different mobile number.',
  button: 'Change number',
};

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
 * The page instead of "we have sent you a code" when there is no code to enter: 429 when the text
 * this step sends was held back by the per-IP or number-block throttle (B4), 503 when the provider
 * could not take it (G3). Undefined when the usual page applies.
 */
export async function codeTextView(
  ctx: StepContext,
  sms: { readonly destination: string; readonly purpose: string },
  alternatives: () => Promise<readonly CodeAlternative[]>,
): Promise<View | undefined> {
  const { config, dataSource } = ctx.services;
  const state = await codeTextState(dataSource, config, { ip: ctx.ip, destination: sms.destination, journeyId: ctx.uid, purpose: sms.purpose });
  if (state.kind === 'throttled') return tooManyRequestsView(state.retryAfterSeconds, 'texts');
  if (state.kind !== 'not-sent') return undefined;
  return {
    template: 'code-not-sent.njk',
    data: { mobileEnding: mobileEnding(sms.destination), alternatives: await alternatives(), reference: ERROR_REFERENCES.securityCodeNotSent },
    status: 503,
  };
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
