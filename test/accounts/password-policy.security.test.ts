import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { BLOCKLIST_FILE, blocklistSize, checkPassword, PASSWORD_MESSAGES, type PasswordProblem } from '../../src/accounts/password-policy.js';

/** A1: length in code points after NFC, no composition rules, whole-password blocklist, context words, reasons given. */
describe('password policy (security)', () => {
  const email = 'jane.smith@example.com';

  const table: [string, string, { email?: string }, PasswordProblem | null][] = [
    ['empty', '', {}, 'missing'],
    ['7 characters ("short")', 'shorter', {}, 'too_short'],
    ['11 characters', 'abcdefghijk'.replace('k', 'z'), {}, 'too_short'],
    ['11 code points that are 22 UTF-16 units (emoji)', '🐢🐇🦔🦊🦉🐝🐞🦋🐌🐛🐜', {}, 'too_short'],
    ['12 characters of three random words', 'owl-pie-mud9', {}, null],
    ['a passphrase with spaces', 'purple tractor sings loudly', {}, null],
    ['all lower case, no digits or symbols (no composition rules)', 'marmalade umbrella violin', {}, null],
    ['all digits but random', '804213957362', {}, null],
    ['64 characters with emoji, accents and spaces', 'Crème brûlée à la façon de ma grand-mère 🍮 et un café ☕ vite !!', {}, null],
    ['128 characters', 'ab cd ef gh '.repeat(10) + 'ijklmnopqrstuvwx'.slice(0, 8), {}, null],
    ['129 characters', 'x'.repeat(60) + ' quiet harbour ' + 'y'.repeat(54), {}, 'too_long'],
    ['Password123!', 'Password123!', {}, 'common'],
    ['P@ssw0rd2024! (look-alikes and a year)', 'P@ssw0rd2024!', {}, 'common'],
    ['nhslogin2024! (context word)', 'nhslogin2024!', {}, 'common'],
    ['NHS-login-1234 (context word with separators)', 'NHS-login-1234', {}, 'common'],
    ['carelogin!!!!', 'carelogin!!!!', {}, 'common'],
    ['NHSNHSNHSNHS', 'NHSNHSNHSNHS', {}, 'common'],
    ['qwertyuiop123 (keyboard walk)', 'qwertyuiop123', {}, 'common'],
    ['1q2w3e4r5t6y', '1q2w3e4r5t6y', {}, 'common'],
    ['123456789012 (digit run)', '123456789012', {}, 'common'],
    ['98765432109876 (descending run)', '98765432109876', {}, 'common'],
    ['abcdefghijklmn (alphabet run)', 'abcdefghijklmn', {}, 'common'],
    ['aaaaaaaaaaaaaaaa (repetition: rejected only as a blocklisted pattern)', 'aaaaaaaaaaaaaaaa', {}, 'common'],
    ['abcabcabcabc', 'abcabcabcabc', {}, 'common'],
    ['iloveyouforever', 'ILoveYouForever', {}, 'common'],
    ['correct horse battery staple (famous example)', 'correct horse battery staple', {}, 'common'],
    ['liverpoolfc1892', 'LiverpoolFC1892', {}, 'common'],
    ['manchesterunited', 'ManchesterUnited', {}, 'common'],
    ['a listed word inside a longer passphrase is fine (no substring matching)', 'password is not my dog called pickle', {}, null],
    ['the email address', email, { email }, 'contains_personal'],
    ['the email local part + 123', 'jane.smith123', { email }, 'contains_personal'],
    ['the local part without the dot, decorated', 'JaneSmith2024!!', { email }, 'contains_personal'],
    ['the local part inside a phrase', 'hello it is janesmith again', { email }, 'contains_personal'],
    ['a short local part alone with digits', 'jo1234567890', { email: 'jo@example.com' }, 'contains_personal'],
    ['a short local part does not ban ordinary words', 'journey to the coast', { email: 'jo@example.com' }, null],
    ['no email given', 'jane.smith123', {}, null],
  ];

  for (const [label, password, context, expected] of table) {
    it(`${label} → ${expected ?? 'accepted'}`, () => {
      expect(checkPassword(password, context)).to.equal(expected);
    });
  }

  it('counts length in code points after NFC: 12 NFD characters that are 12 code points after NFC pass', () => {
    const nfd = 'éèêëàâäôöûüç'.normalize('NFD');
    expect(nfd.length).to.be.greaterThan(12);
    expect(checkPassword('éèêëàâäôö'.normalize('NFD'), {})).to.equal('too_short');
    expect(checkPassword(nfd, {})).to.equal(null);
  });

  it('the 128-character boundary is exact', () => {
    const base = 'tangerine lighthouse ';
    const exactly128 = (base.repeat(7)).slice(0, 128);
    expect([...exactly128].length).to.equal(128);
    expect(checkPassword(exactly128, {})).to.equal(null);
    expect(checkPassword(exactly128 + 'q', {})).to.equal('too_long');
  });

  it('never asks for upper case, digits or symbols: every message is about length, commonness or the email', () => {
    for (const message of Object.values(PASSWORD_MESSAGES)) {
      expect(message).to.not.match(/upper|lower|capital|digit|number|symbol|special/i);
    }
    expect(PASSWORD_MESSAGES.too_short).to.equal('Password must be 12 characters or more');
    expect(PASSWORD_MESSAGES.common).to.equal('Choose a password that is harder to guess. This one is too common');
    expect(PASSWORD_MESSAGES.contains_personal).to.equal('Password must not contain your email address');
  });

  it('ships a local blocklist of a few thousand entries with the context words (X7, ASVS 6.2.4 and 6.2.11)', () => {
    expect(blocklistSize()).to.be.greaterThan(3000);
    const lines = readFileSync(BLOCKLIST_FILE, 'utf8').split('\n').map((l) => l.trim());
    for (const word of ['nhs', 'nhslogin', 'carelogin', 'password']) expect(lines).to.include(word);
    // Every entry is lower case (lookups are case-insensitive) and every common entry is long enough to matter.
    const entries = lines.slice(lines.indexOf('# [common]') + 1).filter((l) => l && !l.startsWith('#'));
    expect(entries.length).to.be.greaterThan(3000);
    for (const entry of entries) {
      expect(entry, entry).to.equal(entry.toLowerCase());
      expect([...entry].length, entry).to.be.at.least(12);
    }
  });

  it('matches blocklist entries case-insensitively', () => {
    expect(checkPassword('QWERTY123456', {})).to.equal('common');
    expect(checkPassword('qwerty123456', {})).to.equal('common');
  });
});
