import { z } from 'zod';
import { EMAIL_ADDRESS_MESSAGES, emailAddressField } from '../../../src/accounts/email-address.js';
import { PASSWORD_MESSAGES, checkPassword } from '../../../src/accounts/password-policy.js';
import { registerAccount } from '../../../src/accounts/registration.js';
import { tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * "Create an account": email address, a password (X3: 12+ characters, no composition rules,
 * common and breached passwords refused with the reason) and agreement to the terms of use.
 *
 * The account row is created here, unconfirmed, in one transaction with its terms record, its
 * email confirmation code and the outbox message carrying it (src/accounts/registration.ts). An
 * address that already has an account gets exactly the same pages, in about the same time (the
 * password is hashed either way); its owner is emailed instead and nothing about the account
 * changes (F2, H1). The step proves Cp (amr pwd): the password was chosen in this journey.
 */

export const NEW_ACCOUNT_MESSAGES = {
  emailMissing: EMAIL_ADDRESS_MESSAGES.missing,
  emailFormat: EMAIL_ADDRESS_MESSAGES.format,
  emailLength: EMAIL_ADDRESS_MESSAGES.long,
  terms: 'Confirm that you agree to the terms of use',
  tooManyCodes: 'You have asked for too many security codes. Wait before you try again',
} as const;

const schema = z
  .object({
    // The same rule as the sign-in email step and the outbox (src/accounts/email-address.ts).
    email: emailAddressField(),
    // Never trimmed: spaces are part of a password. Checked here without the address, so its
    // message appears with the other fields' ones; the address is checked below once it is valid.
    password: z.string({ error: PASSWORD_MESSAGES.missing }).superRefine((password, ctx) => {
      const problem = checkPassword(password, {});
      if (problem) ctx.addIssue({ code: 'custom', message: PASSWORD_MESSAGES[problem] });
    }),
    terms: z.literal('agreed', { error: NEW_ACCOUNT_MESSAGES.terms }),
  })
  .superRefine((body, ctx) => {
    if (checkPassword(body.password, { email: body.email }) === 'contains_personal') {
      ctx.addIssue({ code: 'custom', path: ['password'], message: PASSWORD_MESSAGES.contains_personal });
    }
  });

type NewAccountEvent = 'registered';

export const newAccountMethod = defineMethod({
  id: 'new-account',
  proves: { credential: 'Cp', amr: 'pwd', event: 'registered' },
  events: ['registered'] satisfies NewAccountEvent[],
  schema,
  // Everything typed comes back after an error, except the password.
  redisplay: ['email', 'terms'],

  async present(ctx, presentation) {
    return {
      template: 'create-account.njk',
      data: {
        errors: presentation.errors,
        values: { email: presentation.values?.email ?? ctx.facts.email ?? '', terms: presentation.values?.terms ?? '' },
        termsVersion: ctx.services.config.termsVersion,
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<NewAccountEvent>> {
    const { audit, codes, config, counters, dataSource, digest, hasher, notifications } = ctx.services;
    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    // Hashed before anything is looked up, for new and existing addresses alike (same cost, F2).
    const passwordHash = await hasher.hash(body.password);
    const result = await registerAccount(
      { dataSource, codes, notifications, audit, config, digest },
      { email: body.email, passwordHash, termsVersion: config.termsVersion, journeyId: ctx.uid, clientId: ctx.clientId, ip: ctx.ip },
    );
    switch (result.outcome) {
      case 'created':
        return { kind: 'event', event: 'registered', accountId: result.accountId, facts: { email: body.email } };
      case 'exists':
        // Same event, same next page: only the (server-side) journey knows there is nothing to confirm.
        return { kind: 'event', event: 'registered', facts: { email: body.email } };
      case 'refused':
        return { kind: 'retry', values: { email: body.email, terms: body.terms }, errors: [{ field: 'email', text: NEW_ACCOUNT_MESSAGES.tooManyCodes }] };
    }
  },
});
