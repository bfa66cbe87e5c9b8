import { z } from 'zod';
import { isValidNhsNumber, normaliseNhsNumber } from '../../../src/accounts/nhs-number.js';
import { identityCheckPolicy, lockoutKeys } from '../../../src/security/attempt-counters.js';
import { identityCheckLockedView, minutesText, tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome } from '../types.js';

/**
 * P5, "basic identity check" (nhs-login.md §5.2): the person's NHS number (if they know it), name,
 * date of birth and postcode are traced against the patient register (src/demographics). A single,
 * living record that agrees raises the account to P5 and copies the register's details onto it.
 *
 * Proofing routes are methods like any other: this one proves no credential, it emits `matched`
 * and the journey decides what else the session needs. Guessing is bounded per account
 * (identityCheckPolicy, reserved before the register is asked, B3) and per network (A4): each miss
 * tells the person only that their details were not found, never which detail or why.
 */

const NAME = /^[\p{L}][\p{L}\p{M}' ’.-]*$/u;
const POSTCODE = /^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$/;

const text = z
  .string()
  .optional()
  .transform((value) => (value ?? '').trim().replace(/\s+/g, ' '));

function nameProblem(value: string, field: string): string | undefined {
  if (value.length > 35) return `${field} must be 35 characters or fewer`;
  if (value !== '' && !NAME.test(value)) return `${field} must only include letters a to z, hyphens, spaces and apostrophes`;
  return undefined;
}

// Every check is in one superRefine, in the order of the page, so the error summary lists them in that order.
const schema = z
  .object({
    'nhs-number': text,
    'given-name': text,
    'family-name': text,
    'birthdate-day': text,
    'birthdate-month': text,
    'birthdate-year': text,
    postcode: text.transform((value) => value.replace(/\s+/g, '').toUpperCase()),
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
    birthdate: isoDate(body['birthdate-day'], body['birthdate-month'], body['birthdate-year']),
    postcode: `${body.postcode.slice(0, -3)} ${body.postcode.slice(-3)}`,
  }));

/** The NHS service manual's date input messages; undefined when the date is a real one in the past. */
export function birthdateProblem(day: string, month: string, year: string): string | undefined {
  if (!day && !month && !year) return 'Enter your date of birth';
  const missing = [!day && 'day', !month && 'month', !year && 'year'].filter(Boolean);
  if (missing.length > 0) return `Date of birth must include a ${missing.join(' and a ')}`;
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) return 'Date of birth must be a real date';
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return 'Date of birth must be a real date';
  if (date.getTime() > Date.now()) return 'Date of birth must be in the past';
  if (Number(year) < 1890) return 'Date of birth must be after 1890';
  return undefined;
}

function isoDate(day: string, month: string, year: string): string {
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}

/** The level a match reaches (NHS login's P5, "basic identity check"). */
const demographicsMatchLevel = 'P5';

export const NOT_FOUND = 'We could not find your details. Check they match the details your GP surgery has for you';

type Details = z.output<typeof schema>;

/** The details as the form shows them again after a miss, so a typo can be put right. */
function shownAgain(details: Details): Record<string, string> {
  const [year = '', month = '', day = ''] = details.birthdate.split('-');
  return {
    'nhs-number': details.nhsNumber ?? '',
    'given-name': details.givenName,
    'family-name': details.familyName,
    'birthdate-day': String(Number(day)),
    'birthdate-month': String(Number(month)),
    'birthdate-year': year,
    postcode: details.postcode,
  };
}

type DemographicsMatchEvent = 'matched' | 'alreadyLinked' | 'notAvailable';

function notAvailable(): Outcome<DemographicsMatchEvent> {
  return { kind: 'event', event: 'notAvailable' };
}

export const demographicsMatchMethod = defineMethod({
  id: 'demographics-match',
  proofs: { level: 'P5', event: 'matched' },
  events: ['matched', 'alreadyLinked', 'notAvailable'] satisfies DemographicsMatchEvent[],
  schema,
  redisplay: ['nhs-number', 'given-name', 'family-name', 'birthdate-day', 'birthdate-month', 'birthdate-year', 'postcode'],

  async arrive(ctx) {
    // Identity checks switched off (DEMOGRAPHICS_SOURCE=none): the honest page, not a form that cannot work.
    return ctx.services.demographics.enabled ? undefined : notAvailable();
  },

  async present(ctx, presentation) {
    return {
      template: 'enter-your-details.njk',
      data: { errors: presentation.errors, values: presentation.values ?? {}, notice: presentation.notice, maxAttempts: ctx.services.config.demographics.maxAttempts, lockWait: minutesText(ctx.services.config.ttl.lockout) },
    };
  },

  async submit(ctx, body): Promise<Outcome<DemographicsMatchEvent>> {
    const { audit, config, counters, demographics, identityProofing } = ctx.services;
    const account = ctx.account;
    if (!account || !demographics.enabled) return notAvailable();

    const ip = await counters.ipBlocked(ctx.ip);
    if (ip.blocked) {
      await audit.record('identity.throttled', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip });
      return { kind: 'page', view: tooManyRequestsView(ip.retryAfterSeconds) };
    }
    const key = lockoutKeys.identityCheck(account.id);
    const attempt = await counters.reserveAttempt(key, identityCheckPolicy(config));
    if (!attempt.allowed) return { kind: 'page', view: identityCheckLockedView(attempt.retryAfterSeconds) };

    const result = await demographics.trace(body);
    if (result.kind === 'unavailable') {
      await audit.record('identity.unavailable', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { source: demographics.source } });
      ctx.log.warn({ event: 'identity.unavailable', source: demographics.source }, 'the patient register could not be asked');
      return { kind: 'retry', errors: [{ field: 'nhs-number', text: 'Sorry, we cannot check your details at the moment. Try again in a few minutes' }], values: shownAgain(body) };
    }
    if (result.kind === 'not-matched') {
      await counters.recordIpFailure(ctx.ip);
      await audit.record('identity.not_matched', { accountId: account.id, clientId: ctx.clientId, ip: ctx.ip, detail: { why: result.why, failures: attempt.failures, locked: attempt.locked } });
      if (attempt.locked) return { kind: 'page', view: identityCheckLockedView(attempt.retryAfterSeconds) };
      const left = config.demographics.maxAttempts - attempt.failures;
      return { kind: 'retry', errors: [{ field: 'nhs-number', text: NOT_FOUND }], values: shownAgain(body), notice: `You have ${left} more ${left === 1 ? 'try' : 'tries'} before you need to wait ${minutesText(config.ttl.lockout)}.` };
    }

    const outcome = await identityProofing.record({ accountId: account.id, level: demographicsMatchLevel, patient: result.patient, route: 'demographics-match', clientId: ctx.clientId, ip: ctx.ip });
    await counters.recordSuccess(key);
    if (outcome === 'already-linked') return { kind: 'event', event: 'alreadyLinked' };
    const proofed = await ctx.services.accounts.findById(account.id);
    // The identity is settled; what the vector still needs is the credentials the session lacks.
    const missing = ctx.facts.stepUp?.missing ?? [];
    return { kind: 'event', event: 'matched', facts: { stepUp: { reason: 'credentials', missing } }, accountId: account.id, ...(proofed ? { account: proofed } : {}) };
  },
});
