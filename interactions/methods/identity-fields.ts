import { z } from 'zod';

/**
 * Form fields the proofing routes share (names, the NHS date input for a date of birth), with the
 * NHS service manual's error messages. Each route's schema checks its fields in one superRefine, in
 * the order of its page, so the error summary lists them in that order.
 */

/** A text field: absent is empty, spaces trimmed and runs of spaces made one. */
export const trimmedText = z
  .string()
  .optional()
  .transform((value) => (value ?? '').trim().replace(/\s+/g, ' '));

const NAME = /^[\p{L}][\p{L}\p{M}' ’.-]*$/u;

/** Undefined for an acceptable name (or an empty one: whether it is needed is the route's rule). */
export function nameProblem(value: string, field: string): string | undefined {
  if (value.length > 35) return `${field} must be 35 characters or fewer`;
  if (value !== '' && !NAME.test(value)) return `${field} must only include letters a to z, hyphens, spaces and apostrophes`;
  return undefined;
}

/** The date input's messages; undefined when the date is a real one in the past. */
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

/** YYYY-MM-DD from the three boxes (already checked by birthdateProblem). */
export function isoBirthdate(day: string, month: string, year: string): string {
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}

/** The three boxes again from YYYY-MM-DD, as a person types them ("3", not "03"). */
export function shownBirthdate(iso: string): Record<'birthdate-day' | 'birthdate-month' | 'birthdate-year', string> {
  const [year = '', month = '', day = ''] = iso.split('-');
  return { 'birthdate-day': String(Number(day)), 'birthdate-month': String(Number(month)), 'birthdate-year': year };
}
