import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type { Account } from '../../../entities/account.js';
import { REAUTH_WINDOW_SECONDS } from '../../account/reauthentication.js';
import { liftLocks } from '../../accounts/account-locks.js';
import { cleanseMobile, disableAccount, enableAccount, type StatusChange, type StatusResult } from '../../accounts/account-status.js';
import { formatNhsNumber } from '../../accounts/nhs-number.js';
import { CsrfError, NotFoundError } from '../../errors.js';
import { capRetryAfter, countWithinCap, lockoutKeys } from '../../security/attempt-counters.js';
import { isCrossSiteRequest } from '../../security/csrf.js';
import type { AppServices } from '../../services.js';
import { nhsDateTime } from '../../web/dates.js';
import { minutesText } from '../../web/durations.js';
import { ERROR_REFERENCES } from '../../web/error-references.js';
import type { FirstPartySignedIn, FirstPartySignIn } from '../../web/first-party-sign-in.js';
import type { FieldError } from '../../web/renderer.js';
import { findAccountId, isAccountId, maskedMobile, parseAccountKey, supportAccountView, type AccountKey, type SupportAccountView } from './account-lookup.js';

const FORM_LIMIT = '8kb';
/** The look-up cap's window: SUPPORT_LOOKUPS_PER_HOUR look-ups per hour per member of staff (D28). */
const LOOKUP_WINDOW_SECONDS = 3600;
/** A reason or ticket number: short, as the CLI's. */
export const SUPPORT_REASON_MAX = 200;

/** What support staff may do to an account, each a POST of its own with a reason (D25). */
const ACTIONS = {
  unlock: { title: 'Lift the locks on this account', button: 'Lift locks', done: 'Locks lifted' },
  disable: { title: 'Disable this account', button: 'Disable account', done: 'Account disabled' },
  enable: { title: 'Enable this account again', button: 'Enable account', done: 'Account enabled' },
  cleanse: { title: 'Remove the mobile phone number from this account', button: 'Remove mobile number', done: 'Mobile phone number removed' },
} as const;
type SupportAction = keyof typeof ACTIONS;

/** The actions that change the account itself (lifting locks changes only its counters). */
const ACCOUNT_CHANGES: Record<Exclude<SupportAction, 'unlock'>, (services: AppServices, change: StatusChange) => Promise<StatusResult>> = {
  disable: disableAccount,
  enable: enableAccount,
  cleanse: cleanseMobile,
};

const KEY_WORDS: Record<AccountKey['by'], string> = { email: 'email address', 'nhs-number': 'NHS number', 'account-id': 'account ID' };

const LEVEL_WORDS: Record<string, string> = {
  P0: 'P0: identity not proved',
  P5: 'P5: details matched to an NHS record',
  P9: 'P9: identity proved',
};

/**
 * The support desk, at /back-office/accounts (docs/back-office.md "Support desk", D25): staff with
 * back_office_role 'support' find one account by its exact email address, NHS number or account ID,
 * give a reason before seeing it, and lift its locks, disable it or enable it again, or remove its
 * mobile number (NHS login's "cleanse", D28). Each member of staff's look-ups are capped per hour
 * (D28). Every search,
 * view and change is audited with who, whom and why. Reviewers do not get in, and nobody here acts
 * on their own account or another back-office account.
 *
 * Mounted into the back office's router (its sign-in, its session, its CSRF binding) by one line,
 * ahead of the identity-check queue so that support staff arriving at /back-office land here.
 */
