import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type { BackOfficeRole } from '../../entities/account.js';
import { REAUTH_WINDOW_SECONDS } from '../account/router.js';
import { identitySummary } from '../account/identity.js';
import { CsrfError, NotFoundError, OutsideSystemTimeoutError } from '../errors.js';
import { DECLINE_REASONS, PHOTO_ID_DOCUMENTS, type CaseDetail, type DeclineReason } from '../photo-id/cases.js';
import { isCrossSiteRequest } from '../security/csrf.js';
import type { HmacKeys } from '../security/hmac-key-ring.js';
import type { AppServices } from '../services.js';
import { nhsDate, nhsDateTime, nhsTime } from '../web/dates.js';
import { minutesText } from '../web/durations.js';
import { ERROR_REFERENCES } from '../web/error-references.js';
import { createFirstPartySignIn, type FirstPartySignedIn } from '../web/first-party-sign-in.js';
import type { FieldError } from '../web/renderer.js';
import { withTimeout } from '../with-timeout.js';
import { createCaseQueue, HOLD_REASONS, type Assignment, type HoldReason, type QueueState, type ReturnResult } from './case-queue.js';
import { createEvidenceLinks, type EvidenceKind } from './evidence-links.js';
import { compareRecord, needsConfirmation, type RecordCheck } from './record-check.js';
import { BACK_OFFICE_CLIENT, BACK_OFFICE_VECTORS } from './internal-client.js';
import { mountSupportDesk } from './support/router.js';

const FORM_LIMIT = '8kb';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOTE_MAX = 500;
/** How many cases the queue page lists (the oldest; "Start next check" always takes the oldest). */
const QUEUE_PAGE = 100;

/** What the re-check of the NHS record says, for the reviewer, when something is not as it was. */
const REGISTER_UNAVAILABLE = 'The NHS record could not be checked: the patient register did not answer. Nothing has been decided. Try again in a few minutes';
const CONFIRM_RECORD = 'Confirm that you have seen what the NHS record says, or do not approve this check';
const HAND_OVER_TO = 'Select the reviewer to hand this check to';

/** The groups of DECLINE_REASONS as the form shows them, in order. */
const REASON_GROUPS: readonly { readonly group: string; readonly legend: string }[] = [
  { group: 'image', legend: 'Image quality' },
  { group: 'document', legend: 'Document' },
  { group: 'details', legend: 'Details' },
  { group: 'face', legend: 'Face' },
  { group: 'video', legend: 'Video' },
];

/** Only stored types we know are served as themselves; anything else is just bytes. */
const VIDEO_TYPES = new Set(['video/mp4', 'video/webm']);

/** What a browser may do with evidence opened directly: nothing (no scripts, no subresources, a sandboxed origin). */
export const EVIDENCE_CSP = "default-src 'none'; sandbox";

/**
 * The identity-check back office, at /back-office: reviewers (accounts with back_office_role
 * 'reviewer') compare a person's photo ID and video with the account's details and approve or
 * decline the case (nhs-login.md §5.4). Like "Your account" it is a relying party of carelogin (D20):
 * reviewers sign in through our own /authorize as the internal client carelogin-back-office, with a
 * password and an authenticator app or with a passkey (E7). See docs/back-office.md.
 */
