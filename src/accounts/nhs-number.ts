/**
 * NHS numbers: ten digits, the last a modulus 11 check digit (NHS Data Dictionary, "NHS Number").
 * Weights 10 down to 2 apply to the first nine digits; check = 11 − (sum mod 11), where 11 means 0
 * and 10 means the number can never be issued.
 */

/** Strips the spaces and hyphens people type ("943 476 5919"); returns null unless ten digits remain. */
export function normaliseNhsNumber(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const digits = value.replace(/[\s-]/g, '');
  return /^\d{10}$/.test(digits) ? digits : null;
}

/** The check digit for the first nine digits, or null when no valid number starts with them. */
export function nhsNumberCheckDigit(firstNine: string): number | null {
  if (!/^\d{9}$/.test(firstNine)) return null;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(firstNine[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return null;
  return check;
}

/**
 * True for exactly ten digits with a correct check digit. Ten identical digits ("0000000000",
 * "4444444444") pass the arithmetic but are never issued, so they are refused as well.
 * Stored values are always the bare ten digits: normalise input first with normaliseNhsNumber.
 */
export function isValidNhsNumber(value: unknown): boolean {
  if (typeof value !== 'string' || !/^\d{10}$/.test(value)) return false;
  if (/^(\d)\1{9}$/.test(value)) return false;
  return nhsNumberCheckDigit(value.slice(0, 9)) === Number(value[9]);
}

/** "991 011 3716": the 3-3-4 grouping the NHS writes numbers in, for people to read. */
export function formatNhsNumber(digits: string): string {
  return /^\d{10}$/.test(digits) ? `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}` : digits;
}

/** Numbers starting 999 are reserved for testing and never belong to a real patient. */
export function isTestNhsNumber(value: unknown): boolean {
  return isValidNhsNumber(value) && (value as string).startsWith('999');
}
