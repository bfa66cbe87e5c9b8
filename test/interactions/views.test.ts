import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { CannotContinuePage } from '../../interactions/engine/types.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { createRenderer } from '../../src/web/renderer.js';

/**
 * Every interaction page renders with the NHS design system layout: one h1 that matches the page
 * title, and (for pages with forms) a CSRF field in each form. Pages that HTTP tests reach only
 * in rare states (each "cannot continue" reason, a disabled security code) are covered here.
 */
const renderer = createRenderer();
const VIEWS_DIR = path.join(PROJECT_ROOT, 'interactions', 'views');

const SAMPLE_DATA: Record<string, Record<string, unknown>> = {
  'create-account.njk': { values: { email: 'someone@example.test', terms: 'agreed' }, termsVersion: '2026-11', journeyActions: ['sign-in'] },
  'confirm-email.njk': { email: 'someone@example.test', expiresIn: '10 minutes' },
  'enter-mobile-number.njk': { values: { mobile: '07400 123 456' } },
  'confirm-mobile.njk': { mobileEnding: '3456', expiresIn: '10 minutes' },
  'enter-email.njk': { values: { email: 'someone@example.test' }, canUsePasskey: true },
  'enter-password.njk': { email: 'someone@example.test' },
  'enter-security-code.njk': { mobileEnding: '5100', expiresIn: '10 minutes', canUseAuthenticatorApp: true },
  'enter-authenticator-code.njk': { canRememberDevice: true, canUseTextMessage: true },
  'use-passkey.njk': { options: { challenge: 'abc', rpId: 'localhost', note: '</script><b>' } },
  'confirm-email-code.njk': { email: 'someone@example.test', expiresIn: '10 minutes' },
  'enter-new-mobile.njk': { values: { mobile: '07400 123 456' } },
  'confirm-new-mobile.njk': { mobileEnding: '3456', expiresIn: '10 minutes' },
  'consent.njk': { clientName: 'Test patient portal', items: ['your NHS number'] },
  'cannot-continue.njk': { page: 'identity-verification-required' },
  'mobile-change-held.njk': { mobileEnding: '3456', effective: 'Friday 4 December 2026 at 6:30am' },
  'locked.njk': { wait: '15 minutes', disabled: false },
  'too-many-requests.njk': { wait: '10 minutes' },
  'code-not-sent.njk': { mobileEnding: '5100', reference: 'CL1080', alternatives: [{ action: 'use-authenticator-app', heading: 'Use your authenticator app', text: 'Enter the code it shows.', button: 'Use your authenticator app instead' }] },
  'enter-your-details.njk': { values: { 'nhs-number': '991 011 3716', postcode: 'G1 1XQ' }, maxAttempts: 3, lockWait: '15 minutes' },
  'identity-check-locked.njk': { wait: '15 minutes', reference: 'CL1025' },
  'account-disabled.njk': { reference: 'CID2012' },
  'enter-gp-details.njk': { values: { 'ods-code': 'S10002' }, maxAttempts: 3, lockWait: '15 minutes', canUsePhotoId: true },
  'provide-photo-id.njk': { digits: ['7', '1', '5', '6'], documents: [{ value: 'passport', text: 'Passport' }], values: {}, limits: { photoMax: '10MB', videoMax: '50MB', videoSeconds: 30 } },
  'enter-recovery-code.njk': { canUseAuthenticatorApp: true, canUseTextMessage: true },
  'recovery-code-used.njk': { left: 9, canGenerate: true },
  'new-recovery-codes.njk': { codes: ['7KQ2 M9XD 4TRB H0WE', 'A1B2 C3D4 E5F6 G7H8'] },
  'set-up-authenticator-app.njk': { canSetUp: true, qrSvg: '<svg width="220" height="220"></svg>', secretKey: 'JBSW Y3DP EHPK 3PXP', setup: 'sealed-token', replacing: true },
  'upload-too-large.njk': { stepHref: '/interaction/uid/provide-photo-id', reference: 'CL1032', limits: { photoMax: '10MB', videoMax: '50MB', videoSeconds: 30 } },
};

function render(template: string, data: Record<string, unknown> = {}): string {
  return renderer.render(template, { formAction: '/interaction/uid/step', csrfToken: 'csrf-token', ...data });
}

function h1(html: string): string {
  const all = [...html.matchAll(/<h1[^>]*>([\s\S]*?)<\/h1>/g)];
  expect(all, 'exactly one h1').to.have.length(1);
  return all[0]![1]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
}

function title(html: string): string {
  return /<title>([\s\S]*?)<\/title>/.exec(html)![1]!.trim();
}

