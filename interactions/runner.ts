import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { EntityManager } from 'typeorm';
import type { ZodError } from 'zod';
import type { Account, ProofingLevel } from '../entities/account.js';
import { BadRequestError, JourneyExpiredError } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import { AMR_CREDENTIAL, VectorSyntaxError, credentialsFromAmr, parseVector, parseVtr, proofingAtLeast, type CredentialComponent } from '../src/provider/vectors.js';
import type { AppServices } from '../src/services.js';
import { abandonRegistration } from '../src/accounts/registration.js';
import { CANNOT_CONTINUE_REFERENCES } from '../src/web/error-references.js';
import type { FieldError } from '../src/web/renderer.js';
import { JourneyConflictError, JourneyInvariantError } from './engine/errors.js';
import { wouldComplete } from './engine/guards.js';
import { getStep, nextStep, startStep, type TakenTransition } from './engine/next-step.js';
import { createJourneyStore, type JourneyRecord, type JourneyStore } from './engine/store.js';
import { BACK_EVENT, isEndStep, isMethodStep, type Amr, type Journey, type JourneyFacts, type JourneyId } from './engine/types.js';
import { JOURNEYS, JOURNEY_FOR_PROMPT } from './journeys/index.js';
import { findMethod } from './methods/registry.js';
import type { AuthMethod, MethodServices, Outcome, Presentation, StepContext, StepRequest, UploadSpec, View } from './methods/types.js';

/** What oidc-provider's interactionDetails returns. */
export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The answer to a journey request, described rather than written, so the runner is independent
 * of Koa: the router turns it into HTTP.
 */
export type Reply =
  | { readonly kind: 'render'; readonly view: View; readonly step: string }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'finish'; readonly result: InteractionResults; readonly mergeWithLastSubmission: boolean };

export interface RequestInfo {
  readonly ip: string;
  readonly log: Logger;
  /** Cookies and user agent, for methods that need them (StepContext.request). */
  readonly http?: StepRequest;
}

export interface JourneyRunner {
  /** GET: the journey's current step, whatever URL of the journey was asked for. */
  show(details: InteractionDetails, request: RequestInfo, requestedStep: string | undefined): Promise<Reply>;
  /** POST of a step's form. A step that is not the current one is never evaluated (B11). */
  submit(details: InteractionDetails, request: RequestInfo, stepId: string, body: Record<string, unknown>): Promise<Reply>;
  /** The files the current step takes, when `stepId` is the current step and its method takes any. */
  uploadsAt(details: InteractionDetails, request: RequestInfo, stepId: string): Promise<UploadSpec | undefined>;
  /** POST of a step's side action, e.g. "Send a new code". */
  act(details: InteractionDetails, request: RequestInfo, stepId: string, action: string): Promise<Reply>;
}

/** The URL of a journey step. Step ids are stable names, so they double as path segments. */
export function stepPath(uid: string, step: string): string {
  return `/interaction/${encodeURIComponent(uid)}/${encodeURIComponent(step)}`;
}

const AMR_VALUES = new Set<string>(Object.keys(AMR_CREDENTIAL));

function isAmr(value: string): value is Amr {
  return AMR_VALUES.has(value);
}

/** The first message for each field, in the order the schema reported them (the error summary's order). */
export function toFieldErrors(error: ZodError): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    if (!errors.some((e) => e.field === field)) errors.push({ field, text: issue.message });
  }
  return errors;
}

