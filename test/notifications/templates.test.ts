import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROJECT_ROOT } from '../../src/project-root.js';
import {
  DEFAULT_RENDER_CONTEXT,
  TEMPLATES,
  TEMPLATE_IDS,
  plainText,
  renderTemplate,
  type RenderContext,
  type TemplateData,
  type TemplateId,
} from '../../src/notifications/templates.js';

const context: RenderContext = { securityCodeMinutes: 10, serviceUrl: 'https://login.carelogin.example' };

/** Sample data for every template; the mapped type makes a template without a sample a compile error. */
const SAMPLES: { [T in TemplateId]: TemplateData<T>[] } = {
  'sign-in-security-code': [{ code: '123456' }],
  'sign-in-email-code': [{ code: '654321' }],
  'email-confirmation-code': [{ code: '246810' }],
  'mobile-confirmation-code': [{ code: '135790' }],
  'account-already-exists': [{}],
  'password-reset-link': [{ link: 'https://login.carelogin.example/reset-password/Zm9vYmFyYmF6' }],
  'password-changed': [{}],
  'password-changed-sms': [{}],
  'mobile-changed': [{ mobileEnding: '+44 7700 900123' }],
  'mobile-changed-sms': [{}],
  // The longest link the product makes: a 43-character token on the issuer's origin.
  'mobile-change-pending': [{ mobileEnding: '+44 7700 900456', effective: 'Friday 4 December 2026 at 6:30am', link: `https://login.carelogin.example/cancel-mobile/${'A'.repeat(43)}` }],
  'mobile-change-pending-sms': [{ link: `https://login.carelogin.example/cancel-mobile/${'A'.repeat(43)}` }],
  'mobile-change-cancelled': [{}],
  'email-changed': [{}],
  'signed-in-after-failures': [{ failedAttempts: 4 }, { failedAttempts: 1 }, { failedAttempts: 0 }],
  'recovery-sign-in': [{}],
  'recovery-sign-in-sms': [{}],
  'sign-in-method-changed': [
    { change: 'added', method: 'passkey' },
    { change: 'removed', method: 'authenticator-app' },
    { change: 'added', method: 'recovery-codes' },
  ],
  'recovery-codes-changed': [{ change: 'created' }, { change: 'replaced' }, { change: 'turned-off' }],
  'recovery-codes-changed-sms': [{ change: 'created' }, { change: 'replaced' }, { change: 'turned-off' }],
  'recovery-code-used': [{ left: 9 }, { left: 1 }, { left: 0 }],
  'recovery-code-used-sms': [{ left: 9 }, { left: 1 }, { left: 0 }],
  'account-deleted': [{}],
  'identity-check-outcome': [{ outcome: 'approved' }, { outcome: 'declined', reason: 'The photo of your ID was blurred.' }, { outcome: 'declined' }],
  'account-disabled': [{}],
  'account-enabled': [{}],
  'mobile-removed': [{}],
};

function allRendered(): { id: TemplateId; channel: string; subject?: string; body: string }[] {
  return TEMPLATE_IDS.flatMap((id) =>
    (SAMPLES[id] as TemplateData<typeof id>[]).map((data) => ({ id, ...renderTemplate(id, data, context) })),
  );
}

