import { z } from 'zod';
import { defineMethod } from '../types.js';

/**
 * The email address step. It identifies, it proves nothing, and it never reveals whether an
 * account exists (F1): every well-formed address goes on to the password step, where unknown
 * and known addresses get the same answers in the same time.
 */

/** Something, an @, something, a dot, something; no spaces or control characters. Deliverability is the account's business. */
const EMAIL_FORMAT = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}.]+$/u;
export const EMAIL_MAX_LENGTH = 320;

const schema = z.object({
  email: z
    .string({ error: 'Enter your email address' })
    .trim()
    .min(1, 'Enter your email address')
    .max(EMAIL_MAX_LENGTH, `Email address must be ${EMAIL_MAX_LENGTH} characters or fewer`)
    .regex(EMAIL_FORMAT, 'Enter an email address in the correct format, like name@example.com'),
});

export const emailMethod = defineMethod({
  id: 'email',
  events: ['submitted'],
  schema,
  redisplay: ['email'],

  async present(ctx, presentation) {
    return {
      template: 'enter-email.njk',
      // After "Change email address" the person sees what they typed before.
      data: { errors: presentation.errors, values: { email: presentation.values?.email ?? ctx.facts.email ?? '' } },
    };
  },

  async submit(_ctx, body) {
    return { kind: 'event', event: 'submitted', facts: { email: body.email } };
  },
});
