import nodemailer from 'nodemailer';
import type { Config } from '../../config/index.js';
import { ConfigError, DeliveryError } from '../../errors.js';
import { DELIVERY_TIMEOUT_MS, isAbort, safeErrorText, timeoutError, type DeliveryAdapter } from './delivery-adapter.js';

export type SmtpSettings = Config['notifications']['smtp'];

export interface SmtpAdapter extends DeliveryAdapter {
  /** Closes pooled connections (none are kept today; here so shutdown code need not know). */
  close(): void;
}

/**
 * Email through any SMTP relay (a local Mailpit/MailHog in development, or an organisation's relay).
 * Plain text only. The Message-ID is derived from our outbox id so a retried send is recognisable
 * as the same message, and X-Entity-Ref-ID stops mail clients threading separate code emails.
 */
export function createSmtpAdapter(settings: SmtpSettings, options: { timeoutMs?: number } = {}): SmtpAdapter {
  if (!settings.url) throw new ConfigError('EMAIL_ADAPTER=smtp needs SMTP_URL');
  const timeoutMs = Math.min(options.timeoutMs ?? DELIVERY_TIMEOUT_MS, DELIVERY_TIMEOUT_MS);
  const transport = nodemailer.createTransport({
    url: settings.url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  });
  const domain = /@([^>\s]+)>?\s*$/.exec(settings.from)?.[1] ?? 'carelogin.localhost';

  return {
    async deliver(message, signal) {
      if (message.channel !== 'email') throw new DeliveryError('The SMTP adapter only sends email', false);
      const deadline = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      try {
        await transport.sendMail({
          from: settings.from,
          to: message.recipient,
          subject: message.subject ?? 'carelogin',
          text: message.body,
          messageId: `<${message.id}@${domain}>`,
          headers: { 'X-Entity-Ref-ID': message.id },
          disableFileAccess: true,
          disableUrlAccess: true,
          signal: deadline,
        });
      } catch (error) {
        throw smtpError(error);
      }
    },
    close() {
      transport.close();
    },
  };
}

/**
 * 5xx replies are permanent (unknown mailbox, policy rejection) except authentication failures,
 * which mean our settings are wrong and may be fixed before the retries run out. Everything else
 * (4xx, connection problems, timeouts) may work later.
 */
function smtpError(error: unknown): DeliveryError {
  if (isAbort(error)) return timeoutError(error);
  const details = (error ?? {}) as { code?: unknown; responseCode?: unknown; permanent?: unknown };
  const code = typeof details.code === 'string' ? details.code : undefined;
  const responseCode = typeof details.responseCode === 'number' ? details.responseCode : undefined;
  if (code === 'ETIMEDOUT') return new DeliveryError(`SMTP server timed out: ${safeErrorText(error)}`, true, error);
  const permanent = code !== 'EAUTH' && (details.permanent === true || (responseCode !== undefined && responseCode >= 500) || (code === 'EENVELOPE' && responseCode === undefined));
  const label = [code, responseCode].filter((part) => part !== undefined).join(' ');
  return new DeliveryError(`SMTP delivery failed${label ? ` (${label})` : ''}: ${safeErrorText(error)}`, !permanent, error);
}
