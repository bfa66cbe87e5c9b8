import { z } from 'zod';
import { nhsDateTime } from '../../../src/web/dates.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { mobileEnding } from '../sms-code/index.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * "I cannot access my mobile", after the new number was proven: a page that says the change is on
 * hold until when, that codes go to the old number until then, and that a cancel link went to the
 * email address and the old number (security-bar X1). Continue moves on; it proves nothing.
 */
export const mobileChangeHeldMethod = defineMethod({
  id: 'mobile-change-held',
  events: ['continued'] satisfies 'continued'[],
  schema: z.object({}).passthrough(),
  redisplay: [],

  async present(ctx) {
    if (!ctx.account) throw new JourneyInvariantError('mobile-change-held reached without an account');
    const held = await ctx.services.mobileChanges.heldFor(ctx.services.dataSource, ctx.account.id);
    // Cancelled from the link in the meantime: say so rather than show a change that is not happening.
    return {
      template: 'mobile-change-held.njk',
      data: held
        ? { mobileEnding: mobileEnding(held.newMobile), effective: nhsDateTime(held.effectiveAt), cancelled: false }
        : { cancelled: true },
    };
  },

  async submit(): Promise<Outcome<'continued'>> {
    return { kind: 'event', event: 'continued' };
  },
});
