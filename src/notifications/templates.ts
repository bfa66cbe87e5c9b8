/**
 * Every email and text message carelogin sends, as typed data. Call sites name a template and pass
 * its data; nothing else composes message text, so wording, tone and safety rules live in one place.
 *
 * Rules every template follows (test/notifications/templates.test.ts checks them):
 * - plain, short NHS tone; "carelogin" is the service name;
 * - plain ASCII text: a curly quote or dash turns a text message into UCS-2 (70 characters a part),
 *   and GOV.UK Notify reads some characters at the start of a line as formatting (#, *, ^, ---);
 * - text messages fit in one 160-character part;
 * - no links except the service's own (the reset link we generate, and the help page);
 * - security codes never in a subject line, because lock screens show subjects.
 */

export type Channel = 'email' | 'sms';

/** Facts a template needs that come from configuration rather than from the caller. */
export interface RenderContext {
  /** How long a security code lasts (config.ttl.securityCode), in whole minutes. */
  readonly securityCodeMinutes: number;
  /** The service's own address (config.issuer), for the help page link. */
  readonly serviceUrl: string;
  /** How long a password reset link lasts (config.ttl.resetLink), in whole minutes. Default 60. */
  readonly resetLinkMinutes?: number;
}

export const DEFAULT_RENDER_CONTEXT: RenderContext = { securityCodeMinutes: 10, serviceUrl: 'http://localhost:3000' };

export interface RenderedMessage {
  /** Email only. */
  readonly subject?: string;
  readonly body: string;
}

/** Nothing to personalise. */
type NoData = Record<string, never>;

export type SignInMethod = 'authenticator-app' | 'passkey' | 'recovery-codes';

export type RecoveryCodesChange = 'created' | 'replaced' | 'turned-off';

/** "1 recovery code", "no recovery codes": what is left of a set, in words. */
function codesLeftText(left: number): string {
  const count = Number.isInteger(left) && left > 0 ? left : 0;
  return count === 0 ? 'no recovery codes' : count === 1 ? '1 recovery code' : `${count} recovery codes`;
}

const RECOVERY_CODES_CHANGE_TEXT: Record<RecoveryCodesChange, { subject: string; what: string }> = {
  created: { subject: 'Recovery codes were set up for your carelogin account', what: 'Recovery codes were set up for your carelogin account. You can use one of them to sign in if you cannot use your authenticator app, passkey or phone.' },
  replaced: { subject: 'New recovery codes were made for your carelogin account', what: 'A new set of recovery codes was made for your carelogin account. Your old recovery codes no longer work.' },
  'turned-off': { subject: 'Recovery codes were turned off for your carelogin account', what: 'Recovery codes were turned off for your carelogin account. Your recovery codes no longer work.' },
};