export function createJourneyRunner(services: AppServices, options: { store?: JourneyStore } = {}): JourneyRunner {
  const store = options.store ?? createJourneyStore(services.dataSource);
  const methodServices: MethodServices = services;
  const { accounts, audit, dataSource } = services;

  function journeyFor(details: InteractionDetails): Journey {
    const id: JourneyId | undefined = Object.hasOwn(JOURNEY_FOR_PROMPT, details.prompt.name) ? JOURNEY_FOR_PROMPT[details.prompt.name] : undefined;
    if (!id) throw new BadRequestError(`carelogin cannot handle the "${details.prompt.name}" prompt`);
    return JOURNEYS[id];
  }

  /** Facts and account a new journey starts with: nothing for sign-in; the session's sign-in for step-up. */
  async function initialState(journey: Journey, details: InteractionDetails): Promise<{ accountId: string | null; facts: JourneyFacts }> {
    if (journey.id === 'sign-in') return { accountId: null, facts: requestedCredentials(details, undefined) };
    const session = details.session;
    if (!session?.accountId) throw new JourneyExpiredError();
    const account = await accounts.findById(session.accountId);
    if (!account) throw new JourneyExpiredError();
    const prompt = details.prompt.details as { reason?: unknown; needed?: unknown };
    const reason = prompt.reason === 'proofing' ? 'proofing' : 'credentials';
    let needed: readonly CredentialComponent[] = [];
    let level: ProofingLevel | undefined;
    try {
      ({ credentials: needed, proofing: level } = parseVector(String(prompt.needed)));
    } catch (error) {
      if (!(error instanceof VectorSyntaxError)) throw error;
    }
    const proven = credentialsFromAmr(session.amr);
    return {
      accountId: account.id,
      facts: {
        // What this session has already proven, carried so the renewed login does not lose it.
        amr: (session.amr ?? []).filter(isAmr),
        ...accountFacts(account),
        // An identity check is the way on: offer the credentials of the vectors that level will meet.
        ...requestedCredentials(details, reason === 'proofing' && level ? level : account.proofingLevel),
        stepUp: { reason, missing: needed.filter((c) => !proven.has(c)), ...(reason === 'proofing' && level ? { level } : {}) },
        mobileChangeHeld: (await services.mobileChanges.heldFor(dataSource, account.id)) !== undefined,
        hasPasskey: (await services.passkeys.count(account.id)) > 0,
        ...(reason === 'proofing' ? { proofingRoutes: proofingRoutes(services) } : {}),
        // Asked only when it can matter (a P5 account asked for P9), so other step-ups cost no query.
        ...(reason === 'proofing' && level === 'P9' && account.proofingLevel === 'P5'
          ? { photoIdCaseAwaitingReview: (await services.photoIdCases.openCaseFor(account.id)) !== undefined }
          : {}),
      },
    };
  }

  function context(record: JourneyRecord, details: InteractionDetails, request: RequestInfo, account: Account | null): StepContext {
    return {
      uid: record.uid,
      journey: record.journey,
      step: record.step,
      facts: record.facts,
      account,
      clientId: typeof details.params.client_id === 'string' ? details.params.client_id : undefined,
      ip: request.ip,
      services: methodServices,
      log: request.log.child({ journey: record.journey, step: record.step }),
      ...(request.http ? { request: request.http } : {}),
      afterCommit: (task) => {
        const tasks = afterCommitTasks.get(request) ?? [];
        tasks.push(task);
        afterCommitTasks.set(request, tasks);
      },
    };
  }

  /** StepContext.afterCommit's work, by request: run once what the request wrote has committed. */
  const afterCommitTasks = new WeakMap<RequestInfo, (() => Promise<void>)[]>();

  async function runAfterCommit(request: RequestInfo): Promise<void> {
    const tasks = afterCommitTasks.get(request);
    afterCommitTasks.delete(request);
    for (const task of tasks ?? []) {
      try {
        await task();
      } catch (error) {
        // The writes stand; a code text not tried here is the outbox worker's once its hold ends.
        request.log.warn({ err: error }, 'work after a journey commit failed; the committed writes stand');
      }
    }
  }

  async function loadAccount(accountId: string | null, known?: Account | null): Promise<Account | null> {
    if (!accountId) return null;
    if (known?.id === accountId) return known;
    return accounts.findById(accountId);
  }

  function methodAt(journey: Journey, stepId: string): AuthMethod | undefined {
    const step = getStep(journey, stepId);
    if (!isMethodStep(step)) return undefined;
    const method = findMethod(step.method);
    if (!method) throw new JourneyInvariantError(`journey "${journey.id}" step "${stepId}" names the unregistered method "${step.method}"`);
    return method;
  }

  /**
   * A journey write together with the arriving step's `enter` effects (a code sent, an outbox
   * message) in one transaction; a bare position write is one statement, atomic on its own.
   */
  async function writeStep<T>(entering: AuthMethod | undefined, request: RequestInfo, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let written: T;
    try {
      written = await (entering?.enter ? dataSource.transaction(work) : work(dataSource.manager));
    } catch (error) {
      // Rolled back: what enter() asked for after the commit must not happen.
      afterCommitTasks.delete(request);
      throw error;
    }
    await runAfterCommit(request);
    return written;
  }

  function logPath(log: Logger, journey: Journey, path: readonly TakenTransition[]): void {
    for (const transition of path) log.info({ journey: journey.id, transition }, 'journey transition');
  }

  /** Loads the interaction's journey, creating it (and entering its first step) on first sight. */
  async function ensure(details: InteractionDetails, request: RequestInfo): Promise<{ journey: Journey; record: JourneyRecord }> {
    const journey = journeyFor(details);
    const existing = await store.load(details.uid);
    if (existing) {
      if (existing.journey === journey.id) return { journey, record: existing };
      // One interaction has one prompt, so one journey, unless that journey handed over to another
      // (JourneyEntry, e.g. "Create an account"); anything else is not ours to continue.
      const entered = JOURNEYS[existing.journey];
      if (entered.entry?.from !== journey.id) throw new JourneyExpiredError();
      return { journey: entered, record: existing };
    }
    const { accountId, facts } = await initialState(journey, details);
    const account = await loadAccount(accountId);
    const start = startStep(journey, facts);
    const expiresAt = new Date(details.exp * 1000);
    if (expiresAt.getTime() <= Date.now()) throw new JourneyExpiredError();
    const draft: JourneyRecord = { uid: details.uid, journey: journey.id, step: start.step, accountId, facts, version: 0, expiresAt };
    try {
      const entering = methodAt(journey, start.step);
      const record = await writeStep(entering, request, async (manager) => {
        const entered = await entering?.enter?.(context(draft, details, request, account), manager);
        const created = await store.create(manager, { ...draft, facts: { ...facts, ...(entered ?? {}) } });
        // Another request created it first: roll back whatever entering the step wrote (a second code).
        if (!created) throw new JourneyConflictError(details.uid);
        return created;
      });
      request.log.info({ journey: journey.id, step: record.step }, 'journey started');
      logPath(request.log, journey, start.path);
      return { journey, record };
    } catch (error) {
      if (!(error instanceof JourneyConflictError)) throw error;
      const winner = await store.load(details.uid);
      if (!winner) throw new JourneyExpiredError();
      return { journey, record: winner };
    }
  }

  /**
   * The journeys the page of this step may hand the interaction over to, by action name: journeys
   * whose JourneyEntry starts here, and the journey this one was entered from when this step offers
   * the way back. `keep` is the entry's list of facts carried across.
   */
  function entriesAt(journey: Journey, stepId: string, details: InteractionDetails): { action: string; target: Journey; keep: readonly (keyof JourneyFacts)[] }[] {
    const found: { action: string; target: Journey; keep: readonly (keyof JourneyFacts)[] }[] = [];
    for (const candidate of Object.values(JOURNEYS)) {
      const entry = candidate.entry;
      if (!entry || entry.from !== journey.id || !entry.steps.includes(stepId)) continue;
      // A relying party may withhold an entry (allow_registration=false): then it is neither shown nor accepted.
      if (entry.unlessParam && details.params[entry.unlessParam.name] === entry.unlessParam.value) continue;
      found.push({ action: entry.action, target: candidate, keep: entry.keep ?? [] });
    }
    const back = journey.entry?.back;
    if (journey.entry && back?.steps.includes(stepId)) found.push({ action: back.action, target: JOURNEYS[journey.entry.from], keep: journey.entry.keep ?? [] });
    if (journey.restart?.steps.includes(stepId)) found.push({ action: journey.restart.action, target: journey, keep: journey.restart.keep });
    return found;
  }

  /** Replaces the interaction's journey with `target` at its start, entering its first step, in one transaction. */
  async function switchJourney(record: JourneyRecord, target: Journey, keep: readonly (keyof JourneyFacts)[], details: InteractionDetails, request: RequestInfo): Promise<Reply> {
    const kept: Record<string, unknown> = {};
    for (const key of keep) if (record.facts[key] !== undefined) kept[key] = record.facts[key];
    const facts = kept as JourneyFacts;
    const start = startStep(target, facts);
    try {
      const entering = methodAt(target, start.step);
      const updated = await writeStep(entering, request, async (manager) => {
        const arriving: JourneyRecord = { ...record, journey: target.id, step: start.step, accountId: null, facts };
        const entered = await entering?.enter?.(context(arriving, details, request, null), manager);
        return store.advance(manager, record, { journey: target.id, step: start.step, accountId: null, facts: { ...facts, ...(entered ?? {}) } });
      });
      request.log.info({ journey: target.id, from: record.journey, step: updated.step }, 'journey switched');
      logPath(request.log, target, start.path);
      return redirectTo(updated);
    } catch (error) {
      if (!(error instanceof JourneyConflictError)) throw error;
      const current = await store.load(record.uid);
      if (!current) throw new JourneyExpiredError();
      return redirectTo(current);
    }
  }

  function redirectTo(record: JourneyRecord): Reply {
    return { kind: 'redirect', location: stepPath(record.uid, record.step) };
  }

  function finishAt(journey: Journey, record: JourneyRecord): Reply {
    const step = getStep(journey, record.step);
    if (!isEndStep(step)) throw new JourneyInvariantError(`step "${record.step}" is not an end step`);
    if (step.end === 'abort') {
      return { kind: 'finish', result: { error: step.error, error_description: step.description }, mergeWithLastSubmission: false };
    }
    const amr = record.facts.amr ?? [];
    // Never finish a login that claims nothing, or that names no account.
    if (!record.accountId || amr.length === 0) throw new JourneyInvariantError(`journey "${journey.id}" reached "${record.step}" without an account and a proven credential`);
    return { kind: 'finish', result: { login: { accountId: record.accountId, amr: [...amr], remember: true } }, mergeWithLastSubmission: false };
  }

  /** The current step as a page (or, for a login end, the finished interaction). */
  async function present(journey: Journey, record: JourneyRecord, details: InteractionDetails, request: RequestInfo, presentation: Presentation = {}, account?: Account | null): Promise<Reply> {
    const step = getStep(journey, record.step);
    if (isEndStep(step)) {
      if (step.end === 'login') return finishAt(journey, record);
      // What the service's vectors wanted that is missing, so the page can say what to set up.
      const appWouldDo = record.facts.hasAuthenticatorApp !== true && wouldComplete(record.facts, 'Ck') && !wouldComplete(record.facts, 'Cd');
      return { kind: 'render', step: record.step, view: { template: 'cannot-continue.njk', data: { page: step.page, appWouldDo, levelNeeded: record.facts.stepUp?.level, reference: CANNOT_CONTINUE_REFERENCES[step.page] } } };
    }
    const method = methodAt(journey, record.step);
    if (!method) throw new JourneyInvariantError(`journey "${journey.id}" rests on the decision step "${record.step}"`);
    const ctx = context(record, details, request, account === undefined ? await loadAccount(record.accountId) : account);
    const view = await method.present(ctx, presentation);
    const status = view.status ?? (presentation.errors && presentation.errors.length > 0 ? 400 : 200);
    // The other journeys this page may offer (a "Create an account" button posts to `<step>/<action>`).
    const journeyActions = entriesAt(journey, record.step, details).map((entry) => entry.action);
    return { kind: 'render', step: record.step, view: { ...view, data: { ...view.data, journeyActions, journeyBack: offersBack(journey, record.step) }, status } };
  }

  /** Records an event: facts, proven credential, next step; enters that step in the same transaction. */
  async function advance(journey: Journey, record: JourneyRecord, method: AuthMethod, outcome: Extract<Outcome, { kind: 'event' }>, ctx: StepContext, details: InteractionDetails, request: RequestInfo): Promise<Reply> {
    if (record.accountId && outcome.accountId && outcome.accountId !== record.accountId) {
      // A journey is about one account from the moment it knows it; a step-up never changes who signed in.
      throw new JourneyInvariantError(`journey "${journey.id}" cannot change account mid-journey`);
    }
    const accountId = outcome.accountId ?? record.accountId;
    if (outcome.amr && (!method.proves || outcome.event !== method.proves.event || AMR_CREDENTIAL[outcome.amr] !== method.proves.credential)) {
      // Another way to prove the same credential (a remembered device instead of a code), never another credential.
      throw new JourneyInvariantError(`method "${method.id}" cannot prove ${outcome.amr}`);
    }
    const proven = method.proves && method.proves.event === outcome.event ? [outcome.amr ?? method.proves.amr] : [];
    const amr = [...new Set([...(record.facts.amr ?? []), ...proven])];
    const account = await loadAccount(accountId, outcome.account ?? ctx.account);
    const facts: JourneyFacts = {
      ...record.facts,
      ...(outcome.facts ?? {}),
      ...(amr.length > 0 ? { amr } : {}),
      ...(account ? accountFacts(account) : {}),
    };
    const next = nextStep(journey, record.step, outcome.event, facts);
    // Data minimisation: once the journey has ended nothing needs the typed address any more.
    const kept: JourneyFacts = isEndStep(getStep(journey, next.step)) ? withoutEmail(facts) : facts;
    let updated: JourneyRecord;
    try {
      const entering = methodAt(journey, next.step);
      updated = await writeStep(entering, request, async (manager) => {
        const arriving: JourneyRecord = { ...record, step: next.step, accountId, facts: kept };
        const entered = await entering?.enter?.(context(arriving, details, request, account), manager);
        return store.advance(manager, record, { step: next.step, accountId, facts: { ...kept, ...(entered ?? {}) } });
      });
    } catch (error) {
      if (!(error instanceof JourneyConflictError)) throw error;
      // Someone else moved the journey first (double submit): show where it is now.
      request.log.info({ journey: journey.id, step: record.step }, 'journey moved on by another request');
      const current = await store.load(record.uid);
      if (!current) throw new JourneyExpiredError();
      return redirectTo(current);
    }
    logPath(request.log, journey, next.path);
    const arrived = getStep(journey, updated.step);
    if (isEndStep(arrived) && arrived.end === 'login') {
      await audit.record('account.signed_in', { accountId: updated.accountId ?? undefined, clientId: ctx.clientId, ip: ctx.ip, detail: { journey: journey.id, amr: updated.facts.amr } });
      return finishAt(journey, updated);
    }
    const moved = await arriveAt(journey, updated, details, request, account);
    if (moved) return moved;
    // Post/redirect/get: refreshing the next page never re-submits this one.
    return redirectTo(updated);
  }

  /** A step that may be complete without a page (a remembered device) moves on at once; otherwise undefined. */
  async function arriveAt(journey: Journey, record: JourneyRecord, details: InteractionDetails, request: RequestInfo, account: Account | null): Promise<Reply | undefined> {
    const method = methodAt(journey, record.step);
    if (!method?.arrive) return undefined;
    const ctx = context(record, details, request, account);
    const arrival = await method.arrive(ctx);
    return arrival?.kind === 'event' ? advance(journey, record, method, arrival, ctx, details, request) : undefined;
  }

  async function handleOutcome(journey: Journey, record: JourneyRecord, method: AuthMethod, outcome: Outcome, ctx: StepContext, details: InteractionDetails, request: RequestInfo): Promise<Reply> {
    switch (outcome.kind) {
      case 'event':
        return advance(journey, record, method, outcome, ctx, details, request);
      case 'retry': {
        // If a parallel submission (a double click) moved the journey on meanwhile, show that instead.
        const current = await store.load(record.uid);
        if (!current) throw new JourneyExpiredError();
        if (current.version !== record.version) return redirectTo(current);
        return present(journey, record, details, request, outcome, ctx.account);
      }
      case 'page':
        return { kind: 'render', step: record.step, view: outcome.view };
      case 'fail':
        return { kind: 'finish', result: { error: outcome.error, error_description: outcome.description }, mergeWithLastSubmission: false };
    }
  }

  return {
    async show(details, request, requestedStep) {
      const { journey, record } = await ensure(details, request);
      // The interaction's own URL (where oidc-provider sends the browser) shows the current step
      // in place, saving a redirect; any other step's URL goes to the current one.
      if (requestedStep !== undefined && requestedStep !== record.step) {
        const step = getStep(journey, record.step);
        if (isEndStep(step) && step.end === 'login') return finishAt(journey, record);
        return redirectTo(record);
      }
      const account = await loadAccount(record.accountId);
      // Also here, so a journey that starts at such a step (step-up) or was interrupted still moves on.
      const arrived = await arriveAt(journey, record, details, request, account);
      if (arrived) return arrived;
      return present(journey, record, details, request, {}, account);
    },

    async submit(details, request, stepId, body) {
      const { journey, record } = await ensure(details, request);
      if (stepId !== record.step) return redirectTo(record);
      const step = getStep(journey, record.step);
      // The Continue button on a "cannot continue" page, or a repeat of the last code form.
      if (isEndStep(step)) return finishAt(journey, record);
      const method = methodAt(journey, record.step);
      if (!method) throw new JourneyInvariantError(`journey "${journey.id}" rests on the decision step "${record.step}"`);
      const account = await loadAccount(record.accountId);
      const parsed = method.schema.safeParse(body);
      if (!parsed.success) {
        const values: Record<string, string> = {};
        for (const field of method.redisplay) {
          const value = body[field];
          if (typeof value === 'string') values[field] = value;
        }
        return present(journey, record, details, request, { errors: toFieldErrors(parsed.error), values }, account);
      }
      const ctx = context(record, details, request, account);
      const outcome = await method.submit(ctx, parsed.data);
      await runAfterCommit(request);
      return handleOutcome(journey, record, method, outcome, ctx, details, request);
    },

    async uploadsAt(details, request, stepId) {
      const { journey, record } = await ensure(details, request);
      if (stepId !== record.step) return undefined;
      return methodAt(journey, record.step)?.uploads?.(services.config);
    },

    async act(details, request, stepId, actionName) {
      const { journey, record } = await ensure(details, request);
      if (stepId !== record.step) return redirectTo(record);
      const method = methodAt(journey, record.step);
      // Back: a transition of the journey's data like any other, taken only where the step declares it.
      if (actionName === BACK_EVENT && method && offersBack(journey, record.step)) {
        const ctx = context(record, details, request, await loadAccount(record.accountId));
        return advance(journey, record, method, { kind: 'event', event: BACK_EVENT }, ctx, details, request);
      }
      const action = method?.actions && Object.hasOwn(method.actions, actionName) ? method.actions[actionName] : undefined;
      if (!action) {
        const entry = entriesAt(journey, record.step, details).find((candidate) => candidate.action === actionName);
        if (entry) {
          // Starting again abandons an account this journey created and never confirmed.
          if (entry.target === journey && record.accountId) await abandonRegistration(dataSource, record.accountId, { audit, ip: request.ip });
          return switchJourney(record, entry.target, entry.keep, details, request);
        }
      }
      if (!method || !action) return redirectTo(record);
      const ctx = context(record, details, request, await loadAccount(record.accountId));
      const outcome = await action.run(ctx);
      await runAfterCommit(request);
      return handleOutcome(journey, record, method, outcome, ctx, details, request);
    },
  };
}

