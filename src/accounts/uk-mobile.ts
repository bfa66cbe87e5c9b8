import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';

/**
 * UK mobile numbers, checked against real numbering metadata (libphonenumber's "max" set, which
 * knows number types, not just lengths). Security codes are only sent to numbers that can
 * receive a text message and that are not charged at premium rates, so only numbers of type
 * MOBILE with the UK calling code (+44, including the Channel Islands and the Isle of Man, whose
 * mobiles share it) are accepted. Everything else is refused with a message that says why, in
 * NHS design system wording.
 */

export type UkMobileProblem = 'missing' | 'malformed' | 'not_uk' | 'landline' | 'premium_rate' | 'internet_phone' | 'not_mobile';

export const UK_MOBILE_MESSAGES: Record<UkMobileProblem, string> = {
  missing: 'Enter your mobile phone number',
  malformed: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982',
  not_uk: 'Enter a UK mobile phone number. We cannot send text messages to numbers outside the UK',
  landline: 'Enter a mobile phone number. This is a landline number, which cannot receive text messages',
  premium_rate: 'Enter a mobile phone number. This is a premium rate or special service number, which cannot receive text messages from us',
  internet_phone: 'Enter a mobile phone number. This is an internet phone (VoIP) number, which we cannot use to send security codes',
  not_mobile: 'Enter a mobile phone number. This number is not a UK mobile number',
};

export type UkMobileResult = { readonly ok: true; readonly e164: string } | { readonly ok: false; readonly problem: UkMobileProblem; readonly message: string };

/** The regions that share +44 and whose mobiles libphonenumber labels with their own region. */
const UK_REGIONS = new Set(['GB', 'GG', 'JE', 'IM']);

/** Number types that are neither a mobile nor one of the refusals with their own message. */
const PREMIUM: ReadonlySet<NumberType> = new Set<NumberType>(['PREMIUM_RATE', 'SHARED_COST', 'TOLL_FREE', 'PERSONAL_NUMBER', 'UAN', 'PAGER', 'VOICEMAIL']);

/** Digits, spaces, brackets, dashes, dots and one leading +: what people type. Anything else is not a number. */
const TYPED = /^\+?[\d\s().-]+$/;
/** Long enough for any real number with separators; longer input is refused before parsing. */
const MAX_TYPED_LENGTH = 30;

function refuse(problem: UkMobileProblem): UkMobileResult {
  return { ok: false, problem, message: UK_MOBILE_MESSAGES[problem] };
}

/**
 * Checks a typed number and returns it as E.164 (+447…) when it is a UK mobile number.
 * National format ("07…"), international ("+44 7…", "0044 7…") and common separators are accepted.
 */
export function parseUkMobile(input: unknown): UkMobileResult {
  if (typeof input !== 'string' || input.trim() === '') return refuse('missing');
  const typed = input.trim();
  if (typed.length > MAX_TYPED_LENGTH || !TYPED.test(typed)) return refuse('malformed');
  // "0044…" is how people write +44 from a UK phone; libphonenumber reads it only with a "+".
  const normalised = typed.startsWith('00') ? `+${typed.slice(2)}` : typed;
  const parsed = parsePhoneNumberFromString(normalised, 'GB');
  if (!parsed) return refuse('malformed');
  if (parsed.countryCallingCode !== '44') return refuse('not_uk');
  if (!parsed.isValid() || !parsed.country || !UK_REGIONS.has(parsed.country)) return refuse('malformed');
  const type = parsed.getType();
  if (type === 'MOBILE') return { ok: true, e164: parsed.number };
  if (type === 'FIXED_LINE' || type === 'FIXED_LINE_OR_MOBILE') return refuse('landline');
  if (type === 'VOIP') return refuse('internet_phone');
  if (type !== undefined && PREMIUM.has(type)) return refuse('premium_rate');
  return refuse('not_mobile');
}

/** An E.164 UK number as people write it ("07912 345678"), for showing it back in a form. */
export function formatUkMobile(e164: string): string {
  return parsePhoneNumberFromString(e164)?.formatNational() ?? e164;
}
