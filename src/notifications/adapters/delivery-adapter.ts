import { DeliveryError } from '../../errors.js';
import type { Channel } from '../templates.js';

/** What an adapter is given: the rendered message and our id, which is also the idempotency key. */
export interface DeliverableMessage {
  readonly id: string;
  readonly channel: Channel;
  readonly recipient: string;
  readonly subject?: string;
  readonly body: string;
}

/**
 * A way out of carelogin for one channel (GOV.UK Notify, SMTP, the dev outbox). `deliver` resolves
 * once the provider has accepted the message and rejects with a DeliveryError saying whether a later
 * retry could succeed. It must stop when `signal` aborts (the outbox's per-attempt deadline).
 */
export interface DeliveryAdapter {
  deliver(message: DeliverableMessage, signal?: AbortSignal): Promise<void>;
}

/**
 * A back-channel logout token to send (D13): only who is signed out where. The adapter builds and
 * signs the token when it sends it, so nothing secret is stored and each attempt gets a fresh one.
 */
export interface LogoutNotice {
  readonly id: string;
  readonly clientId: string;
  readonly sub: string;
  readonly sid?: string;
}

/** Sends logout tokens (src/provider/logout.ts); rejects with a DeliveryError as a DeliveryAdapter does. */
export interface LogoutDeliveryAdapter {
  deliver(notice: LogoutNotice, signal?: AbortSignal): Promise<void>;
}

export interface DeliveryAdapters {
  readonly email: DeliveryAdapter;
  readonly sms: DeliveryAdapter;
  /** Without it, this outbox leaves logout rows to an instance that has one. */
  readonly backchannelLogout?: LogoutDeliveryAdapter;
}

/** The longest one delivery attempt may take (security-bar G3: the provider being slow must not hold us up). */
export const DELIVERY_TIMEOUT_MS = 5000;

/**
 * Error text that may be stored and logged: providers echo addresses and numbers back in their
 * errors, and a security code is six digits, so all of those are masked.
 */
export function safeErrorText(error: unknown, maxLength = 500): string {
  const raw = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  const masked = raw
    .replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, '[address]')
    // Phone numbers in any layout (but not IP addresses or ports), then anything code-shaped.
    .replace(/\+?\d[\d\s()-]{7,}\d/g, (match) => (match.replace(/\D/g, '').length >= 9 ? '[number]' : match))
    .replace(/\b\d{6,}\b/g, '[digits]')
    .replace(/[\r\n\t]+/g, ' ');
  return masked.length > maxLength ? `${masked.slice(0, maxLength - 3)}...` : masked;
}

/** An abort or timeout from our deadline: the provider may be slow, so a later attempt can succeed. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

export function timeoutError(cause?: unknown): DeliveryError {
  return new DeliveryError('Delivery timed out', true, cause);
}
