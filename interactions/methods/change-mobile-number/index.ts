import { z } from 'zod';
import { parseUkMobile } from '../../../src/accounts/uk-mobile.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * "I cannot access my mobile", second step: the new UK mobile number, checked as every mobile
 * number is (src/accounts/uk-mobile.ts) and stored as E.164 in the journey's facts until a code
 * texted to it proves it (change-mobile-code). Nothing about the account changes here.
 */

export const MESSAGES = {
  missing: 'Enter your new mobile phone number',
  same: 'Enter a different mobile phone number from the one you cannot access',
} as const;

// The shared UK mobile check (src/accounts/uk-mobile.ts), so a refused number says why, as at
// "Enter your mobile phone number"; only the empty field asks for the *new* number.
const schema = z.object({
  mobile: z.string({ error: MESSAGES.missing }).transform((value, ctx) => {
    const result = parseUkMobile(value);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.problem === 'missing' ? MESSAGES.missing : result.message });
      return z.NEVER;
    }
    return result.e164;
  }),
});

type NumberEvent = 'submitted';

export const changeMobileNumberMethod = defineMethod({
  id: 'change-mobile-number',
  events: ['submitted'] satisfies NumberEvent[],
  schema,
  redisplay: ['mobile'],

  async present(_ctx, presentation) {
    return { template: 'enter-new-mobile.njk', data: { errors: presentation.errors, values: presentation.values } };
  },

  async submit(ctx, body): Promise<Outcome<NumberEvent>> {
    if (!ctx.account) throw new JourneyInvariantError('change-mobile-number reached without an account');
    if (ctx.account.mobileNumber === body.mobile) return { kind: 'retry', errors: [{ field: 'mobile', text: MESSAGES.same }] };
    return { kind: 'event', event: 'submitted', facts: { newMobile: body.mobile } };
  },
});
