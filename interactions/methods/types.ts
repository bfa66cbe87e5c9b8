import type { EntityManager } from 'typeorm';
import type { ZodType } from 'zod';
import type { Account } from '../../entities/account.js';
import type { CredentialComponent, ProofingLevel } from '../../src/provider/vectors.js';
import type { AppServices } from '../../src/services.js';
import type { Config } from '../../src/config/index.js';
import type { Logger } from '../../src/logger.js';
import type { FieldError } from '../../src/web/renderer.js';
import type { Amr, JourneyFacts, JourneyId } from '../engine/types.js';

/**
 * The contract every authentication method meets (Kratos' strategy, Keycloak's authenticator,
 * returned values instead of a side-effecting context). A method owns one page: what it shows,
 * how its form is validated and what the answer means. It never decides where the journey goes
 * next: it emits an event and the journey's data decides.
 */

/** What a method may use. Narrower than AppServices: no provider, no renderer, no CSRF. */
export type MethodServices = Pick<AppServices, 'config' | 'dataSource' | 'accounts' | 'hasher' | 'counters' | 'codes' | 'audit' | 'notifications' | 'digest' | 'mobileChanges' | 'authenticatorApps' | 'passkeys' | 'recoveryCodes' | 'demographics' | 'gpOnline' | 'identityProofing' | 'photoIdCases' | 'photoDecoder'>;

/** A page to render: a template in interactions/views and the data it needs. */
export interface View {
  readonly template: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** HTTP status; 200 unless given. */
  readonly status?: number;
}

/**
 * The HTTP request beyond its form, for the few methods that need it (a remembered device's
 * cookie and its label). Absent when a method runs outside HTTP (tests of the method contract).
 */
export interface StepRequest {
  /** A cookie's raw value, or undefined. */
  cookie(name: string): string | undefined;
  /** Adds one Set-Cookie header (already serialised) to the answer, whatever the answer is. */
  setCookie(header: string): void;
  readonly userAgent: string;
}

/** Everything a method knows about the request it is serving. */
export interface StepContext {
  /** The oidc-provider interaction uid; also the journey id that binds security codes (B1). */
  readonly uid: string;
  readonly journey: JourneyId;
  readonly step: string;
  readonly facts: JourneyFacts;
  /** The account this journey is about, once known (after the password, or from the session on step-up). */
  readonly account: Account | null;
  readonly clientId: string | undefined;
  /** The client's address as Koa sees it (X-Forwarded-For only when config.trustProxy). */
  readonly ip: string;
  readonly services: MethodServices;
  readonly log: Logger;
  readonly request?: StepRequest;
  /**
   * Work that must wait until this request's writes are durable, and must still happen before the
   * answer: a security code text tried at once, so its page can say whether it went (security-bar
   * G3). The runner runs it after the step's transaction commits (enter) or after the method's
   * answer (submit, actions, which commit their own transactions); never after a rollback.
   */
  afterCommit(task: () => Promise<void>): void;
}

/** How a step is shown again after a submission that did not move the journey on. */
export interface Presentation {
  readonly errors?: readonly FieldError[];
  /** Safe-to-show values typed by the person (never a password or code). */
  readonly values?: Readonly<Record<string, string>>;
  /** A confirmation shown above the form, e.g. "We have sent a new code". */
  readonly notice?: string;
}

/**
 * What a submission means: a closed set, like Keycloak's FlowStatus.
 * - `event`: the method is done; the journey picks the next step. `facts` and `accountId` are recorded.
 * - `retry`: show this step again (errors → 400 with an error summary; no errors → 200, e.g. after a resend).
 * - `page`: show a different page without moving (locked, too many requests).
 * - `fail`: end the interaction; the relying party receives the OAuth error.
 */
