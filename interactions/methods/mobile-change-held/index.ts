import { z } from 'zod';
import { nhsDateTime } from '../../../src/web/dates.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { mobileEnding } from '../sms-code/index.js';
import { defineMethod, type Outcome, type StepContext } from '../types.js';

/**
 * "I cannot access my mobile", after the new number was proven: a page that says the change is on
 * hold until when, that codes go to the old number until then, and that a cancel link went to the
 * email address and the old number (security-bar X1). Continue moves on; it proves nothing.
 *
 * The journey goes on only while its change stands (held, or applied after a short hold). A change
 * the owner cancelled (with the link or in Your account), or that a newer change replaced, ends the
 * journey without a sign-in (`cancelled`): "this was not me" must not leave whoever asked signed in.
 */
type HeldEvent = 'continued' | 'cancelled';

function changeOf(ctx: StepContext) {
  const { account, facts } = ctx;
  if (!account || !facts.newMobile) throw new JourneyInvariantError('mobile-change-held reached without an account and a new mobile number');
  return ctx.services.mobileChanges.outcomeOf(ctx.services.dataSource, account.id, facts.newMobile);
}

export const mobileChangeHeldMethod = defineMethod({
  id: 'mobile-change-held',
  events: ['continued', 'cancelled'] satisfies HeldEvent[],
  schema: z.object({}).passthrough(),
  redisplay: [],

  // Cancelled before this page was reached (a reload after the link was used): straight to the end that says so.
  async arrive(ctx): Promise<Outcome<HeldEvent> | undefined> {
    return (await changeOf(ctx)).status === 'set-aside' ? { kind: 'event', event: 'cancelled' } : undefined;
  },

  async present(ctx) {
    const change = await changeOf(ctx);
    return {
      template: 'mobile-change-held.njk',
      data: {
        cancelled: change.status === 'set-aside',
        mobileEnding: mobileEnding(ctx.facts.newMobile!),
        effective: change.effectiveAt ? nhsDateTime(change.effectiveAt) : undefined,
      },
    };
  },

  // Checked again on Continue: the link may have been used while this page was open.
  async submit(ctx): Promise<Outcome<HeldEvent>> {
    return { kind: 'event', event: (await changeOf(ctx)).status === 'set-aside' ? 'cancelled' : 'continued' };
  },
});