/** The data each template needs. The keys are the template ids. */
export interface TemplateDataMap {
  'sign-in-security-code': { readonly code: string };
  /** X1 recovery route: password plus a code sent by email. */
  'sign-in-email-code': { readonly code: string };
  'email-confirmation-code': { readonly code: string };
  'mobile-confirmation-code': { readonly code: string };
  'account-already-exists': NoData;
  'password-reset-link': { readonly link: string };
  'password-changed': NoData;
  /** The same warning as password-changed, to the account's verified mobile number. */
  'password-changed-sms': NoData;
  /** To the account's email address. `mobileEnding` is the last few digits of the new number. */
  'mobile-changed': { readonly mobileEnding: string };
  /** To the previous mobile number, so a takeover is noticed by the phone's owner too. */
  'mobile-changed-sms': NoData;
  /**
   * X1: a new number from "I cannot access my mobile" is held before it takes effect; the email
   * address and the old number get the link to cancel it. `effective` is when it takes effect, as text.
   */
  'mobile-change-pending': { readonly mobileEnding: string; readonly effective: string; readonly link: string };
  'mobile-change-pending-sms': { readonly link: string };
  /** The change was cancelled with that link. */
  'mobile-change-cancelled': NoData;
  /** To the previous email address. */
  'email-changed': NoData;
  'signed-in-after-failures': { readonly failedAttempts: number };
  /** X1: someone signed in with password + email code; sent to every contact address. */
  'recovery-sign-in': NoData;
  'recovery-sign-in-sms': NoData;
  'sign-in-method-changed': { readonly change: 'added' | 'removed'; readonly method: SignInMethod };
  /** Recovery codes were made, replaced by a new set, or turned off (decisions D21). */
  'recovery-codes-changed': { readonly change: RecoveryCodesChange };
  'recovery-codes-changed-sms': { readonly change: RecoveryCodesChange };
  /** Someone signed in with a recovery code; `left` is how many of the set are unused. */
  'recovery-code-used': { readonly left: number };
  'recovery-code-used-sms': { readonly left: number };
  'account-deleted': NoData;
  'identity-check-outcome': { readonly outcome: 'approved' | 'declined'; readonly reason?: string };
  /** The support desk disabled the account (NHS login's CID2012), or enabled it again. */
  'account-disabled': NoData;
  'account-enabled': NoData;
  /** The support desk removed the mobile number ("cleanse", D28): recycled or taken over. */
  'mobile-removed': NoData;
}

export type TemplateId = keyof TemplateDataMap;
export type TemplateData<T extends TemplateId> = TemplateDataMap[T];

export interface Template<T extends TemplateId> {
  readonly id: T;
  readonly channel: Channel;
  /** When the product sends it (for docs/notifications.md and the dev outbox). */
  readonly purpose: string;
  /**
   * The body carries a secret (a security code or a reset link). The outbox removes such bodies
   * once they are delivered or dropped, unless the dev outbox is on to show them.
   */
  readonly secret: boolean;
  render(data: TemplateData<T>, context?: RenderContext): RenderedMessage;
}

const SIGN_IN_METHOD_NAMES: Record<SignInMethod, string> = {
  'authenticator-app': 'an authenticator app',
  passkey: 'a passkey',
  'recovery-codes': 'recovery codes',
};

function minutes(count: number): string {
  return count === 1 ? '1 minute' : `${count} minutes`;
}

/** Whole hours as hours ("1 hour", "2 hours"), anything else in minutes. */
export function durationText(totalMinutes: number): string {
  if (totalMinutes >= 60 && totalMinutes % 60 === 0) return totalMinutes === 60 ? '1 hour' : `${totalMinutes / 60} hours`;
  return minutes(totalMinutes);
}

function paragraphs(...parts: string[]): string {
  return parts.join('\n\n');
}

/** The help page, or one of its sections (an id in src/views/help.njk). */
function helpLine(context: RenderContext, section?: 'someone-else'): string {
  return `Get help with carelogin: ${context.serviceUrl}/help${section ? `#${section}` : ''}`;
}

/** Security codes are digits only: anything else would be a bug, not a message to send. */
function codeOnly(code: string): string {
  if (!/^\d{4,10}$/.test(code)) throw new TypeError('A security code must be 4 to 10 digits');
  return code;
}

/**
 * Free text from staff (an identity check decline reason) becomes one short plain line: no links
 * (only the service's own are allowed), no markup Notify or a mail client would act on.
 */
export function plainText(text: string, maxLength = 300): string {
  const cleaned = text
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S*/gi, '')
    .replace(/\bwww\.\S*/gi, '')
    .replace(/[<>[\]()*#^_`|~\\{}]/g, '')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > maxLength ? `${cleaned.slice(0, maxLength - 3).trimEnd()}...` : cleaned;
}

function lastDigits(value: string, count = 4): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length < 2) throw new TypeError('mobileEnding needs at least 2 digits');
  return digits.slice(-count);
}

