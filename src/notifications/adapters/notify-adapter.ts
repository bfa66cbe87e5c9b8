import notifyClientPackage from 'notifications-node-client';
import type { Config } from '../../config/index.js';
import { ConfigError, DeliveryError } from '../../errors.js';
import { DELIVERY_TIMEOUT_MS, isAbort, safeErrorText, timeoutError, type DeliveryAdapter } from './delivery-adapter.js';

const { NotifyClient } = notifyClientPackage;
type NotifyClientInstance = InstanceType<typeof NotifyClient>;
/** The HTTP function NotifyClient posts through (typed by the library as an axios instance). */
type NotifyRestClient = Parameters<NotifyClientInstance['setClient']>[0];

interface NotifyRequest {
  readonly method: string;
  readonly url: string;
  readonly data?: unknown;
  readonly headers?: Record<string, string>;
}

export type NotifySettings = Config['notifications']['notify'];

/**
 * GOV.UK Notify with the "one generic template" pattern: carelogin renders every message itself
 * (src/notifications/templates.ts) and Notify holds just two templates,
 *   email: subject `((subject))`, body `((body))`;   text message: `((body))`.
 * `reference` is our outbox message id, so a retried send can be matched to the first one.
 *
 * NotifyClient builds the JWT and the request body; the HTTP call itself goes through `fetch` (via
 * the client's documented `setClient` hook) so that each attempt has a hard deadline and an
 * AbortSignal, and no ambient proxy settings are read from the environment.
 */
export function createNotifyAdapter(settings: NotifySettings, options: { timeoutMs?: number } = {}): DeliveryAdapter {
  const { apiKey, baseUrl, emailTemplateId, smsTemplateId } = settings;
  if (!apiKey) throw new ConfigError('The notify adapter needs NOTIFY_API_KEY');
  const timeoutMs = Math.min(options.timeoutMs ?? DELIVERY_TIMEOUT_MS, DELIVERY_TIMEOUT_MS);

  function client(signal: AbortSignal): NotifyClientInstance {
    const notify = baseUrl ? new NotifyClient(baseUrl, apiKey!) : new NotifyClient(apiKey!);
    // Our function honours the subset of the axios call signature NotifyClient uses (method, url, data, headers).
    notify.setClient(fetchRestClient(signal) as unknown as NotifyRestClient);
    return notify;
  }

  return {
    async deliver(message, signal) {
      const deadline = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      const notify = client(deadline);
      if (message.channel === 'email') {
        if (!emailTemplateId) throw new DeliveryError('NOTIFY_EMAIL_TEMPLATE_ID is not set', false);
        await notify.sendEmail(emailTemplateId, message.recipient, {
          personalisation: { subject: message.subject ?? '', body: message.body },
          reference: message.id,
        });
      } else {
        if (!smsTemplateId) throw new DeliveryError('NOTIFY_SMS_TEMPLATE_ID is not set', false);
        await notify.sendSms(smsTemplateId, message.recipient, {
          personalisation: { body: message.body },
          reference: message.id,
        });
      }
    },
  };
}

function fetchRestClient(signal: AbortSignal): (request: NotifyRequest) => Promise<{ status: number; data: unknown; headers: Record<string, string> }> {
  return async (request) => {
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method.toUpperCase(),
        headers: { ...request.headers, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: request.data === undefined ? undefined : JSON.stringify(request.data),
        redirect: 'error',
        signal,
      });
    } catch (error) {
      if (isAbort(error)) throw timeoutError(error);
      throw new DeliveryError(`Could not reach GOV.UK Notify: ${safeErrorText(causeOf(error))}`, true, error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (isAbort(error)) throw timeoutError(error);
      throw new DeliveryError('GOV.UK Notify closed the connection mid-answer', true, error);
    }
    const data = parseJson(text);
    if (!response.ok) throw notifyError(response.status, data);
    return { status: response.status, data, headers: {} };
  };
}

/**
 * Notify answers 4xx for requests that will never succeed as they are (bad number, bad template,
 * bad key, team-only key), except 429 (rate or daily limit), which passes. 5xx is Notify's problem.
 */
function notifyError(status: number, data: unknown): DeliveryError {
  const first = typeof data === 'object' && data !== null && Array.isArray((data as { errors?: unknown }).errors)
    ? ((data as { errors: { error?: unknown; message?: unknown }[] }).errors[0] ?? {})
    : {};
  const detail = [first.error, first.message].filter((part) => typeof part === 'string').join(': ');
  const retryable = status === 429 || status >= 500;
  return new DeliveryError(`GOV.UK Notify answered ${status}${detail ? ` (${safeErrorText(detail, 200)})` : ''}`, retryable);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function causeOf(error: unknown): unknown {
  return error instanceof Error && error.cause instanceof Error ? error.cause : error;
}