export function createBackOfficeRouter(services: AppServices, hmacKeys: HmacKeys): Router {
  const { renderer, csrf, config, audit, accounts, photoIdCases, dataSource } = services;
  const expectedOrigin = new URL(config.issuer).origin;
  const links = createEvidenceLinks(hmacKeys);
  const queue = createCaseQueue({ dataSource, audit, assignmentSeconds: config.backOffice.assignmentSeconds });
  const firstParty = createFirstPartySignIn(services, { client: BACK_OFFICE_CLIENT, vectors: BACK_OFFICE_VECTORS, cookieName: 'carelogin-back-office-signin', bindingPrefix: 'back-office' });
  const router = new Router({ prefix: '/back-office' });
  const forms = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });

  function page(ctx: Context, template: string, data: Record<string, unknown> = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    // A signed-in reviewer's header says who they are and has "Sign out" (a form with this session's token).
    const reviewer = ctx.state.reviewer as FirstPartySignedIn | undefined;
    const header = reviewer ? { reviewerEmail: reviewer.account.email, signOutToken: csrf.token(reviewer.binding) } : {};
    ctx.body = renderer.render(`back-office/${template}.njk`, { ...header, ...data, cspNonce: ctx.state.cspNonce });
  }

  function redirect(ctx: Context, location: string): void {
    ctx.status = 303;
    ctx.redirect(location);
  }

  function me(ctx: Context): FirstPartySignedIn {
    return ctx.state.reviewer as FirstPartySignedIn;
  }

  function log(ctx: Context): typeof services.logger {
    return (ctx.state.log as typeof services.logger | undefined) ?? services.logger;
  }

  /**
   * Who may go further: a reviewer (or, where `roles` says so, another back-office role) signed in
   * with the back office's vectors. Pages send anyone else to sign in; `api` routes (the evidence)
   * answer 401 instead, since an <img> cannot follow a sign-in.
   */
  function requireReviewer(kind: 'page' | 'api', roles: readonly BackOfficeRole[] = ['reviewer']): Middleware {
    return async (ctx: Context, next: Next) => {
      const current = await firstParty.signedIn(ctx);
      if (!current) {
        if (kind === 'api') {
          ctx.status = 401;
          ctx.type = 'text';
          ctx.body = 'Sign in to the back office to see this.';
          return;
        }
        redirect(ctx, `/back-office/signin?return=${encodeURIComponent(ctx.method === 'GET' ? ctx.path : '/back-office')}`);
        return;
      }
      if (!current.account.backOfficeRole || !roles.includes(current.account.backOfficeRole)) {
        await audit.record('back_office.access_refused', { accountId: current.account.id, ip: ctx.ip, detail: { path: kind } });
        if (kind === 'api') {
          ctx.status = 403;
          ctx.type = 'text';
          ctx.body = 'You do not have access to the back office.';
          return;
        }
        page(ctx, 'forbidden', { title: 'You do not have access to the back office' }, 403);
        return;
      }
      ctx.state.reviewer = current;
      await next();
      if (ctx.status < 500) await firstParty.touch(ctx);
    };
  }

  /** C5: refuse a cross-site post, or one without this session's token, before anything is read further. */
  const checkForm: Middleware = async (ctx: Context, next: Next) => {
    if (isCrossSiteRequest(ctx.headers, expectedOrigin) || !csrf.verify(me(ctx).binding, formBody(ctx)._csrf)) {
      log(ctx).warn('back office form rejected: cross-site or bad CSRF token');
      throw new CsrfError();
    }
    await next();
  };

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    await next();
  });

  router.get('/signin', async (ctx) => {
    const returnTo = safeReturn(ctx.query.return);
    const reauth = ctx.query.reauth === '1';
    if (!reauth && (await firstParty.signedIn(ctx))) return redirect(ctx, returnTo);
    await firstParty.startAuthorization(ctx, returnTo, reauth ? 'reauth' : 'signin');
  });

  router.get('/callback', async (ctx) => {
    const { state, returnTo } = firstParty.takeCallbackState(ctx);
    if (!state || typeof ctx.query.state !== 'string' || ctx.query.state !== state) {
      page(ctx, 'signin-failed', { title: 'You are not signed in' }, 400);
      return;
    }
    const current = await firstParty.signedIn(ctx);
    // The journey could not give what the back office asks for (typically: text message codes only).
    if (typeof ctx.query.error === 'string' || !current) {
      page(ctx, 'signin-failed', { title: 'You are not signed in', needsStrongerSignIn: ctx.query.error === 'access_denied' }, ctx.query.error === 'access_denied' ? 403 : 400);
      return;
    }
    if (!current.account.backOfficeRole) {
      await audit.record('back_office.access_refused', { accountId: current.account.id, ip: ctx.ip, detail: { path: 'callback' } });
      page(ctx, 'forbidden', { title: 'You do not have access to the back office' }, 403);
      return;
    }
    await audit.record('back_office.signed_in', { accountId: current.account.id, clientId: BACK_OFFICE_CLIENT.clientId, ip: ctx.ip });
    redirect(ctx, safeReturn(returnTo));
  });

  /** "You" or the reviewer's email address: who is working on a case. */
  function who(ctx: Context, accountId: string, email: string): string {
    return accountId === me(ctx).account.id ? 'You' : email;
  }

  mountSupportDesk(router, services, firstParty);

  // The queue: cases awaiting review and not on hold, oldest first, with who is working on each.
  router.get('/', requireReviewer('page'), async (ctx) => {
    const now = Date.now();
    const [cases, held, mine] = await Promise.all([queue.waiting(QUEUE_PAGE), queue.held(QUEUE_PAGE), queue.assignedTo(me(ctx).account.id)]);
    page(ctx, 'queue', {
      title: 'Identity checks',
      noneLeft: ctx.query.none === '1',
      handedOver: ctx.query.done === 'handed-over',
      returned: ctx.query.done === 'returned',
      // Cases this reviewer holds, handed over to them included (D28): their work comes first.
      mine: mine.map((c) => ({
        id: c.id,
        submitted: nhsDateTime(c.submittedAt),
        document: PHOTO_ID_DOCUMENTS[c.documentType] ?? c.documentType,
        until: nhsTime(c.assignment.lapsesAt),
        lapsed: c.assignment.lapsed,
        handedOverBy: c.assignment.handedOverBy?.email,
      })),
      assignmentTime: minutesText(config.backOffice.assignmentSeconds),
      heldCount: held.length,
      cases: cases.map((c) => ({
        id: c.id,
        waiting: waitingText(now - c.submittedAt.getTime()),
        submitted: nhsDateTime(c.submittedAt),
        document: PHOTO_ID_DOCUMENTS[c.documentType] ?? c.documentType,
        own: c.accountId === me(ctx).account.id,
        ...(c.assignment ? { assignedTo: who(ctx, c.assignment.accountId, c.assignment.email), assignedUntil: nhsTime(c.assignment.lapsesAt) } : {}),
      })),
      csrfToken: csrf.token(me(ctx).binding),
    });
  });

  // The holding list.
  router.get('/on-hold', requireReviewer('page'), async (ctx) => {
    const now = Date.now();
    const cases = await queue.held(QUEUE_PAGE);
    page(ctx, 'on-hold', {
      title: 'Checks on hold',
      cases: cases.map((c) => ({
        id: c.id,
        reason: HOLD_REASONS[c.hold.reason] ?? c.hold.reason,
        heldSince: nhsDateTime(c.hold.since),
        heldBy: who(ctx, c.hold.byAccountId, c.hold.byEmail),
        waiting: waitingText(now - c.submittedAt.getTime()),
        own: c.accountId === me(ctx).account.id,
      })),
    });
  });

  // "Start next check" assigns a case (D23), so it is a POST: the reviewer's case in progress, else
  // the oldest nobody is working on, never their own or one on hold.
  router.post('/next', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const next = await queue.assignNext(me(ctx).account.id, ctx.ip);
    redirect(ctx, next ? `/back-office/cases/${next}` : '/back-office?none=1');
  });

  /** The case, or 404 for anything not a case (guessed ids included). */
  async function caseOr404(ctx: Context): Promise<CaseDetail> {
    const id = String(ctx.params.id);
    const found = UUID.test(id) ? await photoIdCases.get(id) : undefined;
    if (!found) throw new NotFoundError();
    return found;
  }

  /** Someone else's assignment that has not lapsed: they alone may decide or hold the case. */
  function othersAssignment(ctx: Context, state: QueueState): Assignment | undefined {
    return state.assignment && !state.assignment.lapsed && state.assignment.accountId !== me(ctx).account.id ? state.assignment : undefined;
  }

  async function renderCase(ctx: Context, found: CaseDetail, extra: { errors?: FieldError[]; values?: Record<string, string>; status?: number; reference?: string } = {}): Promise<void> {
    const reviewer = me(ctx).account;
    const person = await accounts.findById(found.accountId);
    const identity = person ? identitySummary(person) : { proved: false as const };
    const decided = found.status !== 'awaiting_review';
    const state = decided ? {} : await queue.stateOf(found.id);
    const recheckAvailable = services.demographics.enabled && Boolean(person?.nhsNumber);
    const canAct = !decided && !othersAssignment(ctx, state);
    // Only the holder hands a case on or returns it (D28); never to themselves or to the case's own patient.
    const holding = canAct && !state.hold && state.assignment?.accountId === reviewer.id;
    const colleagues = holding ? await queue.colleaguesFor(found.id, reviewer.id) : [];
    // Past its retention period (D22) the evidence is gone: the page says when, instead of broken images.
    const evidenceDeletedOn = decided ? await services.evidenceRetention.deletedOn(found.id) : null;
    page(ctx, 'case', {
      title: decided ? 'Identity check decided' : 'Check this identity',
      reference: extra.reference,
      canAct,
      assignment: state.assignment
        ? { mine: state.assignment.accountId === reviewer.id, by: state.assignment.email, until: nhsTime(state.assignment.lapsesAt), lapsed: state.assignment.lapsed, handedOverBy: state.assignment.handedOverBy ? who(ctx, state.assignment.handedOverBy.accountId, state.assignment.handedOverBy.email) : undefined }
        : undefined,
      hold: state.hold
        ? { since: nhsDateTime(state.hold.since), by: who(ctx, state.hold.byAccountId, state.hold.byEmail), reason: HOLD_REASONS[state.hold.reason] ?? state.hold.reason, note: state.hold.note }
        : undefined,
      recordCheck: state.recordCheck ? recordCheckView(state.recordCheck.check, state.recordCheck.at) : undefined,
      confirmNeeded: needsConfirmation(state.recordCheck?.check),
      canRecheck: recheckAvailable && canAct,
      recheckAvailable,
      recheckUnavailableWhy: !services.demographics.enabled ? 'carelogin is not connected to the patient register' : 'the account has no NHS number',
      // Each radio is described by the error too, so a screen reader hears it on the field (as the decline reasons).
      holdReasons: Object.entries(HOLD_REASONS).map(([value, text]) => ({
        value,
        text,
        checked: extra.values?.holdReason === value,
        ...(extra.errors?.some((e) => e.field === 'holdReason') ? { attributes: { 'aria-describedby': 'holdReason-error' } } : {}),
      })),
      holding,
      colleagues: colleagues.map((c) => ({ value: c.accountId, text: c.email, selected: extra.values?.handOverTo === c.accountId })),
      caseId: found.id,
      // Disabled by the support desk (D25): it cannot be approved, so say so before anyone tries.
      accountDisabled: !decided && person?.status === 'disabled',
      submitted: nhsDateTime(found.submittedAt),
      document: PHOTO_ID_DOCUMENTS[found.documentType] ?? found.documentType,
      name: identity.proved ? identity.name : undefined,
      birthdate: identity.proved ? identity.birthdate : undefined,
      nhsNumber: identity.proved ? identity.nhsNumber : undefined,
      digits: found.spokenDigits.split('').join(' '),
      ...(evidenceDeletedOn
        ? { evidenceDeletedOn: nhsDate(evidenceDeletedOn), retentionDays: services.evidenceRetention.retentionDays }
        : { photoUrl: links.link(found.id, 'photo', reviewer.id), videoUrl: links.link(found.id, 'video', reviewer.id) }),
      decided,
      outcome: decided ? outcomeOf(found) : undefined,
      reasonGroups: REASON_GROUPS.map(({ group, legend }) => ({
        legend,
        reasons: Object.entries(DECLINE_REASONS).filter(([, r]) => r.group === group).map(([value, r]) => ({ value, text: r.text })),
      })),
      firstReason: Object.keys(DECLINE_REASONS)[0],
      errors: extra.errors,
      values: extra.values ?? {},
      csrfToken: csrf.token(me(ctx).binding),
    }, extra.status ?? 200);
  }

  router.get('/cases/:id', requireReviewer('page'), async (ctx) => {
    const found = await caseOr404(ctx);
    const reviewer = me(ctx).account;
    if (found.accountId === reviewer.id) {
      await audit.record('back_office.own_case_refused', { accountId: reviewer.id, ip: ctx.ip, detail: { caseId: found.id } });
      page(ctx, 'own-case', { title: 'You cannot check your own identity' }, 403);
      return;
    }
    // E7: every view is in the audit trail (who: the reviewer's account; which case; when: the row's time).
    await audit.record('back_office.case_viewed', { accountId: reviewer.id, ip: ctx.ip, detail: { caseId: found.id } });
    await renderCase(ctx, found);
  });

  router.post('/cases/:id', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await caseOr404(ctx);
    const reviewer = me(ctx).account;
    // A decision needs a recent sign-in, as a change of sign-in details does in Your account.
    if (Math.floor(Date.now() / 1000) - me(ctx).loginTs > REAUTH_WINDOW_SECONDS) {
      return redirect(ctx, `/back-office/signin?reauth=1&return=${encodeURIComponent(`/back-office/cases/${found.id}`)}`);
    }
    const body = formBody(ctx);
    const decision = body.decision === 'approve' ? 'approved' : body.decision === 'decline' ? 'declined' : undefined;
    const reason = typeof body.reason === 'string' && Object.hasOwn(DECLINE_REASONS, body.reason) ? (body.reason as DeclineReason) : undefined;
    const noteField = decision === 'approved' ? 'approveNote' : 'declineNote';
    const note = typeof body[noteField] === 'string' ? String(body[noteField]).trim() : '';
    const errors: FieldError[] = [];
    if (!decision) return renderCase(ctx, found, { status: 400 });
    const state = await queue.stateOf(found.id);
    const held = othersAssignment(ctx, state);
    if (held && found.status === 'awaiting_review') return assignedElsewhere(ctx, found.id, held);
    if (decision === 'declined' && !reason) errors.push({ field: 'reason', text: 'Select why you are declining this check' });
    // A record that no longer matches, or records a death, is approved only deliberately.
    if (decision === 'approved' && needsConfirmation(state.recordCheck?.check) && body.confirmRecord !== 'yes') errors.push({ field: 'confirmRecord', text: CONFIRM_RECORD });
    if (note.length > NOTE_MAX) errors.push({ field: noteField, text: `The note must be ${NOTE_MAX} characters or fewer` });
    if (errors.length > 0) return renderCase(ctx, found, { errors, values: { reason: reason ?? '', [noteField]: note }, status: 400 });

    const result = await photoIdCases.decide({ caseId: found.id, reviewerAccountId: reviewer.id, decision, ...(reason && decision === 'declined' ? { reason } : {}), ...(note ? { note } : {}), ip: ctx.ip });
    if (result === 'not-found') throw new NotFoundError();
    if (result === 'own-case') {
      page(ctx, 'own-case', { title: 'You cannot check your own identity' }, 403);
      return;
    }
    if (result === 'assigned-elsewhere') {
      const assignment = othersAssignment(ctx, await queue.stateOf(found.id));
      if (assignment) return assignedElsewhere(ctx, found.id, assignment);
      // It lapsed in between: show the case again rather than decide for the reviewer.
      return renderCase(ctx, found, { status: 409 });
    }
    if (result === 'account-disabled') {
      page(ctx, 'account-disabled', { title: 'This account has been disabled', caseId: found.id }, 409);
      return;
    }
    const now = (await photoIdCases.get(found.id)) ?? found;
    if (result === 'already-decided') {
      page(ctx, 'already-decided', { title: 'Another reviewer has already decided this check', outcome: outcomeOf(now) }, 409);
      return;
    }
    page(ctx, 'decided', { title: decision === 'approved' ? 'Identity check approved' : 'Identity check declined', outcome: outcomeOf(now), csrfToken: csrf.token(me(ctx).binding) });
  });

  /** 409: another reviewer is working on the case; nothing was saved (never a silent override). */
  async function assignedElsewhere(ctx: Context, caseId: string, assignment: Assignment): Promise<void> {
    await audit.record('back_office.assigned_elsewhere', { accountId: me(ctx).account.id, ip: ctx.ip, detail: { caseId, holder: assignment.accountId } });
    page(ctx, 'assigned-elsewhere', {
      title: 'Another reviewer is working on this check',
      caseId,
      assignedTo: assignment.email,
      assignedUntil: nhsTime(assignment.lapsesAt),
      reference: ERROR_REFERENCES.backOfficeAssignedElsewhere,
    }, 409);
  }

  /** A case that may still be acted on by this reviewer: 404 if none, 403 if their own, the read-only page if decided. */
  async function actionableCase(ctx: Context): Promise<CaseDetail | undefined> {
    const found = await caseOr404(ctx);
    if (found.accountId === me(ctx).account.id) {
      page(ctx, 'own-case', { title: 'You cannot check your own identity' }, 403);
      return undefined;
    }
    if (found.status !== 'awaiting_review') {
      page(ctx, 'already-decided', { title: 'Another reviewer has already decided this check', outcome: outcomeOf(found) }, 409);
      return undefined;
    }
    return found;
  }

  // Put on hold with a coded reason and a note (the holding list); the case leaves the queue and its assignment.
  router.post('/cases/:id/hold', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await actionableCase(ctx);
    if (!found) return;
    const body = formBody(ctx);
    const reason = typeof body.holdReason === 'string' && Object.hasOwn(HOLD_REASONS, body.holdReason) ? (body.holdReason as HoldReason) : undefined;
    const note = typeof body.holdNote === 'string' ? body.holdNote.trim() : '';
    const errors: FieldError[] = [];
    if (!reason) errors.push({ field: 'holdReason', text: 'Select why you are putting this check on hold' });
    if (note.length > NOTE_MAX) errors.push({ field: 'holdNote', text: `The note must be ${NOTE_MAX} characters or fewer` });
    else if (reason === 'other' && !note) errors.push({ field: 'holdNote', text: 'Enter a note saying why this check is on hold' });
    if (errors.length > 0) return renderCase(ctx, found, { errors, values: { holdReason: reason ?? '', holdNote: note }, status: 400 });
    const result = await queue.hold({ caseId: found.id, reviewerAccountId: me(ctx).account.id, reason: reason!, ...(note ? { note } : {}), ip: ctx.ip });
    if (result === 'assigned-elsewhere') {
      const assignment = othersAssignment(ctx, await queue.stateOf(found.id));
      if (assignment) return assignedElsewhere(ctx, found.id, assignment);
    }
    if (result === 'decided') return decidedMeanwhile(ctx, found);
    redirect(ctx, result === 'held' ? '/back-office/on-hold' : `/back-office/cases/${found.id}`);
  });

  // Release from the holding list: back to the queue, unassigned. Any reviewer may (a senior checker, say).
  router.post('/cases/:id/release', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await actionableCase(ctx);
    if (!found) return;
    await queue.release({ caseId: found.id, reviewerAccountId: me(ctx).account.id, ip: ctx.ip });
    redirect(ctx, '/back-office');
  });

  // Hand the case to a named reviewer (D28): only its holder, only to a reviewer who may decide it.
  router.post('/cases/:id/hand-over', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await actionableCase(ctx);
    if (!found) return;
    const reviewer = me(ctx).account;
    const body = formBody(ctx);
    const to = typeof body.handOverTo === 'string' ? body.handOverTo : '';
    const note = typeof body.handOverNote === 'string' ? body.handOverNote.trim() : '';
    const colleagues = await queue.colleaguesFor(found.id, reviewer.id);
    const errors: FieldError[] = [];
    if (!colleagues.some((c) => c.accountId === to)) errors.push({ field: 'handOverTo', text: HAND_OVER_TO });
    if (note.length > NOTE_MAX) errors.push({ field: 'handOverNote', text: `The note must be ${NOTE_MAX} characters or fewer` });
    if (errors.length > 0) return renderCase(ctx, found, { errors, values: { handOverTo: to, handOverNote: note }, status: 400 });
    const result = await queue.handOver({ caseId: found.id, fromAccountId: reviewer.id, toAccountId: to, ...(note ? { note } : {}), ip: ctx.ip });
    if (result === 'handed-over') return redirect(ctx, '/back-office?done=handed-over');
    if (result === 'not-a-reviewer') return renderCase(ctx, found, { errors: [{ field: 'handOverTo', text: HAND_OVER_TO }], values: { handOverNote: note }, status: 400 });
    return notHolder(ctx, found, result);
  });

  // The holder gives the case back to the queue, for whoever presses "Start next check" next (D28).
  router.post('/cases/:id/return', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await actionableCase(ctx);
    if (!found) return;
    const result = await queue.returnToQueue({ caseId: found.id, reviewerAccountId: me(ctx).account.id, ip: ctx.ip });
    if (result === 'returned') return redirect(ctx, '/back-office?done=returned');
    return notHolder(ctx, found, result);
  });

  /** 409: the case was decided while the reviewer was looking at it; what was decided. */
  async function decidedMeanwhile(ctx: Context, found: CaseDetail): Promise<void> {
    const now = (await photoIdCases.get(found.id)) ?? found;
    page(ctx, 'already-decided', { title: 'Another reviewer has already decided this check', outcome: outcomeOf(now) }, 409);
  }

  /** A hand-over or return that changed nothing because the reviewer no longer holds the case: say why (409). */
  async function notHolder(ctx: Context, found: CaseDetail, result: Exclude<ReturnResult, 'returned'>): Promise<void> {
    if (result === 'not-found') throw new NotFoundError();
    if (result === 'decided') return decidedMeanwhile(ctx, found);
    const assignment = result === 'assigned-elsewhere' ? othersAssignment(ctx, await queue.stateOf(found.id)) : undefined;
    if (assignment) return assignedElsewhere(ctx, found.id, assignment);
    // Returned, put on hold or lapsed and taken in between: show the case as it is now.
    return renderCase(ctx, found, { status: 409 });
  }

  // Ask the patient register again for the account's NHS number (E2's time limit; nothing is decided).
  router.post('/cases/:id/recheck', requireReviewer('page'), forms, checkForm, async (ctx) => {
    const found = await actionableCase(ctx);
    if (!found) return;
    const reviewer = me(ctx).account;
    // The result is kept on the case and shapes its Approve, so it is the holder's to ask (read only for others).
    const assignment = othersAssignment(ctx, await queue.stateOf(found.id));
    if (assignment) return assignedElsewhere(ctx, found.id, assignment);
    const person = await accounts.findById(found.accountId);
    if (!person?.nhsNumber || !services.demographics.enabled) return redirect(ctx, `/back-office/cases/${found.id}`);
    const { timeoutMs } = config.identityChecks;
    const register = services.demographics;
    const answer = await withTimeout(register.retrieve(person.nhsNumber), timeoutMs, () => new OutsideSystemTimeoutError(register.source, timeoutMs)).catch((error: unknown) => {
      if (error instanceof OutsideSystemTimeoutError) return { kind: 'unavailable', timedOut: true } as const;
      throw error;
    });
    if (answer.kind === 'unavailable') {
      const timedOut = 'timedOut' in answer;
      await audit.record('back_office.record_recheck_unavailable', { accountId: reviewer.id, ip: ctx.ip, detail: { caseId: found.id, source: register.source, ...(timedOut ? { timedOut } : {}) } });
      log(ctx).warn({ event: 'back_office.record_recheck_unavailable', source: register.source, timedOut }, 'the NHS record could not be re-checked');
      return renderCase(ctx, found, { errors: [{ field: 'recheck', text: REGISTER_UNAVAILABLE }], status: 503, reference: ERROR_REFERENCES.backOfficeRegisterUnavailable });
    }
    const check: RecordCheck = answer.kind === 'found' ? compareRecord(person, answer.patient) : { found: false };
    await queue.saveRecordCheck({ caseId: found.id, reviewerAccountId: reviewer.id, check, ip: ctx.ip });
    redirect(ctx, `/back-office/cases/${found.id}#recheck`);
  });

  // Sign out: the session ends at the server, as "Sign out" in Your account (C4); a form POST (C5).
  router.post('/sign-out', requireReviewer('page', ['reviewer', 'support']), forms, checkForm, async (ctx) => {
    const current = me(ctx);
    await firstParty.signOut(ctx, current);
    await audit.record('back_office.signed_out', { accountId: current.account.id, ip: ctx.ip });
    delete ctx.state.reviewer;
    redirect(ctx, '/back-office/signed-out');
  });

  router.get('/signed-out', (ctx) => page(ctx, 'signed-out', { title: 'You have signed out' }));

  // E3, E7: the evidence itself, only for a reviewer, only through a fresh link made for them.
  router.get('/cases/:id/evidence/:kind', requireReviewer('api'), async (ctx) => {
    const kind = String(ctx.params.kind);
    if (kind !== 'photo' && kind !== 'video') throw new NotFoundError();
    const found = await caseOr404(ctx);
    const reviewer = me(ctx).account;
    if (found.accountId === reviewer.id || !links.verify(found.id, kind as EvidenceKind, reviewer.id, ctx.query.expires, ctx.query.sig)) {
      ctx.status = 403;
      ctx.type = 'text';
      ctx.body = 'This link has expired or is not yours. Open the case again.';
      return;
    }
    const evidence = await photoIdCases.evidence(found.id, kind === 'photo' ? 'photo_id' : 'video');
    if (!evidence) {
      const deletedOn = await services.evidenceRetention.deletedOn(found.id);
      if (!deletedOn) throw new NotFoundError();
      // 410: it existed and was deleted on purpose (D22); a link made before then finds nothing.
      ctx.status = 410;
      ctx.type = 'text';
      ctx.body = `This evidence was deleted on ${nhsDate(deletedOn)}, after its retention period.`;
      return;
    }
    await audit.record('back_office.evidence_viewed', { accountId: reviewer.id, ip: ctx.ip, detail: { caseId: found.id, kind } });
    // The photo is always a JPEG carelogin made; a video only as one of the types it was checked as.
    const type = kind === 'photo' ? 'image/jpeg' : VIDEO_TYPES.has(evidence.contentType) ? evidence.contentType : 'application/octet-stream';
    ctx.state.contentSecurityPolicy = EVIDENCE_CSP;
    ctx.set('Content-Disposition', `attachment; filename="${kind === 'photo' ? 'photo-id.jpg' : `video.${type === 'video/webm' ? 'webm' : 'mp4'}`}"`);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    ctx.status = 200;
    ctx.type = type;
    ctx.body = evidence.content;
  });

  return router;
}

