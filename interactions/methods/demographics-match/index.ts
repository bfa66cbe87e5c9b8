import { z } from 'zod';
import { isValidNhsNumber, normaliseNhsNumber } from '../../../src/accounts/nhs-number.js';
import { IDENTITY_CHECK_ACTIONS, identityCheckPageData, runIdentityCheck, type IdentityCheckEvent } from '../identity-check-step.js';
import { birthdateProblem, isoBirthdate, nameProblem, shownBirthdate, trimmedText } from '../identity-fields.js';
import { defineMethod, type Outcome } from '../types.js';
import { nameKey } from '../../../src/demographics/patient-demographics.js';

/**
 * P5, "basic identity check" (nhs-login.md §5.2): the person's NHS number (if they know it), name,
 * date of birth and postcode are traced against the patient register (src/demographics). A single,
 * living record that agrees raises the account to P5 and copies the register's details onto it.
 *
 * Proofing routes are methods like any other: this one proves no credential, it emits `matched`
 * and the journey decides what else the session needs. Limits and answers are every route's
 * (identity-check-step.ts): each miss tells the person only that their details were not found.
 */

const POSTCODE = /^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$/;

// Every check is in one superRefine, in the order of the page, so the error summary lists them in that order.
const schema = z
  .object({
    'nhs-number': trimmedText,
    'given-name': trimmedText,
    'family-name': trimmedText,
    'birthdate-day': trimmedText,
    'birthdate-month': trimmedText,
    'birthdate-year': trimmedText,
    postcode: trimmedText.transform((value) => value.replace(/\s+/g, '').toUpperCase()),
  })
  .superRefine((body, ctx) => {
    const issue = (field: string, message: string | undefined): void => {
      if (message) ctx.addIssue({ code: 'custom', path: [field], message });
    };
    const nhsNumber = body['nhs-number'];
    if (nhsNumber !== '') {
      const digits = normaliseNhsNumber(nhsNumber);
      issue('nhs-number', digits === null ? 'NHS number must be 10 numbers' : isValidNhsNumber(digits) ? undefined : 'Enter a valid NHS number');
    }
    // Names are how the register is searched when there is no NHS number (nhs-login.md §5.2).
    const noNumber = nhsNumber === '';
    issue('given-name', noNumber && body['given-name'] === '' ? 'Enter your first name, or your NHS number' : nameProblem(body['given-name'], 'First name'));
    issue('family-name', noNumber && body['family-name'] === '' ? 'Enter your last name, or your NHS number' : nameProblem(body['family-name'], 'Last name'));
    issue('birthdate-day', birthdateProblem(body['birthdate-day'], body['birthdate-month'], body['birthdate-year']));
    issue('postcode', body.postcode === '' ? 'Enter your postcode' : POSTCODE.test(body.postcode) ? undefined : 'Enter a real postcode, like LS1 4AP');
  })
  .transform((body) => ({
    nhsNumber: normaliseNhsNumber(body['nhs-number']) ?? undefined,
    givenName: body['given-name'],
    familyName: body['family-name'],
    birthdate: isoBirthdate(body['birthdate-day'], body['birthdate-month'], body['birthdate-year']),
    postcode: `${body.postcode.slice(0, -3)} ${body.postcode.slice(-3)}`,
  }));

export const NOT_FOUND = 'We could not find your details. Check they match the details your GP surgery has for you';

type Details = z.output<typeof schema>;

/** The details as the form shows them again after a miss, so a typo can be put right. */
function shownAgain(details: Details): Record<string, string> {
  return { 'nhs-number': details.nhsNumber ?? '', 'given-name': details.givenName, 'family-name': details.familyName, ...shownBirthdate(details.birthdate), postcode: details.postcode };
}

export const demographicsMatchMethod = defineMethod({
  id: 'demographics-match',
  proofs: { level: 'P5', event: 'matched' },
  events: ['matched', 'alreadyLinked'] satisfies IdentityCheckEvent[],
  schema,
  redisplay: ['nhs-number', 'given-name', 'family-name', 'birthdate-day', 'birthdate-month', 'birthdate-year', 'postcode'],

  async present(ctx, presentation) {
    return { template: 'enter-your-details.njk', data: { errors: presentation.errors, values: presentation.values ?? {}, notice: presentation.notice, ...identityCheckPageData(ctx) } };
  },

  async submit(ctx, body): Promise<Outcome<IdentityCheckEvent>> {
    const { demographics } = ctx.services;
    return runIdentityCheck(ctx, {
      route: 'demographics-match',
      level: 'P5',
      source: demographics.source,
      firstField: 'nhs-number',
      notFound: NOT_FOUND,
      shownAgain: shownAgain(body),
      // The patient the answer names: by NHS number, or by name and date of birth (postcodes are what is guessed).
      target: body.nhsNumber ?? `${nameKey(body.familyName)}|${nameKey(body.givenName)}|${body.birthdate}`,
      check: () => demographics.trace(body),
    });
  },
  actions: IDENTITY_CHECK_ACTIONS,
});
