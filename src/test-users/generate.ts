import { randomInt } from 'node:crypto';
import { isValidNhsNumber, nhsNumberCheckDigit } from '../accounts/nhs-number.js';

/**
 * Realistic, fictional details for a test user, for whatever the developer did not give
 * (docs/personas.md "Your own test users"). Nothing here can belong to a real person: NHS numbers
 * from the 999 test range, mobiles from Ofcom's range for drama, .test email addresses.
 *
 * `pick` is the source of randomness (crypto's randomInt by default), so tests can drive it.
 */
export type Pick = (below: number) => number;

const cryptoPick: Pick = (below) => randomInt(0, below);

const GIVEN_NAMES = [
  'Alex', 'Amelia', 'Arjun', 'Bethan', 'Callum', 'Chloe', 'Daniel', 'Efua', 'Ffion', 'George', 'Hannah', 'Ibrahim', 'Isla', 'Jack',
  'Kai', 'Leah', 'Mohammed', 'Niamh', 'Oliver', 'Olivia', 'Rhys', 'Ruby', 'Sofia', 'Tomasz', 'Yusuf', 'Zara',
];
const FAMILY_NAMES = [
  'Ahmed', 'Baker', 'Campbell', 'Davies', 'Evans', 'Fraser', 'Green', 'Hall', 'Iqbal', 'Jenkins', 'Kowalski', 'Lewis', 'Morgan',
  'Nowak', 'Owusu', 'Patel', 'Quinn', 'Robinson', 'Singh', 'Thomas', 'Walker', 'Williams', 'Wright', 'Young',
];
/** City-centre postcodes across the four nations, as the register writes them. */
const POSTCODES = ['LS1 5DL', 'M2 5DB', 'B2 4QA', 'BS1 5TR', 'NE1 5DL', 'CF10 3NQ', 'EH1 1YZ', 'BT1 5GS', 'L1 8JQ', 'NG1 5FW', 'S1 2HH', 'PL1 1EA', 'SA1 3SN', 'AB10 1AF', 'CB2 3QZ', 'OX1 3BD'];

/** The digits after 07700 900: Ofcom keeps 07700 900000 to 07700 900999 for drama, so they reach nobody. */
export const DRAMA_MOBILE_PREFIX = '+447700900';

export function isDramaMobile(e164: string): boolean {
  return /^\+447700900\d{3}$/.test(e164);
}

/** A checksum-valid NHS number from the 999 test range, never issued to a real patient. */
export function randomTestNhsNumber(pick: Pick = cryptoPick): string {
  for (;;) {
    const firstNine = `999${String(pick(1_000_000)).padStart(6, '0')}`;
    const check = nhsNumberCheckDigit(firstNine);
    if (check === null) continue;
    const number = `${firstNine}${check}`;
    if (isValidNhsNumber(number)) return number;
  }
}

/** A test NHS number that `taken` does not say is in use; gives up (null) after `tries` draws. */
export async function unusedTestNhsNumber(taken: (nhsNumber: string) => Promise<boolean>, pick: Pick = cryptoPick, tries = 50): Promise<string | null> {
  for (let i = 0; i < tries; i++) {
    const candidate = randomTestNhsNumber(pick);
    if (!(await taken(candidate))) return candidate;
  }
  return null;
}

export function randomDramaMobile(pick: Pick = cryptoPick): string {
  return `${DRAMA_MOBILE_PREFIX}${String(pick(1000)).padStart(3, '0')}`;
}

/** A drama-range mobile no account holds yet, when one is left; otherwise any of them (a mobile may be shared). */
export function unusedDramaMobile(used: ReadonlySet<string>, pick: Pick = cryptoPick): string {
  const free: string[] = [];
  for (let n = 0; n < 1000; n++) {
    const mobile = `${DRAMA_MOBILE_PREFIX}${String(n).padStart(3, '0')}`;
    if (!used.has(mobile)) free.push(mobile);
  }
  return free.length > 0 ? free[pick(free.length)]! : randomDramaMobile(pick);
}

export function randomGivenName(pick: Pick = cryptoPick): string {
  return GIVEN_NAMES[pick(GIVEN_NAMES.length)]!;
}

export function randomFamilyName(pick: Pick = cryptoPick): string {
  return FAMILY_NAMES[pick(FAMILY_NAMES.length)]!;
}

/** An adult's date of birth (YYYY-MM-DD), born 1940 to 2005; days up to 28, so every month has them. */
export function randomBirthdate(pick: Pick = cryptoPick): string {
  const year = 1940 + pick(66);
  const month = 1 + pick(12);
  const day = 1 + pick(28);
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function randomPostcode(pick: Pick = cryptoPick): string {
  return POSTCODES[pick(POSTCODES.length)]!;
}

/** Shaped like an English GP practice's ODS code: a letter and five digits ("K82019"). */
export function randomGpOdsCode(pick: Pick = cryptoPick): string {
  return `${'ABCDEFGHJKLMNPY'[pick(15)]}${String(pick(100_000)).padStart(5, '0')}`;
}

/** GP online (IM1) credentials as a surgery's letter gives them: a 10-digit account ID and a 13-character linkage key. */
export function randomGpOnlineCredentials(pick: Pick = cryptoPick): { gpUserId: string; gpLinkageKey: string } {
  // No 0/O or 1/l/I: the key is typed from a letter.
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';
  let key = '';
  for (let i = 0; i < 13; i++) key += alphabet[pick(alphabet.length)];
  return { gpUserId: `51${String(pick(100_000_000)).padStart(8, '0')}`, gpLinkageKey: key };
}

/** A .test address (RFC 2606: never delivered) from the names, with a random tail so it is new. */
export function testUserEmail(givenName: string, familyName: string, pick: Pick = cryptoPick): string {
  const slug = (name: string): string => name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'test';
  return `${slug(givenName)}.${slug(familyName)}.${String(pick(1_000_000)).padStart(6, '0')}@carelogin.test`;
}
