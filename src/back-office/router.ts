import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { REAUTH_WINDOW_SECONDS } from '../account/router.js';
import { identitySummary } from '../account/identity.js';
import { CsrfError, NotFoundError } from '../errors.js';
import { DECLINE_REASONS, PHOTO_ID_DOCUMENTS, type CaseDetail, type DeclineReason } from '../photo-id/cases.js';
import { isCrossSiteRequest } from '../security/csrf.js';
import type { HmacKeys } from '../security/hmac-key-ring.js';
import type { AppServices } from '../services.js';
import { nhsDate, nhsDateTime } from '../web/dates.js';
import { minutesText } from '../web/durations.js';
import { createFirstPartySignIn, type FirstPartySignedIn } from '../web/first-party-sign-in.js';
import type { FieldError } from '../web/renderer.js';
import { createEvidenceLinks, type EvidenceKind } from './evidence-links.js';
import { BACK_OFFICE_CLIENT, BACK_OFFICE_VECTORS } from './internal-client.js';

const FORM_LIMIT = '8kb';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOTE_MAX = 500;
/** How many cases the queue page lists (the oldest; "Start next check" always takes the oldest). */
const QUEUE_PAGE = 100;

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
  const { renderer, csrf, config, audit, accounts, photoIdCases } = services;
  const expectedOrigin = new URL(config.issuer).origin;
  const links = createEvidenceLinks(hmacKeys);
  const firstParty = createFirstPartySignIn(services, { client: BACK_OFFICE_CLIENT, vectors: BACK_OFFICE_VECTORS, cookieName: 'carelogin-back-office-signin', bindingPrefix: 'back-office' });
  const router = new Router({ prefix: '/back-office' });
  const forms = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });

  function page(ctx: Context, template: string, data: Record<string, unknown> = {}, status = 200): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderer.render(`back-office/${template}.njk`, { ...data, cspNonce: ctx.state.cspNonce });
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
   * Who may go further: a reviewer signed in with the back office's vectors. Pages send anyone else
   * to sign in; `api` routes (the evidence) answer 401 instead, since an <img> cannot follow a sign-in.
   */
  function requireReviewer(kind: 'page' | 'api'): Middleware {
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
      if (current.account.backOfficeRole !== 'reviewer') {
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
    if (current.account.backOfficeRole !== 'reviewer') {
      await audit.record('back_office.access_refused', { accountId: current.account.id, ip: ctx.ip, detail: { path: 'callback' } });
      page(ctx, 'forbidden', { title: 'You do not have access to the back office' }, 403);
      return;
    }
    await audit.record('back_office.signed_in', { accountId: current.account.id, clientId: BACK_OFFICE_CLIENT.clientId, ip: ctx.ip });
    redirect(ctx, safeReturn(returnTo));
  });

  // The queue: cases awaiting review, oldest first.
  router.get('/', requireReviewer('page'), async (ctx) => {
    const now = Date.now();
    const cases = await photoIdCases.queue(QUEUE_PAGE);
    page(ctx, 'queue', {
      title: 'Identity checks',
      none: ctx.query.none === '1',
      cases: cases.map((c) => ({
        id: c.id,
        waiting: waitingText(now - c.submittedAt.getTime()),
        submitted: nhsDateTime(c.submittedAt),
        document: PHOTO_ID_DOCUMENTS[c.documentType] ?? c.documentType,
        own: c.accountId === me(ctx).account.id,
      })),
    });
  });

  // "Start next check": the oldest case the reviewer may decide (never their own).
  router.get('/next', requireReviewer('page'), async (ctx) => {
    const next = (await photoIdCases.queue(QUEUE_PAGE)).find((c) => c.accountId !== me(ctx).account.id);
    redirect(ctx, next ? `/back-office/cases/${next.id}` : '/back-office?none=1');
  });

  /** The case, or 404 for anything not a case (guessed ids included). */
  async function caseOr404(ctx: Context): Promise<CaseDetail> {
    const id = String(ctx.params.id);
    const found = UUID.test(id) ? await photoIdCases.get(id) : undefined;
    if (!found) throw new NotFoundError();
    return found;
  }

  async function renderCase(ctx: Context, found: CaseDetail, extra: { errors?: FieldError[]; values?: Record<string, string>; status?: number } = {}): Promise<void> {
    const reviewer = me(ctx).account;
    const person = await accounts.findById(found.accountId);
    const identity = person ? identitySummary(person) : { proved: false as const };
    const decided = found.status !== 'awaiting_review';
    // Past its retention period (D22) the evidence is gone: the page says when, instead of broken images.
    const evidenceDeletedOn = decided ? await services.evidenceRetention.deletedOn(found.id) : null;
    page(ctx, 'case', {
      title: decided ? 'Identity check decided' : 'Check this identity',
      caseId: found.id,
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
    if (decision === 'declined' && !reason) errors.push({ field: 'reason', text: 'Select why you are declining this check' });
    if (note.length > NOTE_MAX) errors.push({ field: noteField, text: `The note must be ${NOTE_MAX} characters or fewer` });
    if (errors.length > 0) return renderCase(ctx, found, { errors, values: { reason: reason ?? '', [noteField]: note }, status: 400 });

    const result = await photoIdCases.decide({ caseId: found.id, reviewerAccountId: reviewer.id, decision, ...(reason && decision === 'declined' ? { reason } : {}), ...(note ? { note } : {}), ip: ctx.ip });
    if (result === 'not-found') throw new NotFoundError();
    if (result === 'own-case') {
      page(ctx, 'own-case', { title: 'You cannot check your own identity' }, 403);
      return;
    }
    const now = (await photoIdCases.get(found.id)) ?? found;
    if (result === 'already-decided') {
      page(ctx, 'already-decided', { title: 'Another reviewer has already decided this check', outcome: outcomeOf(now) }, 409);
      return;
    }
    page(ctx, 'decided', { title: decision === 'approved' ? 'Identity check approved' : 'Identity check declined', outcome: outcomeOf(now) });
  });

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
