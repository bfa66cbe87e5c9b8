import type { Audit } from '../security/audit.js';
import type { CodePurpose, SecurityCodes } from '../security/security-codes.js';
import type { Notifications } from './outbox.js';

/** A security code whose text has just been committed to the outbox with `deliverAtOnce`. */
export interface CodeText {
  /** The code's row (IssueResult.id), its journey or binding, and purpose. */
  readonly codeId: string;
  readonly journeyId: string;
  readonly purpose: CodePurpose;
  /** The outbox message carrying it. */
  readonly messageId: string;
  /** For the audit trail. */
  readonly accountId: string | null;
  readonly clientId?: string | undefined;
  readonly ip: string | null;
}

/**
 * Hands a security code's text to the provider now, within the delivery deadline, after its
 * transaction has committed (security-bar G3). True when it went (or another instance has it).
 * False when the provider could not take it: the text is dropped, never sent late; the code is
 * marked not sent, so its page says so; and the send is given back to the person's allowance.
 */
export async function textCodeAtOnce(services: { notifications: Notifications; codes: SecurityCodes; audit: Audit }, text: CodeText): Promise<boolean> {
  const status = await services.notifications.deliverNow(text.messageId, { dropIfNotSent: true });
  // 'processing': another instance took it over (this one stalled past the hold); it reports the outcome.
  if (status === 'sent' || status === 'processing') return true;
  await services.codes.markUndelivered({ id: text.codeId, journeyId: text.journeyId, purpose: text.purpose });
  await services.audit.record('security_code.not_sent', { accountId: text.accountId, clientId: text.clientId, ip: text.ip, detail: { purpose: text.purpose, channel: 'sms', outbox: status } });
  return false;
}
