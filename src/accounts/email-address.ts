import { z } from 'zod';

/**
 * The one rule for an email address, used by every form that takes one (the sign-in and
 * create-account steps, "Forgotten your password?", "Change your email address") and by the
 * outbox before it queues a message (src/notifications/outbox.ts). One rule, so an address a form
 * accepts can always be stored and sent to: before, the forms allowed characters the outbox
 * refused, and a NUL character that PostgreSQL refuses, and either became a 500.
 *
 * Something, an @, something, a dot, something (no dot in the last part); no whitespace, no
 * control characters (U+0000–U+001F, U+007F–U+009F), and none of `< > ( ) [ ] \ , ; : "`, which
 * only quoted or bracketed forms of an address need and which could split or disguise a recipient
 * in a message header. Deliverability is the account's business (confirmation codes), not this rule's.
 */

export const EMAIL_MAX_LENGTH = 320;

export const EMAIL_ADDRESS_MESSAGES = {
  missing: 'Enter your email address',
  format: 'Enter an email address in the correct format, like name@example.com',
  long: `Email address must be ${EMAIL_MAX_LENGTH} characters or fewer`,
} as const;

const PART = String.raw`[^\s@\p{Cc}<>()[\]\\,;:"]`;
const LAST_PART = String.raw`[^\s@\p{Cc}<>()[\]\\,;:".]`;
const EMAIL_FORMAT = new RegExp(`^${PART}+@${PART}+\\.${LAST_PART}+$`, 'u');

/** True when `value`, exactly as given (not trimmed), is an address we accept, store and send to. */
export function isEmailAddress(value: string): boolean {
  return value.length <= EMAIL_MAX_LENGTH && EMAIL_FORMAT.test(value);
}

export type EmailAddressProblem = keyof typeof EMAIL_ADDRESS_MESSAGES;

/** What is wrong with a typed address (after trimming), or null. For forms that do not use zod. */
export function emailAddressProblem(typed: string): EmailAddressProblem | null {
  const value = typed.trim();
  if (value.length === 0) return 'missing';
  if (value.length > EMAIL_MAX_LENGTH) return 'long';
  return EMAIL_FORMAT.test(value) ? null : 'format';
}

/** The form field: trimmed, then the rule above, with NHS design system messages. `missing` replaces the first message (e.g. "Enter your new email address"). */
export function emailAddressField(options: { missing?: string } = {}): z.ZodString {
  const missing = options.missing ?? EMAIL_ADDRESS_MESSAGES.missing;
  return z
    .string({ error: missing })
    .trim()
    .min(1, missing)
    .max(EMAIL_MAX_LENGTH, EMAIL_ADDRESS_MESSAGES.long)
    .regex(EMAIL_FORMAT, EMAIL_ADDRESS_MESSAGES.format);
}
