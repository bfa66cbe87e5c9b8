import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { ProofingLevel } from '../../entities/account.js';
import { formatNhsNumber } from '../accounts/nhs-number.js';
import { formatUkMobile } from '../accounts/uk-mobile.js';
import { ConfigError } from '../errors.js';
import { isCrossSiteRequest } from '../security/csrf.js';
import type { AppServices } from '../services.js';
import { createLinkPages } from '../web/link-pages.js';
import { parseTestUserRequest, TEST_USER_LEVELS, TestUserRequestError, type TestUserProblem } from './request.js';
import type { TestUserActor, TestUserDetails, TestUsers } from './test-users.js';

/**
 * Test users in a browser and for automated suites (docs/personas.md "Your own test users", D27).
 * Development and test only: this factory refuses in production, and config refuses DEV_TEST_USERS there.
 *
 *   GET  /dev/test-users                     the list, and the form to make one
 *   POST /dev/test-users/new                 makes one; shows its details and password once
 *   POST /dev/test-users/set-level|reset|remove   (form: email[, level]) back to the list, saying what changed
 *
 *   GET  /dev/test-users/api                 { testUsers: [...] }
 *   POST /dev/test-users/api                 the request as JSON → 201 { ...details, password }
 *   POST /dev/test-users/api/set-level|reset|remove   { email[, level] } → the details ({ removed: true })
 *
 * The pages carry a CSRF token and refuse cross-site posts (C5). The API takes only
 * `Content-Type: application/json`, which no cross-site HTML form can send (a script would need a CORS
 * preflight, which carelogin never grants), and also refuses requests a browser marks as cross-site.
 */
const FORM_FIELDS = ['email', 'password', 'nhsNumber', 'givenName', 'familyName', 'birthdate', 'postcode', 'mobile', 'gpOdsCode', 'gpUserId', 'gpLinkageKey'] as const;
const FORM_FLAGS = ['gpOnline', 'phonePdsMatched', 'fixedCode', 'inRegister'] as const;
const BINDING = 'dev-test-users';

const ACTIONS = ['set-level', 'reset', 'remove'] as const;
type Action = (typeof ACTIONS)[number];

const DONE_TEXT: Record<Action, (email: string, level?: string) => string> = {
  'set-level': (email, level) => `${email} is now ${level ?? 'at its new level'}.`,
  reset: (email) => `${email} is back as it was made, and its locks are lifted.`,
  remove: (email) => `${email} and its account are deleted.`,
};

/** The form's fields as the request schema takes them: blanks are "make one up", a ticked box is true. */
export function requestFromForm(body: Record<string, unknown>): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  if (typeof body.level === 'string' && body.level !== '') request.level = body.level;
  for (const field of FORM_FIELDS) {
    const value = body[field];
    // Passwords are never trimmed (X3); a blank one means the personas' password.
    if (typeof value === 'string' && value.trim() !== '') request[field] = field === 'password' ? value : value.trim();
  }
  for (const flag of FORM_FLAGS) if (body[flag] === 'yes') request[flag] = true;
  return request;
}

function detailsView(user: TestUserDetails): Record<string, unknown> {
  return { ...user, nhsNumberText: formatNhsNumber(user.nhsNumber), mobileText: formatUkMobile(user.mobile) };
}

