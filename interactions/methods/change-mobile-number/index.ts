import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import { JourneyInvariantError } from '../../engine/errors.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * "I cannot access my mobile", second step: the new UK mobile number. Checked against real
 * numbering metadata (libphonenumber-js "max"), stored as E.164 in the journey's facts until a
 * code texted to it proves it (change-mobile-code). Nothing about the account changes here.
 */

export const MESSAGES = {
  missing: 'Enter your new mobile phone number',
  format: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982',
  same: 'Enter a different mobile phone number from the one you cannot access',
} as const;

/** +44 numbering: Great Britain and the Crown Dependencies, which libphonenumber reports apart (07911 is Guernsey). */
const UK_NUMBERING = new Set(['GB', 'GG', 'JE', 'IM']);

/** A UK mobile number as E.164 (+447…), or null. Landlines, premium and foreign numbers are not mobiles we can text. */
export function ukMobileE164(value: string): string | null {
  const phone = parsePhoneNumberFromString(value, 'GB');
  if (!phone || !phone.isValid() || !phone.country || !UK_NUMBERING.has(phone.country) || phone.getType() !== 'MOBILE') return null;
  return phone.number.startsWith('+44') ? phone.number : null;
}

const schema = z.object({
  mobile: z
    .string({ error: MESSAGES.missing })
    .trim()
    .min(1, MESSAGES.missing)
    .max(30, MESSAGES.format)
    .transform((value, ctx) => {
      const e164 = ukMobileE164(value);
      if (!e164) {
        ctx.addIssue({ code: 'custom', message: MESSAGES.format });
        return z.NEVER;
      }
      return e164;
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
