import type { Account } from '../../entities/account.js';
import { formatNhsNumber } from '../accounts/nhs-number.js';
import { nhsDate } from '../web/dates.js';

/** The identity level in plain words, as NHS login's settings say it. */
const LEVEL_WORDS = {
  P5: 'Your details have been matched to your NHS record',
  P9: 'You have proved who you are with photo ID or your GP surgery',
} as const;

/** What "Your identity" shows: nothing personal for P0 (it holds none), else the level and who the account says you are. */
export type IdentitySummary =
  | { readonly proved: false }
  | { readonly proved: true; readonly level: string; readonly nhsNumber?: string; readonly name?: string; readonly birthdate?: string };

/**
 * Only the NHS number, name and date of birth: enough for the person to see the record matched is
 * theirs. Postcode, GP practice and GP online credentials stay off the page (data minimisation).
 */
export function identitySummary(account: Pick<Account, 'proofingLevel' | 'nhsNumber' | 'givenName' | 'familyName' | 'birthdate'>): IdentitySummary {
  if (account.proofingLevel === 'P0') return { proved: false };
  const name = [account.givenName, account.familyName].filter(Boolean).join(' ');
  return {
    proved: true,
    level: LEVEL_WORDS[account.proofingLevel],
    ...(account.nhsNumber ? { nhsNumber: formatNhsNumber(account.nhsNumber) } : {}),
    ...(name ? { name } : {}),
    ...(account.birthdate ? { birthdate: birthdateInWords(account.birthdate) } : {}),
  };
}

/** "10 October 1990". The column is a date: a driver may give a string, or a Date at local midnight (pg's own parser). */
function birthdateInWords(value: string | Date): string {
  const iso = value instanceof Date
    ? `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`
    : String(value).slice(0, 10);
  // Midday UTC: the same calendar day in UK time whatever the season.
  return nhsDate(new Date(`${iso}T12:00:00Z`));
}