describe('notification templates', () => {
  it('covers the messages the product sends', () => {
    expect(TEMPLATE_IDS).to.include.members([
      'sign-in-security-code', 'email-confirmation-code', 'mobile-confirmation-code', 'account-already-exists',
      'password-reset-link', 'password-changed', 'mobile-changed', 'mobile-changed-sms', 'email-changed',
      'signed-in-after-failures', 'account-deleted', 'identity-check-outcome',
    ]);
    for (const id of TEMPLATE_IDS) expect(TEMPLATES[id].id).to.equal(id);
  });

  it('renders every template with sample data, with nothing missing', () => {
    const rendered = allRendered();
    expect(rendered.length).to.be.greaterThan(TEMPLATE_IDS.length);
    for (const message of rendered) {
      const text = `${message.subject ?? ''}\n${message.body}`;
      expect(text, message.id).not.to.match(/undefined|null|NaN|\[object|\$\{|\{\{|\(\(/);
      expect(message.body.trim().length, message.id).to.be.greaterThan(20);
      expect(text, message.id).to.include('carelogin');
    }
  });

  it('gives every email a subject and no text message one', () => {
    for (const message of allRendered()) {
      if (message.channel === 'email') expect(message.subject, message.id).to.be.a('string').and.have.length.within(10, 120);
      else expect(message.subject, message.id).to.equal(undefined);
    }
  });

  it('keeps every text message to one GSM-7 part (160 characters, plain ASCII)', () => {
    const sms = allRendered().filter((message) => message.channel === 'sms');
    expect(sms.map((message) => message.id)).to.include.members(['sign-in-security-code', 'mobile-confirmation-code', 'mobile-changed-sms']);
    for (const message of sms) {
      expect(message.body.length, message.id).to.be.at.most(160);
      expect(message.body, message.id).to.match(/^[\x20-\x7e]+$/);
    }
  });

  it('uses plain ASCII that Notify will not read as formatting', () => {
    for (const message of allRendered()) {
      expect(`${message.subject ?? ''}${message.body}`, message.id).to.match(/^[\x20-\x7e\n]+$/);
      for (const line of message.body.split('\n')) expect(line, message.id).not.to.match(/^\s*(#|\*|\^|-{3}|>|\d+\.\s)/);
    }
  });

  it('never puts a security code in a subject line', () => {
    for (const message of allRendered()) {
      if (message.subject) expect(message.subject, message.id).not.to.match(/\d{4,}/);
    }
  });

  it('links only to the service itself', () => {
    for (const message of allRendered()) {
      for (const [url] of `${message.subject ?? ''}\n${message.body}`.matchAll(/[a-z]+:\/\/\S+/gi)) {
        expect(new URL(url).origin, message.id).to.equal(context.serviceUrl);
      }
    }
  });

  it('sends the sign-in security code in the agreed words', () => {
    expect(renderTemplate('sign-in-security-code', { code: '123456' }, context)).to.deep.equal({
      channel: 'sms',
      body: 'Your carelogin security code is 123456. It expires in 10 minutes. Do not share it with anyone.',
    });
  });

  it('states the configured code lifetime, not a fixed one', () => {
    const body = renderTemplate('email-confirmation-code', { code: '246810' }, { ...context, securityCodeMinutes: 5 }).body;
    expect(body).to.include('246810').and.include('expires in 5 minutes');
    expect(renderTemplate('mobile-confirmation-code', { code: '246810' }, { ...context, securityCodeMinutes: 1 }).body).to.include('expires in 1 minute.');
  });

  it('includes the reset link and its 1 hour lifetime', () => {
    const link = 'https://login.carelogin.example/reset-password/abc';
    const rendered = renderTemplate('password-reset-link', { link }, context);
    expect(rendered.body).to.include(`\n${link}\n`).and.include('1 hour');
  });

  it('refuses a security code that is not digits (a bug, not a message)', () => {
    expect(() => renderTemplate('sign-in-security-code', { code: '12345x' }, context)).to.throw(TypeError);
  });

  it('shows only the last digits of a new mobile number', () => {
    const body = renderTemplate('mobile-changed', { mobileEnding: '+44 7700 900123' }, context).body;
    expect(body).to.include('ends in 0123').and.not.include('7700');
  });

  it('turns a decline reason into one plain line without links or markup', () => {
    const body = renderTemplate('identity-check-outcome', {
      outcome: 'declined',
      reason: 'Blurred photo.\n\n# Click [here](https://evil.example/x) or www.evil.example <b>now</b>',
    }, context).body;
    expect(body).to.include('Reason: Blurred photo. Click here or now');
    expect(body).not.to.match(/evil|https?:\/\/(?!login\.carelogin\.example)|\n#|<|\[/);
    expect(plainText('x'.repeat(400))).to.have.length(300);
  });

  it('says which outcome an identity check had', () => {
    expect(renderTemplate('identity-check-outcome', { outcome: 'approved' }, context).subject).to.equal('We have confirmed who you are');
    expect(renderTemplate('identity-check-outcome', { outcome: 'declined' }, context).subject).to.equal('We could not confirm who you are');
  });

  it('is listed in full in docs/notifications.md', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'notifications.md'), 'utf8');
    for (const id of TEMPLATE_IDS) expect(doc, id).to.include(`| \`${id}\` |`);
  });

  it('marks exactly the messages that carry a code or link as secret', () => {
    const secret = TEMPLATE_IDS.filter((id) => TEMPLATES[id].secret);
    expect(secret).to.have.members(['sign-in-security-code', 'sign-in-email-code', 'email-confirmation-code', 'mobile-confirmation-code', 'password-reset-link', 'mobile-change-pending', 'mobile-change-pending-sms']);
    for (const message of allRendered()) {
      const carriesSecret = /\d{6}|:\/\/\S+\/(reset|cancel-mobile)/.test(message.body);
      expect(carriesSecret, message.id).to.equal(TEMPLATES[message.id].secret);
    }
  });

  it('renders with the default context when none is given', () => {
    expect(TEMPLATES['sign-in-security-code'].render({ code: '123456' }).body).to.include(`${DEFAULT_RENDER_CONTEXT.securityCodeMinutes} minutes`);
  });

  it('types each template\'s data (checked by tsc)', () => {
    const good: TemplateData<'sign-in-security-code'> = { code: '123456' };
    // @ts-expect-error a security code message needs its code
    const missing: TemplateData<'sign-in-security-code'> = {};
    // @ts-expect-error the reset email takes a link, not a code
    const wrong: TemplateData<'password-reset-link'> = { code: '123456' };
    // @ts-expect-error there is no such outcome
    const outcome: TemplateData<'identity-check-outcome'> = { outcome: 'maybe' };
    // @ts-expect-error not a template
    const unknown: TemplateId = 'welcome';
    expect([good, missing, wrong, outcome, unknown]).to.have.length(5);
  });
});