export function mountSupportDesk(router: Router, services: AppServices, firstParty: FirstPartySignIn): void {
  const { renderer, csrf, config, audit, accounts, dataSource, photoIdCases } = services;
  const expectedOrigin = new URL(config.issuer).origin;
  const forms = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });

  function page(ctx: Context, template: string, data: Record<string, unknown> = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    // The back office's header: who is signed in, and "Sign out" (a form with this session's token).
    const staff = ctx.state.supportStaff as FirstPartySignedIn | undefined;
    const header = staff ? { reviewerEmail: staff.account.email, signOutToken: csrf.token(staff.binding) } : {};
    ctx.body = renderer.render(`back-office/support/${template}.njk`, { ...header, ...data, cspNonce: ctx.state.cspNonce });
  }

  function redirect(ctx: Context, location: string): void {
    ctx.status = 303;
    ctx.redirect(location);
  }

  function me(ctx: Context): FirstPartySignedIn {
    return ctx.state.supportStaff as FirstPartySignedIn;
  }

  function csrfToken(ctx: Context): string {
    return csrf.token(me(ctx).binding);
  }

  /** Support staff only; anyone else signed in gets the back office's 403, anyone signed out is sent to sign in. */
  const requireSupport: Middleware = async (ctx: Context, next: Next) => {
    const current = await firstParty.signedIn(ctx);
    if (!current) {
      redirect(ctx, `/back-office/signin?return=${encodeURIComponent('/back-office/accounts')}`);
      return;
    }
    if (current.account.backOfficeRole !== 'support') {
      await audit.record('back_office.access_refused', { accountId: current.account.id, ip: ctx.ip, detail: { path: 'support' } });
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = renderer.render('back-office/forbidden.njk', { title: 'You do not have access to the back office', cspNonce: ctx.state.cspNonce });
      return;
    }
    ctx.state.supportStaff = current;
    await next();
    if (ctx.status < 500) await firstParty.touch(ctx);
  };

  /** C5: refuse a cross-site post, or one without this session's token, before anything is read further. */
  const checkForm: Middleware = async (ctx: Context, next: Next) => {
    if (isCrossSiteRequest(ctx.headers, expectedOrigin) || !csrf.verify(me(ctx).binding, formBody(ctx)._csrf)) {
      ((ctx.state.log as typeof services.logger | undefined) ?? services.logger).warn('support desk form rejected: cross-site or bad CSRF token');
      throw new CsrfError();
    }
    await next();
  };

  /**
   * The account named in the path, or 404; 403 (audited) for the member of staff's own account and
   * for any back-office account: support cannot be used to change who may use the back office.
   */
  async function targetOf(ctx: Context): Promise<Account | undefined> {
    const id = String(ctx.params.id);
    const found = isAccountId(id) ? await accounts.findById(id.toLowerCase()) : null;
    if (!found) throw new NotFoundError();
    return (await refusedTarget(ctx, found)) ? undefined : found;
  }

  /** True (and the 403 page answered) when support may not look at or act on this account. */
  async function refusedTarget(ctx: Context, target: Account): Promise<boolean> {
    const own = target.id === me(ctx).account.id;
    if (!own && target.backOfficeRole === null) return false;
    await audit.record('back_office.support_refused', { accountId: me(ctx).account.id, ip: ctx.ip, detail: { subject: target.id, why: own ? 'own-account' : 'back-office-account' } });
    page(ctx, 'refused', { title: own ? 'You cannot use the support desk on your own account' : 'You cannot use the support desk on a back-office account', own }, 403);
    return true;
  }

  /** The reason or ticket number every view and change needs; an error when missing or too long. */
  function reasonOf(ctx: Context): { reason: string; error?: FieldError } {
    const raw = formBody(ctx).reason;
    const reason = typeof raw === 'string' ? raw.trim() : '';
    if (!reason) return { reason, error: { field: 'reason', text: 'Enter a reason or ticket number' } };
    if (reason.length > SUPPORT_REASON_MAX) return { reason, error: { field: 'reason', text: `The reason must be ${SUPPORT_REASON_MAX} characters or fewer` } };
    return { reason };
  }

  /**
   * E7: every view of an account is in the audit trail: who (the staff account), whom, why, when.
   * The reason is free text, so it goes under `note`, which the audit keeps out of log lines.
   */
  async function showAccount(ctx: Context, target: Account, reason: string, via: 'search' | 'link'): Promise<void> {
    await audit.record('back_office.account_viewed', { accountId: me(ctx).account.id, ip: ctx.ip, detail: { subject: target.id, note: reason, via } });
    const view = await supportAccountView(dataSource, target, await photoIdCases.openCaseFor(target.id));
    page(ctx, 'account', { title: 'Account details', ...accountPageData(view), csrfToken: csrfToken(ctx) });
  }

  /**
   * D28: counts one look-up (a search, or opening an account by its ID) against the member of staff's
   * hourly cap, before anything is looked up. Over it: refused with a page saying when they can look
   * again (429), audited, and logged at warn level so that it can be alerted on. True: go on.
   */
  async function withinLookupCap(ctx: Context, via: 'search' | 'link', reason: string): Promise<boolean> {
    const staffId = me(ctx).account.id;
    const key = lockoutKeys.supportLookups(staffId);
    const cap = config.backOffice.lookupsPerHour;
    if (await countWithinCap(dataSource, key, cap, LOOKUP_WINDOW_SECONDS)) return true;
    const retryAfter = await capRetryAfter(dataSource, key, LOOKUP_WINDOW_SECONDS);
    await audit.record('back_office.lookup_refused', { accountId: staffId, ip: ctx.ip, detail: { via, cap, note: reason } });
    ((ctx.state.log as typeof services.logger | undefined) ?? services.logger).warn({ event: 'back_office.lookup_cap_reached', accountId: staffId, cap, via }, 'support desk look-up refused: the hourly cap is reached');
    ctx.set('Retry-After', String(retryAfter));
    page(ctx, 'too-many-lookups', { title: 'You have looked up too many accounts', cap, wait: minutesText(retryAfter), reference: ERROR_REFERENCES.supportLookupsCapped }, 429);
    return false;
  }

  // Support staff arriving at the back office's front door land on the support desk, not the queue.
  router.get('/', async (ctx, next) => {
    const current = await firstParty.signedIn(ctx);
    if (current?.account.backOfficeRole === 'support') return redirect(ctx, '/back-office/accounts');
    await next();
  });

  router.get('/accounts', requireSupport, (ctx) => {
    page(ctx, 'find', { title: 'Find an account', values: {}, csrfToken: csrfToken(ctx) });
  });

  // A POST, so what was searched for never sits in a URL, a log line or the browser's history.
  router.post('/accounts', requireSupport, forms, checkForm, async (ctx) => {
    const body = formBody(ctx);
    const typed = typeof body.query === 'string' ? body.query.trim() : '';
    const key = typed ? parseAccountKey(typed) : undefined;
    const { reason, error: reasonError } = reasonOf(ctx);
    const errors: FieldError[] = [];
    if (!typed) errors.push({ field: 'query', text: 'Enter an email address, NHS number or account ID' });
    else if (key === 'invalid-nhs-number') errors.push({ field: 'query', text: 'Enter a valid 10-digit NHS number' });
    else if (!key) errors.push({ field: 'query', text: 'Enter a whole email address, NHS number or account ID' });
    if (reasonError) errors.push(reasonError);
    const values = { query: typed.slice(0, 320), reason: reason.slice(0, SUPPORT_REASON_MAX) };
    if (errors.length > 0 || !key || key === 'invalid-nhs-number') {
      page(ctx, 'find', { title: 'Find an account', errors, values, csrfToken: csrfToken(ctx) }, 400);
      return;
    }
    if (!(await withinLookupCap(ctx, 'search', reason))) return;
    const accountId = await findAccountId(dataSource, key);
    // The key itself is not stored: a miss is personal data about someone who may have no account.
    await audit.record('back_office.account_searched', { accountId: me(ctx).account.id, ip: ctx.ip, detail: { by: key.by, found: Boolean(accountId), note: reason, ...(accountId ? { subject: accountId } : {}) } });
    const target = accountId ? await accounts.findById(accountId) : null;
    if (!target) {
      page(ctx, 'find', { title: 'Find an account', errors: [{ field: 'query', text: `No account has this ${KEY_WORDS[key.by]}` }], values, csrfToken: csrfToken(ctx) }, 404);
      return;
    }
    if (await refusedTarget(ctx, target)) return;
    await showAccount(ctx, target, reason, 'search');
  });

  // Opening an account by its ID (from a confirmation page) asks for the reason first, and shows nothing before.
  router.get('/accounts/:id', requireSupport, async (ctx) => {
    const target = await targetOf(ctx);
    if (!target) return;
    page(ctx, 'reason', { title: 'Why are you opening this account?', accountId: target.id, values: {}, csrfToken: csrfToken(ctx) });
  });

  router.post('/accounts/:id', requireSupport, forms, checkForm, async (ctx) => {
    const target = await targetOf(ctx);
    if (!target) return;
    const { reason, error } = reasonOf(ctx);
    if (error) {
      page(ctx, 'reason', { title: 'Why are you opening this account?', accountId: target.id, errors: [error], values: { reason: reason.slice(0, SUPPORT_REASON_MAX) }, csrfToken: csrfToken(ctx) }, 400);
      return;
    }
    if (!(await withinLookupCap(ctx, 'link', reason))) return;
    await showAccount(ctx, target, reason, 'link');
  });

  // Each action: a page of its own asking for the reason (it shows no details of the account), then the POST.
  router.get('/accounts/:id/:action', requireSupport, async (ctx) => {
    const action = actionOf(ctx);
    const target = await targetOf(ctx);
    if (!target) return;
    page(ctx, 'action', { ...actionPageData(action, target), values: {}, csrfToken: csrfToken(ctx) });
  });

  router.post('/accounts/:id/:action', requireSupport, forms, checkForm, async (ctx) => {
    const action = actionOf(ctx);
    const target = await targetOf(ctx);
    if (!target) return;
    // A change needs a sign-in no older than 15 minutes, as a reviewer's decision does.
    if (Math.floor(Date.now() / 1000) - me(ctx).loginTs > REAUTH_WINDOW_SECONDS) {
      return redirect(ctx, `/back-office/signin?reauth=1&return=${encodeURIComponent('/back-office/accounts')}`);
    }
    const { reason, error } = reasonOf(ctx);
    if (error) {
      page(ctx, 'action', { ...actionPageData(action, target), errors: [error], values: { reason: reason.slice(0, SUPPORT_REASON_MAX) }, csrfToken: csrfToken(ctx) }, 400);
      return;
    }
    const change = { accountId: target.id, supportAccountId: me(ctx).account.id, reason, ip: ctx.ip };
    let result: { changed: boolean; counters?: number };
    if (action === 'unlock') {
      result = { changed: true, counters: await liftLocks(dataSource, audit, target.id, { supportAccountId: me(ctx).account.id }, reason, ctx.ip) };
    } else {
      const outcome = await ACCOUNT_CHANGES[action](services, change);
      if (outcome === 'not-found') throw new NotFoundError();
      result = { changed: outcome === 'changed' };
    }
    page(ctx, 'done', { title: ACTIONS[action].done, action, accountId: target.id, ...result });
  });
}

