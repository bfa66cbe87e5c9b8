import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root.js';

/**
 * The password rules (security-bar X3, X7; NIST 800-63B §3.1.1.2; ASVS 6.2.x):
 * 12 to 128 characters counted as Unicode code points after NFC, no composition rules, and a
 * blocklist shipped with the code (no network). Every refusal carries its reason.
 */
export type PasswordProblem = 'missing' | 'too_short' | 'too_long' | 'common' | 'contains_personal';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/** NHS design system wording: say what to do, no jargon, no blame. */
export const PASSWORD_MESSAGES: Record<PasswordProblem, string> = {
  missing: 'Enter a password',
  too_short: `Password must be ${PASSWORD_MIN_LENGTH} characters or more`,
  too_long: `Password must be ${PASSWORD_MAX_LENGTH} characters or fewer`,
  common: 'Choose a password that is harder to guess. This one is too common',
  contains_personal: 'Password must not contain your email address',
};

export const BLOCKLIST_FILE = path.join(PROJECT_ROOT, 'src', 'accounts', 'common-passwords.txt');

interface Blocklist {
  /** Whole passwords, lower-cased. */
  readonly passwords: ReadonlySet<string>;
  /** The same entries and the context words reduced to their letters (see `reduce`). */
  readonly baseWords: ReadonlySet<string>;
}

let blocklist: Blocklist | undefined;

/** Loads the list once per process; the file is small (a few thousand lines). */
function loadBlocklist(): Blocklist {
  if (blocklist) return blocklist;
  const passwords = new Set<string>();
  const baseWords = new Set<string>();
  let section = 'common';
  for (const raw of readFileSync(BLOCKLIST_FILE, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    const heading = /^#\s*\[(\w+)\]/.exec(line);
    if (heading) section = heading[1];
    if (line === '' || line.startsWith('#')) continue;
    const entry = line.normalize('NFC').toLowerCase();
    passwords.add(entry);
    for (const reduced of reductions(entry)) {
      // Context words count however short ("nhs"); a reduced common entry only when it is a real
      // word, so that an entry like "abc123456789" does not ban every password starting "abc".
      if (section === 'context' ? reduced.length > 0 : reduced.length >= 4) baseWords.add(reduced);
    }
  }
  blocklist = { passwords, baseWords };
  return blocklist;
}

/** Number of whole-password entries (for tests and the start-up log). */
export function blocklistSize(): number {
  return loadBlocklist().passwords.size;
}

// Look-alike substitutions people use to "strengthen" a word: P@ssw0rd is password.
const LOOK_ALIKES: Record<string, string> = { '0': 'o', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', '$': 's', '!': 'i' };

/**
 * The word or phrase a password is built on: lower-cased, leading and trailing digits, symbols and
 * spaces removed (the "2024!" people append), look-alikes undone, inner separators dropped.
 * "P@ssw0rd2024!" → "password"; "NHS-login 123" → "nhslogin"; "i love you 4ever" → "iloveyouaever"
 * (look-alikes are only a heuristic). "1" may stand for i or l, so both readings are returned.
 */
function reductions(lowered: string): string[] {
  const core = lowered.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  if (core === '') return [];
  const results = new Set<string>();
  for (const one of ['i', 'l']) {
    const mapped = [...core].map((ch) => (ch === '1' ? one : (LOOK_ALIKES[ch] ?? ch))).join('');
    results.add(mapped.replace(/[^\p{L}]/gu, ''));
  }
  return [...results].filter((r) => r.length > 0);
}

/** "aaaaaaaaaaaa", "abcabcabcabc", "121212121212": a unit of up to four characters, repeated. */
function isRepetition(value: string): boolean {
  return /^(.{1,4})\1{2,}$/su.test(value);
}

/** "123456789012", "abcdefghijkl", "987654321098": a straight run up or down the alphabet or digits. */
function isStraightRun(value: string): boolean {
  const points = [...value].map((ch) => ch.codePointAt(0) ?? 0);
  if (points.length < 2) return false;
  const isDigit = (p: number): boolean => p >= 48 && p <= 57;
  for (const direction of [1, -1]) {
    let ok = true;
    for (let i = 1; i < points.length && ok; i++) {
      const previous = points[i - 1];
      const current = points[i];
      // Digit runs wrap: ...8, 9, 0, 1...
      const expected = isDigit(previous) ? 48 + ((previous - 48 + direction + 10) % 10) : previous + direction;
      ok = current === expected;
    }
    if (ok) return true;
  }
  return false;
}

/** Letters and digits only, lower-cased: how we compare a password with the email address. */
function compact(value: string): string {
  return value.normalize('NFC').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

function containsPersonal(lowered: string, email: string | undefined): boolean {
  if (!email) return false;
  const address = email.normalize('NFC').trim().toLowerCase();
  const at = address.lastIndexOf('@');
  const whole = compact(address);
  const local = compact(at === -1 ? address : address.slice(0, at));
  const password = compact(lowered);
  if (whole.length > 0 && password.includes(whole)) return true;
  // A long enough local part anywhere in the password; a short one only when the password is just
  // that name with numbers around it ("jo" must not ban "journey to the coast").
  if (local.length >= 5 && password.includes(local)) return true;
  const stripDigits = (value: string): string => value.replace(/^\p{N}+|\p{N}+$/gu, '');
  const core = stripDigits(local);
  return core.length >= 2 && stripDigits(password) === core;
}

function isCommon(lowered: string): boolean {
  const list = loadBlocklist();
  if (list.passwords.has(lowered)) return true;
  if (isRepetition(lowered) || isStraightRun(lowered)) return true;
  for (const reduced of reductions(lowered)) {
    // Still a whole-password comparison: the password is nothing but a listed word or phrase
    // dressed with digits and symbols, never "contains a listed word somewhere".
    if (list.baseWords.has(reduced)) return true;
    if (reduced.length >= 8 && isRepetition(reduced)) return true;
  }
  return false;
}

/**
 * Checks a new password (registration, reset, change). Returns the first problem or null.
 * Never applied at sign-in: a password accepted once keeps working.
 */
export function checkPassword(password: string, context: { email?: string }): PasswordProblem | null {
  if (typeof password !== 'string' || password.length === 0) return 'missing';
  const normalised = password.normalize('NFC');
  // Code points, not UTF-16 units: an emoji is one character to the person typing it.
  const length = [...normalised].length;
  if (length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (length > PASSWORD_MAX_LENGTH) return 'too_long';
  const lowered = normalised.toLowerCase();
  if (containsPersonal(lowered, context.email)) return 'contains_personal';
  if (lowered.trim() === '' || isCommon(lowered)) return 'common';
  return null;
}
