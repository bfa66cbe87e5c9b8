import { z } from 'zod';
import { emailAddressField } from '../../../src/accounts/email-address.js';
import { wouldComplete } from '../../engine/guards.js';
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
  events: ['submitted', 'passkeyChosen'],
  schema,
  redisplay: ['email'],

  async present(ctx, presentation) {
    return {
      template: 'enter-email.njk',
      // After "Change email address" the person sees what they typed before.
      data: { errors: presentation.errors, values: { email: presentation.values?.email ?? ctx.facts.email ?? '' }, canUsePasskey: passkeyWouldDo(ctx.facts) },
    };
  },

  async submit(_ctx, body) {
    return { kind: 'event', event: 'submitted', facts: { email: body.email } };
  },

  actions: {
    /** "Sign in with a passkey": offered only when a passkey alone (Cm) meets a vector the service asked for. */
    'use-passkey': {
      async run(ctx) {
        return passkeyWouldDo(ctx.facts) ? { kind: 'event', event: 'passkeyChosen' } : { kind: 'retry' };
      },
    },
  },
});

function passkeyWouldDo(facts: Parameters<typeof wouldComplete>[0]): boolean {
  return wouldComplete(facts, 'Cm');
}