export const TEMPLATES: { readonly [T in TemplateId]: Template<T> } = {
  'sign-in-security-code': {
    id: 'sign-in-security-code',
    channel: 'sms',
    secret: true,
    purpose: 'The security code for signing in (second factor by text message).',
    render: ({ code }, context = DEFAULT_RENDER_CONTEXT) => ({
      body: `Your carelogin security code is ${codeOnly(code)}. It expires in ${minutes(context.securityCodeMinutes)}. Do not share it with anyone.`,
    }),
  },
  'sign-in-email-code': {
    id: 'sign-in-email-code',
    channel: 'email',
    secret: true,
    purpose: 'The security code for signing in by email when the mobile phone is not available (recovery route, decision X1).',
    render: ({ code }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin security code',
      body: paragraphs(
        'Someone is signing in to your carelogin account and said they cannot use the mobile phone on it. This code lets them change the mobile phone number on your account.',
        'Your security code is:',
        codeOnly(code),
        `It expires in ${minutes(context.securityCodeMinutes)}. Do not share it with anyone. carelogin will never ask you for this code by phone or text message.`,
        'If this was not you, do not use the code. Someone may know your password, so reset it as soon as you can.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'email-confirmation-code': {
    id: 'email-confirmation-code',
    channel: 'email',
    secret: true,
    purpose: 'Confirms an email address when creating an account or changing the email address.',
    render: ({ code }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Confirm your email address for carelogin',
      body: paragraphs(
        'Enter this security code to confirm your email address:',
        codeOnly(code),
        `It expires in ${minutes(context.securityCodeMinutes)}. Do not share it with anyone.`,
        'If you did not ask for this code, you can ignore this email. Someone may have typed your email address by mistake.',
      ),
    }),
  },
  'mobile-confirmation-code': {
    id: 'mobile-confirmation-code',
    channel: 'sms',
    secret: true,
    purpose: 'Confirms a mobile number when adding or changing it.',
    render: ({ code }, context = DEFAULT_RENDER_CONTEXT) => ({
      body: `Your carelogin security code is ${codeOnly(code)}. Use it to confirm your mobile number. It expires in ${minutes(context.securityCodeMinutes)}. Do not share it.`,
    }),
  },
  'account-already-exists': {
    id: 'account-already-exists',
    channel: 'email',
    secret: false,
    purpose: 'Someone tried to create an account with an address that already has one. The page they see does not say so (no account enumeration).',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'You already have a carelogin account',
      body: paragraphs(
        'Someone tried to create a carelogin account with this email address. You already have an account.',
        'If this was you, sign in with your email address and password instead. If you have forgotten your password, you can reset it from the sign in page.',
        'If this was not you, you do not need to do anything.',
        helpLine(context),
      ),
    }),
  },
  'password-reset-link': {
    id: 'password-reset-link',
    channel: 'email',
    secret: true,
    purpose: 'The link to choose a new password. It lasts RESET_LINK_TTL_SECONDS (1 hour by default) and works once.',
    render: ({ link }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Reset your carelogin password',
      body: paragraphs(
        'We received a request to reset the password for your carelogin account.',
        'Use this link to choose a new password:',
        link,
        `The link expires in ${durationText(context.resetLinkMinutes ?? 60)} and can only be used once.`,
        'If you did not ask to reset your password, you can ignore this email. Your password has not changed.',
      ),
    }),
  },
  'password-changed': {
    id: 'password-changed',
    channel: 'email',
    secret: false,
    purpose: 'The password was changed or reset.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin password has been changed',
      body: paragraphs(
        'The password for your carelogin account has been changed.',
        'If you did this, you do not need to do anything.',
        'If you did not change your password, someone else may be using your account. Reset your password now from the carelogin sign in page.',
        helpLine(context),
      ),
    }),
  },
  'password-changed-sms': {
    id: 'password-changed-sms',
    channel: 'sms',
    secret: false,
    purpose: 'The password was changed or reset (to the verified mobile number, so a takeover is noticed even if the email account is compromised).',
    render: () => ({
      body: 'Your carelogin password has been changed. If you did not do this, reset your password now from the carelogin sign in page.',
    }),
  },
  'mobile-changed': {
    id: 'mobile-changed',
    channel: 'email',
    secret: false,
    purpose: 'The mobile number was changed (to the email address).',
    render: ({ mobileEnding }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin mobile number has been changed',
      body: paragraphs(
        `The mobile number for your carelogin account has been changed. The new number ends in ${lastDigits(mobileEnding)}.`,
        'We will send security codes to the new number.',
        'If you did not change your mobile number, someone else may be using your account. Reset your password now from the carelogin sign in page. When it asks for a security code, select "I cannot access my mobile" to put your own number back.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'mobile-change-pending': {
    id: 'mobile-change-pending',
    channel: 'email',
    // The link cancels the change and signs everyone out: whoever holds it can do that.
    secret: true,
    purpose: 'A new mobile number from "I cannot access my mobile" is on hold (MOBILE_CHANGE_HOLD_SECONDS, 24 hours by default); the link cancels it.',
    render: ({ mobileEnding, effective, link }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin mobile number is being changed',
      body: paragraphs(
        `Someone signed in to your carelogin account and asked to change its mobile number to a number ending in ${lastDigits(mobileEnding)}.`,
        `The change takes effect on ${effective}. Until then we will keep sending security codes to your current number.`,
        'If this was not you, cancel the change now with this link. It also signs everyone out of your account:',
        link,
        'Then reset your password from the carelogin sign in page.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'mobile-change-pending-sms': {
    id: 'mobile-change-pending-sms',
    channel: 'sms',
    secret: true,
    purpose: 'The same notice as mobile-change-pending, to the number being replaced.',
    render: ({ link }) => ({
      body: `carelogin: your mobile number is changing. Not you? Cancel: ${link}`,
    }),
  },
  'mobile-change-cancelled': {
    id: 'mobile-change-cancelled',
    channel: 'email',
    secret: false,
    purpose: 'A held change of mobile number was cancelled with its link.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'The change to your carelogin mobile number was cancelled',
      body: paragraphs(
        'The change to the mobile number on your carelogin account has been cancelled. Your mobile number has not changed.',
        'We have signed everyone out of your account and forgotten any devices you asked us to remember.',
        'If you did not ask for the change, reset your password now from the carelogin sign in page.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'mobile-changed-sms': {
    id: 'mobile-changed-sms',
    channel: 'sms',
    secret: false,
    purpose: 'The mobile number was changed (to the previous number).',
    render: () => ({
      body: 'The mobile number for your carelogin account has been changed. If you did not do this, reset your password from the carelogin sign in page.',
    }),
  },
  'email-changed': {
    id: 'email-changed',
    channel: 'email',
    secret: false,
    purpose: 'The email address was changed (to the previous address).',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin email address has been changed',
      body: paragraphs(
        'The email address for your carelogin account has been changed. We will send emails to the new address from now on.',
        'If you did this, you do not need to do anything.',
        'If you did not change your email address, someone else may be using your account. Get help straight away.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'signed-in-after-failures': {
    id: 'signed-in-after-failures',
    channel: 'email',
    secret: false,
    purpose: 'A sign in succeeded after several wrong passwords.',
    render: ({ failedAttempts }, context = DEFAULT_RENDER_CONTEXT) => {
      const count = Number.isInteger(failedAttempts) && failedAttempts > 0 ? failedAttempts : 0;
      const attempts = count === 0 ? 'several attempts' : count === 1 ? '1 attempt' : `${count} attempts`;
      return {
        subject: 'Someone signed in to your carelogin account',
        body: paragraphs(
          `Someone signed in to your carelogin account after ${attempts} with the wrong password.`,
          'If this was you, you do not need to do anything.',
          'If this was not you, reset your password now from the carelogin sign in page.',
          helpLine(context),
        ),
      };
    },
  },
  'recovery-sign-in': {
    id: 'recovery-sign-in',
    channel: 'email',
    secret: false,
    purpose: 'Someone signed in with a password and a code sent by email instead of their usual method (decision X1).',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Someone signed in to your carelogin account without your phone',
      body: paragraphs(
        'Someone signed in to your carelogin account with your password and a security code sent by email.',
        'If this was you, set up a new mobile number, authenticator app or passkey so you can sign in next time.',
        'If this was not you, reset your password now from the carelogin sign in page.',
        helpLine(context),
      ),
    }),
  },
  'recovery-sign-in-sms': {
    id: 'recovery-sign-in-sms',
    channel: 'sms',
    secret: false,
    purpose: 'The same warning as recovery-sign-in, to the mobile number on the account.',
    render: () => ({
      body: 'Someone signed in to your carelogin account with a code sent by email. If this was not you, reset your password from the carelogin sign in page.',
    }),
  },
  'sign-in-method-changed': {
    id: 'sign-in-method-changed',
    channel: 'email',
    secret: false,
    purpose: 'An authenticator app, passkey or set of recovery codes was added or removed.',
    render: ({ change, method }, context = DEFAULT_RENDER_CONTEXT) => {
      const name = SIGN_IN_METHOD_NAMES[method];
      return {
        subject: change === 'added' ? 'A sign in method was added to your carelogin account' : 'A sign in method was removed from your carelogin account',
        body: paragraphs(
          change === 'added' ? `You can now sign in to carelogin with ${name}.` : `You can no longer sign in to carelogin with ${name}.`,
          'If you did this, you do not need to do anything.',
          'If you did not make this change, someone else may be using your account. Reset your password now from the carelogin sign in page.',
          helpLine(context),
        ),
      };
    },
  },
  'recovery-codes-changed': {
    id: 'recovery-codes-changed',
    channel: 'email',
    secret: false,
    purpose: 'Recovery codes were set up, replaced by a new set, or turned off (decisions D21).',
    render: ({ change }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: RECOVERY_CODES_CHANGE_TEXT[change].subject,
      body: paragraphs(
        RECOVERY_CODES_CHANGE_TEXT[change].what,
        'If you did this, you do not need to do anything.',
        'If you did not make this change, someone else may be using your account. Reset your password now from the carelogin sign in page.',
        helpLine(context),
      ),
    }),
  },
  'recovery-codes-changed-sms': {
    id: 'recovery-codes-changed-sms',
    channel: 'sms',
    secret: false,
    purpose: 'The same notice as recovery-codes-changed, to the verified mobile number.',
    render: ({ change }) => ({
      body: `${change === 'turned-off' ? 'Recovery codes were turned off' : change === 'replaced' ? 'New recovery codes were made' : 'Recovery codes were set up'} for your carelogin account. If this was not you, reset your password from the carelogin sign in page.`,
    }),
  },
  'recovery-code-used': {
    id: 'recovery-code-used',
    channel: 'email',
    secret: false,
    purpose: 'Someone signed in with a password and a recovery code (decisions D21); sent to every contact address.',
    render: ({ left }, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Someone signed in to your carelogin account with a recovery code',
      body: paragraphs(
        'Someone signed in to your carelogin account with your password and one of your recovery codes. That code cannot be used again.',
        `You have ${codesLeftText(left)} left. If this was you, get a new set of recovery codes from your account settings, and set up your authenticator app or passkey again if you have lost it.`,
        'If this was not you, reset your password now from the carelogin sign in page, then get a new set of recovery codes.',
        helpLine(context),
      ),
    }),
  },
  'recovery-code-used-sms': {
    id: 'recovery-code-used-sms',
    channel: 'sms',
    secret: false,
    purpose: 'The same warning as recovery-code-used, to the verified mobile number.',
    render: ({ left }) => ({
      body: `Someone signed in to your carelogin account with a recovery code (${codesLeftText(left)} left). If this was not you, reset your password on the sign in page.`,
    }),
  },
  'account-deleted': {
    id: 'account-deleted',
    channel: 'email',
    secret: false,
    purpose: 'The account was deleted.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin account has been deleted',
      body: paragraphs(
        'Your carelogin account has been deleted. You can no longer use it to sign in to health services.',
        'Deleting your account does not delete your health records. Your GP surgery and other health services still have them.',
        'You can create a new account at any time.',
        'If you did not ask for this, get help straight away.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'identity-check-outcome': {
    id: 'identity-check-outcome',
    channel: 'email',
    secret: false,
    purpose: 'The result of an identity check reviewed by staff (photo ID and video).',
    render: ({ outcome, reason }, context = DEFAULT_RENDER_CONTEXT) => {
      if (outcome === 'approved') {
        return {
          subject: 'We have confirmed who you are',
          body: paragraphs(
            'We have checked the photo ID and video you sent us, and confirmed who you are.',
            'You can now use carelogin to get into health services that need to know who you are. Go back to the service you were using and sign in.',
          ),
        };
      }
      const why = reason === undefined ? '' : plainText(reason);
      return {
        subject: 'We could not confirm who you are',
        body: paragraphs(
          'We have checked the photo ID and video you sent us, but we could not confirm who you are.',
          ...(why ? [`Reason: ${why}`] : []),
          'You can try again. Sign in to carelogin and follow the steps to prove who you are.',
          helpLine(context),
        ),
      };
    },
  },
  'account-disabled': {
    id: 'account-disabled',
    channel: 'email',
    secret: false,
    purpose: 'The support desk disabled the account: it cannot be used to sign in until it is enabled again.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin account has been disabled',
      body: paragraphs(
        'Your carelogin account has been disabled. You cannot use it to sign in to health services, and you have been signed out everywhere.',
        'We disable an account when something about it needs to be checked, for example if someone else may be using it.',
        'Your health records have not changed. To find out more or to ask for your account to be enabled again, contact us and give the reference CID2012.',
        helpLine(context),
      ),
    }),
  },
  'account-enabled': {
    id: 'account-enabled',
    channel: 'email',
    secret: false,
    purpose: 'The support desk enabled a disabled account again.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'Your carelogin account has been enabled',
      body: paragraphs(
        'Your carelogin account has been enabled again. You can now sign in to health services with it.',
        'If you did not ask for this, get help straight away.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
  'mobile-removed': {
    id: 'mobile-removed',
    channel: 'email',
    secret: false,
    purpose: 'The support desk removed the mobile number from the account (NHS login\'s "cleanse"): the number was given to someone else or taken over.',
    render: (_data, context = DEFAULT_RENDER_CONTEXT) => ({
      subject: 'We removed the mobile phone number from your carelogin account',
      body: paragraphs(
        'We have removed the mobile phone number from your carelogin account because it may no longer be yours. For example, the phone company may have given the number to someone else.',
        'You have been signed out everywhere, and any devices we remembered for you have been forgotten. Nothing else about your account has changed.',
        'The next time you sign in, we will ask you for your mobile phone number and send a security code to it.',
        'If you did not ask for this, get help straight away.',
        helpLine(context, 'someone-else'),
      ),
    }),
  },
};

export const TEMPLATE_IDS = Object.keys(TEMPLATES) as TemplateId[];

/** Renders one template; the channel comes with it so callers cannot send an email template by text. */
export function renderTemplate<T extends TemplateId>(id: T, data: TemplateData<T>, context: RenderContext = DEFAULT_RENDER_CONTEXT): RenderedMessage & { channel: Channel } {
  const template: Template<T> = TEMPLATES[id];
  return { channel: template.channel, ...template.render(data, context) };
}
