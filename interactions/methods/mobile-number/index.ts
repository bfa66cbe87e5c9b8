import { z } from 'zod';
import { formatUkMobile, parseUkMobile } from '../../../src/accounts/uk-mobile.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * "Enter your mobile phone number", for an account that has none (a new account, or one signing
 * in without a verified mobile: NHS login's help 002 §2.2). UK mobiles only (src/accounts/uk-mobile.ts):
 * landlines, premium-rate, VoIP, non-UK and malformed numbers are refused with a message that says
 * why. The number is only a fact of the journey (E.164) until confirm-mobile proves it.
 */

const schema = z.object({
  mobile: z.string({ error: 'Enter your mobile phone number' }).transform((value, ctx) => {
    const result = parseUkMobile(value);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    }
    return result.e164;
  }),
});

type MobileNumberEvent = 'submitted';

export const mobileNumberMethod = defineMethod({
  id: 'mobile-number',
  events: ['submitted'] satisfies MobileNumberEvent[],
  schema,
  redisplay: ['mobile'],

  async present(ctx, presentation) {
    // After "Change number" the person sees the number they typed before.
    const previous = ctx.facts.newMobile ? formatUkMobile(ctx.facts.newMobile) : '';
    return {
      template: 'enter-mobile-number.njk',
      data: { errors: presentation.errors, values: { mobile: presentation.values?.mobile ?? previous }, creatingAccount: ctx.journey === 'create-account' },
    };
  },

  async submit(ctx, body): Promise<Outcome<MobileNumberEvent>> {
    // Journeys come here only with an account whose email address is confirmed.
    if (!ctx.account?.emailVerifiedAt) throw new JourneyInvariantError('mobile-number step reached without a confirmed account');
    return { kind: 'event', event: 'submitted', facts: { newMobile: body.mobile } };
  },
});