/** An action's own page: the account ID, its state where the action depends on it, and the mobile masked (to read back to a caller). */
function actionPageData(action: SupportAction, target: Account): Record<string, unknown> {
  return { title: ACTIONS[action].title, action, buttonText: ACTIONS[action].button, accountId: target.id, accountStatus: target.status, mobile: maskedMobile(target.mobileNumber) };
}

function actionOf(ctx: Context): SupportAction {
  const action = String(ctx.params.action);
  if (!Object.hasOwn(ACTIONS, action)) throw new NotFoundError();
  return action as SupportAction;
}

/** The account page's data, in words: nothing secret, the mobile masked, events as type and time only. */
function accountPageData(view: SupportAccountView): Record<string, unknown> {
  const { account, methods, locks, openCase, recentEvents } = view;
  return {
    accountId: account.id,
    disabled: account.status === 'disabled',
    email: account.email,
    emailConfirmed: account.emailVerifiedAt ? `Confirmed ${nhsDateTime(account.emailVerifiedAt)}` : 'Not confirmed',
    mobile: maskedMobile(account.mobileNumber),
    mobileConfirmed: account.mobileVerifiedAt !== null,
    level: LEVEL_WORDS[account.proofingLevel] ?? account.proofingLevel,
    nhsNumber: account.nhsNumber ? formatNhsNumber(account.nhsNumber) : undefined,
    authenticatorApp: methods.authenticatorApp,
    // As text: the summary list would leave a 0 blank.
    passkeys: String(methods.passkeys),
    rememberedDevices: String(methods.rememberedDevices),
    locks: locks.map((lock) => ({
      what: lock.what,
      state: lock.lockedUntil === 'never' ? 'Turned off until the lock is lifted' : lock.lockedUntil ? `Locked until ${nhsDateTime(lock.lockedUntil)}` : 'Not locked',
      failures: String(lock.consecutiveFailures),
    })),
    openCase: openCase ? { submitted: nhsDateTime(openCase.submittedAt) } : undefined,
    recentEvents: recentEvents.map((event) => ({ type: event.type, at: nhsDateTime(event.at) })),
    created: nhsDateTime(account.createdAt),
  };
}

function formBody(ctx: Context): Record<string, unknown> {
  const body: unknown = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