/** The step's page has a Back link: its data handles the back event. */
function offersBack(journey: Journey, stepId: string): boolean {
  const step = getStep(journey, stepId);
  return isMethodStep(step) && Object.hasOwn(step.on, BACK_EVENT);
}

function withoutEmail(facts: JourneyFacts): JourneyFacts {
  const { email: _email, newMobile: _newMobile, ...rest } = facts;
  return rest;
}

/** What guards need to know about the account, refreshed whenever the journey learns or re-reads it. */
export function accountFacts(account: Account): Pick<JourneyFacts, 'hasVerifiedMobile' | 'hasVerifiedEmail' | 'hasAuthenticatorApp' | 'hasRecoveryCodes' | 'identityLevel'> {
  return {
    identityLevel: account.proofingLevel,
    hasVerifiedMobile: Boolean(account.mobileNumber && account.mobileVerifiedAt),
    hasVerifiedEmail: account.emailVerifiedAt !== null,
    hasAuthenticatorApp: account.authenticatorAddedAt !== null,
    hasRecoveryCodes: account.recoveryCodesLeft > 0,
  };
}

/** The proofing routes this instance can run (method ids), by which edges are configured. */
function proofingRoutes(services: AppServices): string[] {
  return [
    ...(services.demographics.enabled ? ['demographics-match'] : []),
    ...(services.gpOnline.enabled ? ['gp-linkage'] : []),
    ...(services.config.identityChecks.photoId ? ['photo-id'] : []),
  ];
}

/**
 * The credentials of the vectors the authorization request asked for (oidc-provider has already
 * checked and, when absent, defaulted its vtr), of those `level` meets when the account is known.
 * Unreadable or absent: no fact, and the journey offers what it would without one.
 */
function requestedCredentials(details: InteractionDetails, level: ProofingLevel | undefined): Pick<JourneyFacts, 'requestedCredentials'> {
  const vtr = details.params.vtr;
  if (typeof vtr !== 'string') return {};
  try {
    const vectors = parseVtr(vtr).filter((v) => !level || !v.proofing || proofingAtLeast(level, v.proofing));
    return vectors.length > 0 ? { requestedCredentials: vectors.map((v) => v.credentials) } : {};
  } catch (error) {
    if (error instanceof VectorSyntaxError) return {};
    throw error;
  }
}