/** The last re-check as the case page shows it: a warning when approving needs a confirmation, and a row per detail. */
function recordCheckView(check: RecordCheck, at: Date): { warning?: string; rows: { key: { text: string }; value: { text: string } }[] } {
  const checked = { key: { text: 'Checked' }, value: { text: nhsDateTime(at) } };
  if (!check.found) return { warning: 'The patient register has no record for this NHS number', rows: [checked, { key: { text: 'Record found' }, value: { text: 'No' } }] };
  const words = (same: boolean): string => (same ? 'Matches the account' : 'Does not match the account');
  const changed = [!check.name && 'name', !check.birthdate && 'date of birth', !check.postcode && 'postcode'].filter(Boolean) as string[];
  const warning = check.deceased
    ? 'The NHS record says this person has died'
    : changed.length > 0
      ? `The ${changed.join(', ').replace(/, ([^,]*)$/, ' and $1')} on the NHS record ${changed.length === 1 ? 'does' : 'do'} not match the account`
      : undefined;
  return {
    ...(warning ? { warning } : {}),
    rows: [
      checked,
      { key: { text: 'Name' }, value: { text: words(check.name) } },
      { key: { text: 'Date of birth' }, value: { text: words(check.birthdate) } },
      { key: { text: 'Postcode' }, value: { text: words(check.postcode) } },
      { key: { text: 'Recorded as died' }, value: { text: check.deceased ? 'Yes' : 'No' } },
    ],
  };
}

/** What was decided, in words, for the read-only views. */
function outcomeOf(found: CaseDetail): { approved: boolean; reason?: string; decidedAt?: string } {
  const approved = found.status === 'approved';
  const reason = !approved && found.decisionReason && Object.hasOwn(DECLINE_REASONS, found.decisionReason) ? DECLINE_REASONS[found.decisionReason as DeclineReason].text : undefined;
  return { approved, ...(reason ? { reason } : {}), ...(found.decidedAt ? { decidedAt: nhsDateTime(found.decidedAt) } : {}) };
}

/** "25 minutes", "3 hours", "2 days": how long a case has waited. */
export function waitingText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 3600) return minutesText(seconds);
  const hours = Math.floor(seconds / 3600);
  if (hours < 48) return `${hours} hour${hours === 1 ? '' : 's'}`;
  return `${Math.floor(hours / 24)} days`;
}

/** Only back-office pages are places to return to (no open redirect). */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/back-office(\/[a-z-]*|\/cases\/[0-9a-f-]{36})?$/.test(value) ? value : '/back-office';
}

function formBody(ctx: Context): Record<string, unknown> {
  const body: unknown = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
