import { z } from 'zod';
import { photoIdRouteOn } from '../../engine/guards.js';
import { IDENTITY_CHECK_ACTIONS, identityCheckPageData, runIdentityCheck, type IdentityCheckEvent } from '../identity-check-step.js';
import { birthdateProblem, isoBirthdate, nameProblem, shownBirthdate, trimmedText } from '../identity-fields.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * P9 by GP online registration details ("POL", nhs-login.md §5.3): the practice's ODS code, the
 * account ID and the linkage key from the letter a GP surgery gives a patient it has registered for
 * online services (after checking their photo ID), with the patient's last name and date of birth.
 * Offered to a P5 account asked for P9 (NHS login: P9 after P5). The details must be the same
 * patient the account was matched to at P5: another patient's letter is "not found", like any miss.
 * A match gives P9 and keeps the GP online credentials (released with gp_integration_credentials).
 */

const ODS_CODE = /^[A-Z]\d{5}$/;
const ACCOUNT_ID = /^\d{6,12}$/;
const LINKAGE_KEY = /^[A-Za-z0-9]{8,20}$/;

const schema = z
  .object({
    'ods-code': trimmedText.transform((value) => value.replace(/\s+/g, '').toUpperCase()),
    'gp-account-id': trimmedText.transform((value) => value.replace(/\s+/g, '')),
    // Case matters in a linkage key; only the spaces people copy from the letter go.
    'linkage-key': trimmedText.transform((value) => value.replace(/\s+/g, '')),
    'family-name': trimmedText,
    'birthdate-day': trimmedText,
    'birthdate-month': trimmedText,
    'birthdate-year': trimmedText,
  })
  .superRefine((body, ctx) => {
    const issue = (field: string, message: string | undefined): void => {
      if (message) ctx.addIssue({ code: 'custom', path: [field], message });
    };
    issue('ods-code', body['ods-code'] === '' ? 'Enter your practice ODS code' : ODS_CODE.test(body['ods-code']) ? undefined : 'Practice ODS code must be a letter followed by 5 numbers, like A12345');
    issue('gp-account-id', body['gp-account-id'] === '' ? 'Enter your account ID' : ACCOUNT_ID.test(body['gp-account-id']) ? undefined : 'Account ID must be between 6 and 12 numbers');
    issue('linkage-key', body['linkage-key'] === '' ? 'Enter your linkage key' : LINKAGE_KEY.test(body['linkage-key']) ? undefined : 'Linkage key must be between 8 and 20 letters and numbers');
    issue('family-name', body['family-name'] === '' ? 'Enter your last name' : nameProblem(body['family-name'], 'Last name'));
    issue('birthdate-day', birthdateProblem(body['birthdate-day'], body['birthdate-month'], body['birthdate-year']));
  })
  .transform((body) => ({
    odsCode: body['ods-code'],
    accountId: body['gp-account-id'],
    linkageKey: body['linkage-key'],
    familyName: body['family-name'],
    birthdate: isoBirthdate(body['birthdate-day'], body['birthdate-month'], body['birthdate-year']),
  }));

export const GP_DETAILS_NOT_FOUND = 'We could not find your GP online registration. Check the details match the letter from your GP surgery';

export const gpLinkageMethod = defineMethod({
  id: 'gp-linkage',
  proofs: { level: 'P9', event: 'matched' },
  // photoIdChosen: "I do not have these details: use photo ID instead".
  events: ['matched', 'alreadyLinked', 'photoIdChosen'] as ('photoIdChosen' | IdentityCheckEvent)[],
  schema,
  // Never the linkage key: it is a credential for the GP system.
  redisplay: ['ods-code', 'gp-account-id', 'family-name', 'birthdate-day', 'birthdate-month', 'birthdate-year'],

  async present(ctx, presentation) {
    return { template: 'enter-gp-details.njk', data: { errors: presentation.errors, values: presentation.values ?? {}, notice: presentation.notice, canUsePhotoId: photoIdRouteOn(ctx.facts), ...identityCheckPageData(ctx) } };
  },

  async submit(ctx, details): Promise<Outcome<IdentityCheckEvent>> {
    const { gpOnline } = ctx.services;
    const matchedNhsNumber = ctx.account?.nhsNumber;
    return runIdentityCheck(ctx, {
      route: 'gp-linkage',
      level: 'P9',
      source: gpOnline.source,
      firstField: 'ods-code',
      notFound: GP_DETAILS_NOT_FOUND,
      shownAgain: { 'ods-code': details.odsCode, 'gp-account-id': details.accountId, 'family-name': details.familyName, ...shownBirthdate(details.birthdate) },
      // The registration (practice and account ID), whatever key and name are tried with it.
      target: `${details.odsCode}:${details.accountId}`,
      async check() {
        const result = await gpOnline.verify(details);
        if (result.kind !== 'matched') return result;
        // The letter must be the patient this account proved to be at P5, not someone else's.
        if (matchedNhsNumber && result.patient.nhsNumber !== matchedNhsNumber) return { kind: 'not-matched', why: 'another-patient' };
        return { kind: 'matched', patient: result.patient, gpOnline: { accountId: result.accountId, linkageKey: result.linkageKey } };
      },
    });
  },
  actions: {
    ...IDENTITY_CHECK_ACTIONS,
    'use-photo-id': {
      // Only where photo ID is one of this instance's routes; otherwise the page is shown again.
      run: async (ctx) => (photoIdRouteOn(ctx.facts) ? { kind: 'event', event: 'photoIdChosen' } : { kind: 'retry' }),
    },
  },
});