export function createTestUsersRouter(services: AppServices, testUsers: TestUsers): Router {
  const { config, csrf } = services;
  if (config.mode === 'production') throw new ConfigError('The test users page makes accounts with known passwords and cannot be used in production');
  if (!config.devTestUsers) throw new ConfigError('The test users page is turned off (DEV_TEST_USERS=false); do not mount its router');
  const expectedOrigin = new URL(config.issuer).origin;
  const { page, body, forms, guard, checkForm } = createLinkPages(services, { what: 'test users', defaults: { personaCode: config.personas.securityCode } });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', encoding: 'utf-8' });
  const router = new Router();

  const actor = (ctx: Context, by: 'dev-page' | 'dev-api'): TestUserActor => ({ by, ip: ctx.ip });

  async function showList(ctx: Context, status: number, data: Record<string, unknown> = {}): Promise<void> {
    const all = await testUsers.list();
    page(ctx, status, 'dev-test-users/index.njk', { csrfToken: csrf.token(BINDING), levels: TEST_USER_LEVELS, testUsers: all.map(detailsView), values: {}, ...data });
  }

  router.use('/dev/test-users', guard);

  router.get('/dev/test-users', async (ctx) => {
    ctx.set('X-Robots-Tag', 'noindex');
    const done = typeof ctx.query.done === 'string' && (ACTIONS as readonly string[]).includes(ctx.query.done) ? (ctx.query.done as Action) : undefined;
    const email = typeof ctx.query.email === 'string' ? ctx.query.email.slice(0, 320) : '';
    const level = typeof ctx.query.level === 'string' && (TEST_USER_LEVELS as readonly string[]).includes(ctx.query.level) ? ctx.query.level : undefined;
    await showList(ctx, 200, { done: done ? DONE_TEXT[done](email, level) : undefined });
  });

  router.post('/dev/test-users/new', forms, checkForm(() => BINDING), async (ctx) => {
    const form = body(ctx);
    try {
      const { testUser, password } = await testUsers.add(parseTestUserRequest(requestFromForm(form)), actor(ctx, 'dev-page'));
      page(ctx, 201, 'dev-test-users/created.njk', { testUser: detailsView(testUser), password });
    } catch (error) {
      if (!(error instanceof TestUserRequestError)) throw error;
      // What was typed comes back (never the password), with the problems beside their fields.
      const values = Object.fromEntries([...FORM_FIELDS.filter((f) => f !== 'password'), 'level', ...FORM_FLAGS].map((f) => [f, typeof form[f] === 'string' ? form[f] : undefined]));
      await showList(ctx, 400, { errors: error.problems, values });
    }
  });

  for (const action of ACTIONS) {
    router.post(`/dev/test-users/${action}`, forms, checkForm(() => BINDING), async (ctx) => {
      const form = body(ctx);
      const email = typeof form.email === 'string' ? form.email.trim() : '';
      const level = typeof form.level === 'string' && (TEST_USER_LEVELS as readonly string[]).includes(form.level) ? (form.level as ProofingLevel) : undefined;
      const problems: TestUserProblem[] = [];
      let found: unknown;
      try {
        if (action === 'set-level' && !level) problems.push({ field: `level-${form.row ?? ''}`, text: 'Select the new proofing level' });
        else found = await perform(action, email, level, actor(ctx, 'dev-page'));
      } catch (error) {
        if (!(error instanceof TestUserRequestError)) throw error;
        problems.push(...error.problems.map((p) => ({ field: 'test-users', text: p.text })));
      }
      if (problems.length === 0 && !found) problems.push({ field: 'test-users', text: 'No test user has that email address' });
      if (problems.length > 0) return showList(ctx, 400, { errors: problems });
      ctx.status = 303;
      ctx.redirect(`/dev/test-users?done=${action}&email=${encodeURIComponent(email)}${level ? `&level=${level}` : ''}`);
    });
  }

  async function perform(action: Action, email: string, level: ProofingLevel | undefined, by: TestUserActor): Promise<TestUserDetails | boolean | undefined> {
    if (action === 'set-level') return testUsers.setLevel(email, level!, by);
    if (action === 'reset') return testUsers.reset(email, by);
    return testUsers.remove(email, by);
  }

  /** The API's guard: JSON only (no cross-site form can send it), and nothing a browser marks cross-site. */
  async function apiOnly(ctx: Context, next: Next): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    if (isCrossSiteRequest(ctx.headers, expectedOrigin)) {
      ctx.status = 403;
      ctx.body = { error: 'forbidden', error_description: 'Cross-site requests are refused' };
      return;
    }
    if (ctx.method === 'POST' && !ctx.is('application/json')) {
      ctx.status = 415;
      ctx.body = { error: 'unsupported_media_type', error_description: 'Send the request as Content-Type: application/json' };
      return;
    }
    await next();
  }

  function requestBody(ctx: Context): Record<string, unknown> {
    const parsed: unknown = (ctx.request as { body?: unknown }).body;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  }

  function refused(ctx: Context, error: unknown): void {
    if (!(error instanceof TestUserRequestError)) throw error;
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', problems: error.problems };
  }

  router.get('/dev/test-users/api', apiOnly, async (ctx) => {
    ctx.body = { testUsers: await testUsers.list() };
  });

  router.post('/dev/test-users/api', apiOnly, json, async (ctx) => {
    try {
      const { testUser, password } = await testUsers.add(parseTestUserRequest(requestBody(ctx)), actor(ctx, 'dev-api'));
      ctx.status = 201;
      ctx.body = { ...testUser, password };
    } catch (error) {
      refused(ctx, error);
    }
  });

  for (const action of ACTIONS) {
    router.post(`/dev/test-users/api/${action}`, apiOnly, json, async (ctx) => {
      const request = requestBody(ctx);
      const email = typeof request.email === 'string' ? request.email : '';
      const level = typeof request.level === 'string' && (TEST_USER_LEVELS as readonly string[]).includes(request.level) ? (request.level as ProofingLevel) : undefined;
      if (!email || (action === 'set-level' && !level)) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', problems: [{ field: email ? 'level' : 'email', text: email ? 'Give level: P0, P5 or P9' : 'Give email' }] };
        return;
      }
      try {
        const result = await perform(action, email, level, actor(ctx, 'dev-api'));
        if (!result) {
          ctx.status = 404;
          ctx.body = { error: 'not_found', error_description: 'No test user has that email address' };
          return;
        }
        ctx.body = result === true ? { removed: true } : result;
      } catch (error) {
        refused(ctx, error);
      }
    });
  }

  return router;
}