describe('interaction views', () => {
  for (const file of readdirSync(VIEWS_DIR).filter((f) => f.endsWith('.njk'))) {
    it(`${file} renders with a title matching its h1, and a CSRF field in every form`, () => {
      const html = render(file, SAMPLE_DATA[file]);
      const heading = h1(html);
      expect(heading).to.not.equal('');
      expect(title(html)).to.equal(`${heading} – carelogin`);
      const forms = [...html.matchAll(/<form\b[\s\S]*?<\/form>/g)];
      for (const form of forms) expect(form[0]).to.contain('name="_csrf" value="csrf-token"');
    });
  }

  it('too-many-requests.njk says which limit stopped the person: sign-in attempts, or texts (B4)', () => {
    const attempts = render('too-many-requests.njk', { wait: '10 minutes' });
    const texts = render('too-many-requests.njk', { wait: '1 hour', reason: 'texts' });
    expect(h1(attempts)).to.equal('Sorry, there have been too many attempts to sign in');
    expect(h1(texts)).to.equal('Sorry, we cannot send you a security code at the moment');
    expect(title(texts)).to.equal(`${h1(texts)} – carelogin`);
    expect(texts).to.contain('Wait 1 hour, then try again.');
  });

  it('has a sample for every view (so a new view is checked too)', () => {
    for (const file of readdirSync(VIEWS_DIR).filter((f) => f.endsWith('.njk') && !['session-expired.njk', 'forbidden.njk'].includes(f))) {
      expect(SAMPLE_DATA, file).to.have.property(file);
    }
  });

  const pages: Record<CannotContinuePage, string> = {
    'identity-verification-required': 'You need to prove your identity to use this service',
    'identity-already-linked': 'Your details are already linked to another account',
    'authentication-method-not-available': 'You cannot sign in to this service in this way',
    'mobile-number-required': 'You need a mobile phone number to sign in',
    'mobile-change-held': 'You cannot use this service until your new mobile phone number is ready',
    'mobile-change-cancelled': 'Your mobile phone number has not been changed',
    'identity-check-pending': 'We are checking your photo ID',
  };
  for (const [page, heading] of Object.entries(pages)) {
    it(`explains "${page}" and offers Continue back to the service`, () => {
      const html = render('cannot-continue.njk', { page });
      expect(h1(html)).to.equal(heading);
      expect(html).to.match(/<button[^>]*>\s*Continue\s*<\/button>/);
    });
  }

  it('shows an error title prefix and summary when there are errors', () => {
    const html = render('enter-email.njk', { errors: [{ field: 'email', text: 'Enter your email address' }], values: { email: '' } });
    expect(title(html)).to.equal('Error: Enter your email address – carelogin');
    expect(html).to.contain('href="#email"');
    expect(html).to.contain('nhsuk-error-message');
  });

  it('asks for the email address with the attributes assistive technology and browsers need', () => {
    const html = render('enter-email.njk', SAMPLE_DATA['enter-email.njk']);
    expect(html).to.match(/<input[^>]*id="email"[^>]*>/);
    const input = /<input[^>]*id="email"[^>]*>/.exec(html)![0];
    expect(input).to.contain('type="email"').and.contain('autocomplete="email"').and.contain('spellcheck="false"');
    expect(input).to.contain('value="someone@example.test"');
  });

  it('asks for identity details with one error per field, the date error linked to its day box', () => {
    const errors = [
      { field: 'nhs-number', text: 'Enter a valid NHS number' },
      { field: 'birthdate-day', text: 'Date of birth must be a real date' },
    ];
    const html = render('enter-your-details.njk', { ...SAMPLE_DATA['enter-your-details.njk'], errors, values: { 'birthdate-day': '31', 'birthdate-month': '2', 'birthdate-year': '1990' } });
    expect(html).to.contain('href="#nhs-number"').and.contain('href="#birthdate-day"');
    for (const id of ['nhs-number', 'given-name', 'family-name', 'birthdate-day', 'birthdate-month', 'birthdate-year', 'postcode']) expect(html, id).to.match(new RegExp(`<input[^>]*id="${id}"[^>]*name="${id}"`));
    expect(/<input[^>]*id="birthdate-day"[^>]*>/.exec(html)![0]).to.contain('value="31"').and.contain('nhsuk-input--error').and.contain('autocomplete="bday-day"');
    expect(html).to.contain('Date of birth must be a real date');
  });

  it('asks for the security code as a numeric one-time code', () => {
    const input = /<input[^>]*id="code"[^>]*>/.exec(render('enter-security-code.njk', SAMPLE_DATA['enter-security-code.njk']))![0];
    expect(input).to.contain('inputmode="numeric"').and.contain('autocomplete="one-time-code"');
  });

  it('asks for the password with current-password autocomplete and never echoes one', () => {
    const input = /<input[^>]*id="password"[^>]*>/.exec(render('enter-password.njk', SAMPLE_DATA['enter-password.njk']))![0];
    expect(input).to.contain('type="password"').and.contain('autocomplete="current-password"');
    expect(input).to.not.contain('value=');
  });

  it('says when a security code can no longer be used at all', () => {
    expect(h1(render('locked.njk', { wait: '15 minutes', disabled: true }))).to.equal('You cannot sign in with a security code');
    expect(h1(render('locked.njk', { wait: '15 minutes', disabled: false }))).to.equal('You entered the wrong security code too many times');
  });

  it('carries passkey options as JSON that cannot close its script element', () => {
    const html = render('use-passkey.njk', SAMPLE_DATA['use-passkey.njk']);
    const json = /<script type="application\/json" id="passkey-options"[^>]*>([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(json).to.not.contain('</');
    expect(JSON.parse(json)).to.deep.equal({ challenge: 'abc', rpId: 'localhost', note: '</script><b>' });
  });

  it('escapes what it shows (a client name cannot inject markup)', () => {
    const html = render('consent.njk', { clientName: '<script>alert(1)</script>', items: [] });
    expect(html).to.not.contain('<script>alert(1)</script>');
    expect(html).to.contain('&lt;script&gt;');
  });
});

describe('waiting times in words', () => {
  it('says minutes below an hour and hours from there, as the service manual writes them', async () => {
    const { minutesText } = await import('../../src/web/durations.js');
    expect(minutesText(0)).to.equal('1 minute');
    expect(minutesText(61)).to.equal('2 minutes');
    expect(minutesText(59 * 60)).to.equal('59 minutes');
    expect(minutesText(3600)).to.equal('1 hour');
    expect(minutesText(3601)).to.equal('1 hour and 1 minute');
    expect(minutesText(90 * 60)).to.equal('1 hour and 30 minutes');
    expect(minutesText(7200)).to.equal('2 hours');
  });
});
