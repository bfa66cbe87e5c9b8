import { z } from 'zod';
import { emailAddressField } from '../../../src/accounts/email-address.js';
import { defineMethod } from '../types.js';

/**
 * The email address step. It identifies, it proves nothing, and it never reveals whether an
 * account exists (F1): every well-formed address goes on to the password step, where unknown
 * and known addresses get the same answers in the same time.
 */

/** The one email address rule (src/accounts/email-address.ts), so every address typed here can be stored and sent to. */
const schema = z.object({ email: emailAddressField() });

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