export type Outcome<E extends string = string> =
  | {
      readonly kind: 'event';
      readonly event: E;
      readonly facts?: Partial<JourneyFacts>;
      readonly accountId?: string;
      /** The account behind accountId when the method has just read it, so the runner need not read it again. */
      readonly account?: Account;
      /**
       * What this event proved when it is not `proves.amr`: a method that can prove its credential
       * two ways (the sms-code step accepts a remembered device instead of a code, both Cd).
       * Must map to the same credential as `proves` (runner checks).
       */
      readonly amr?: Amr;
    }
  | ({ readonly kind: 'retry' } & Presentation)
  | { readonly kind: 'page'; readonly view: View }
  | { readonly kind: 'fail'; readonly error: 'access_denied'; readonly description: string };

/** A named extra action on a step (POST /interaction/:uid/:step/:action), e.g. "Send a new code". */
export interface SideAction<E extends string = string> {
  run(ctx: StepContext): Promise<Outcome<E>>;
}

export interface AuthMethod<Body = unknown, E extends string = string> {
  /** kebab-case, equal to the method's folder name. */
  readonly id: string;
  /**
   * What a successful answer proves: the credential component (vectors of trust) and the amr value
   * the login result carries. Absent for methods that only identify (the email step proves nothing).
   */
  readonly proves?: { readonly credential: CredentialComponent; readonly amr: Amr; readonly event: E };
  /**
   * What a successful answer establishes about who the person is, for a proofing route (the P5
   * demographics match; GP linkage and photo ID would be others). The method records the level on
   * the account itself; the event lets the journey go on. Like `proves`, it must lock after guesses.
   */
  readonly proofs?: { readonly level: Exclude<ProofingLevel, 'P0'>; readonly event: E };
  /** Every event `submit` or an action can emit; journey-lint checks each is handled wherever the method is used. */
  readonly events: readonly E[];
  /** The form, validated before `submit` sees it; its messages are the page's error messages. */
  readonly schema: ZodType<Body>;
  /** Fields that may be shown again after a validation error (never secrets). */
  readonly redisplay: readonly string[];
  /**
   * Runs once when the journey arrives at this step, inside the transaction that moves the journey,
   * so its writes (a security code and its text message) happen exactly once per arrival and are
   * rolled back if the move loses a race. Use only `manager` for database work here.
   */
  enter?(ctx: StepContext, manager: EntityManager): Promise<Partial<JourneyFacts> | void>;
  /**
   * Runs after the journey has come to rest at this step (after the moving transaction committed).
   * An event outcome completes the step at once, without showing a page (a remembered device).
   */
  arrive?(ctx: StepContext): Promise<Outcome<E> | undefined>;
  present(ctx: StepContext, presentation: Presentation): Promise<View>;
  /**
   * A step whose form sends files (multipart/form-data, read by src/web/multipart.ts): the text
   * fields it takes besides `_csrf`, and each file field's size limit. Any other part is refused,
   * and a file over its limit ends the request with 413 before the rest of it is read. Each file
   * reaches `submit` as an Upload; its name and declared type are never kept. The limits are
   * configuration (PHOTO_ID_MAX_*), so the spec is made from it.
   */
  readonly uploads?: (config: Config) => UploadSpec;
  submit(ctx: StepContext, body: Body): Promise<Outcome<E>>;
  readonly actions?: Readonly<Record<string, SideAction<E>>>;
}

export interface UploadSpec {
  readonly fields: readonly string[];
  readonly files: Readonly<Record<string, { readonly maxBytes: number }>>;
}

/** A file as a method's schema receives it: the bytes only. */
export interface Upload {
  readonly kind: 'upload';
  readonly bytes: Buffer;
}

/** Declares a method with its body and event types inferred (and checked) from its parts. */
export function defineMethod<Body, E extends string, const Id extends string>(method: AuthMethod<Body, E> & { readonly id: Id }): AuthMethod<Body, E> & { readonly id: Id } {
  // The id keeps its literal type, so MethodId (registry.ts) is the union of ids and a record keyed by it must list them all.
  return method;
}
