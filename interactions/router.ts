import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { BadRequestError, CsrfError, JourneyExpiredError, PayloadTooLargeError } from '../src/errors.js';
import { withReadAhead } from '../src/db/read-ahead.js';
import { isCrossSiteRequest } from '../src/security/csrf.js';
import type { AppServices } from '../src/services.js';
import { ERROR_REFERENCES } from '../src/web/error-references.js';
import { readMultipart } from '../src/web/multipart.js';
import { CONSENT_STEP, decideConsent, showConsent } from './consent/consent.js';
import { createInteractionReadAhead } from './read-ahead.js';
import { createJourneyRunner, stepPath, type InteractionDetails, type Reply, type RequestInfo } from './runner.js';
import { photoIdLimitsText } from './methods/photo-id/index.js';

/** Form posts are a handful of short fields; anything bigger is not one of ours. */
const FORM_LIMIT = '8kb';

/**
 * The interaction pages, mounted on the oidc-provider instance (`provider.use(router.routes())`)
 * so they live under /interaction/:uid, where oidc-provider's interaction cookie is sent.
 *
 * GET  /interaction/:uid[/:step]        the current step of the journey (or the consent page)
 * POST /interaction/:uid/:step          that step's form, if it is the current step
 * POST /interaction/:uid/:step/:action  a side action of the current step (e.g. resend)
 *
 * Every answer is `Cache-Control: no-store`. Every POST is checked for a cross-site origin and for
 * the CSRF token bound to the interaction before anything else happens (C5).
 */
export function createInteractionRouter(services: AppServices): Router {
  const { provider, renderer, csrf, config } = services;
  const runner = createJourneyRunner(services);
  const readAhead = createInteractionReadAhead(services.dataSource);
  const expectedOrigin = new URL(config.issuer).origin;
  const router = new Router({ prefix: '/interaction/:uid' });

  const forms = bodyParser({ enableTypes: ['form'], formLimit: FORM_LIMIT, encoding: 'utf-8' });

  function requestInfo(ctx: Context): RequestInfo {
    return {
      ip: ctx.ip,
      log: ctx.state.log ?? services.logger,
      http: {
        cookie: (name) => ctx.cookies.get(name, { signed: false }),
        // Appended to the raw response so it survives oidc-provider finishing the interaction.
        setCookie: (header) => ctx.append('Set-Cookie', header),
        userAgent: ctx.get('user-agent'),
      },
    };
  }

  function page(ctx: Context, status: number, template: string, data: Record<string, unknown> = {}): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderer.render(template, { ...data, cspNonce: ctx.state.cspNonce });
  }

  /** no-store on everything, and the person-facing pages for an expired or forged request. */
  const guard: Middleware = async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    try {
      await next();
    } catch (error) {
      if (error instanceof oidcErrors.SessionNotFound || error instanceof JourneyExpiredError) {
        requestInfo(ctx).log.info({ reason: error instanceof JourneyExpiredError ? 'journey' : 'interaction' }, 'interaction session expired or missing');
        page(ctx, 400, 'session-expired.njk');
        return;
      }
      if (error instanceof PayloadTooLargeError) {
        requestInfo(ctx).log.info({ field: error.field }, 'upload refused: over its size limit');
        page(ctx, 413, 'upload-too-large.njk', { stepHref: ctx.path, reference: ERROR_REFERENCES.photoIdUploadTooLarge, limits: photoIdLimitsText(config.identityChecks.photoIdLimits) });
        return;
      }
      if (error instanceof CsrfError) {
        requestInfo(ctx).log.warn('interaction form rejected: cross-site or bad CSRF token');
        page(ctx, 403, 'forbidden.njk');
        return;
      }
      throw error;
    }
  };

  /** The interaction behind this URL: the cookie's interaction must be the one the URL names. */
  async function details(ctx: Context): Promise<InteractionDetails> {
    await readAhead(String(ctx.params.uid));
    const found = await provider.interactionDetails(ctx.req, ctx.res);
    if (found.uid !== ctx.params.uid) throw new JourneyExpiredError();
    return found;
  }

  /** C5: reject a form posted from another site, or without this interaction's token, before it is read further. */
  const checkForm: Middleware = async (ctx: Context, next: Next) => {
    const body = formBody(ctx);
    const token = typeof body._csrf === 'string' ? body._csrf : '';
    if (isCrossSiteRequest(ctx.headers, expectedOrigin) || !csrf.verify(ctx.params.uid, token)) throw new CsrfError();
    await next();
  };

  async function reply(ctx: Context, answer: Reply, interaction: InteractionDetails): Promise<void> {
    switch (answer.kind) {
      case 'render': {
        const uid = String(ctx.params.uid);
        page(ctx, answer.view.status ?? 200, answer.view.template, { ...answer.view.data, formAction: stepPath(uid, answer.step), csrfToken: csrf.token(uid) });
        return;
      }
      case 'redirect':
        ctx.status = 303;
        ctx.redirect(answer.location);
        return;
      case 'finish': {
        // provider.interactionFinished, on the interaction this request has already read (it would
        // read it again): store the result on it and send the browser to oidc-provider's resume URL.
        const { result, mergeWithLastSubmission } = answer;
        interaction.result = mergeWithLastSubmission && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
        await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
        ctx.status = 303;
        ctx.redirect(interaction.returnTo);
        return;
      }
    }
  }

  async function show(ctx: Context, requestedStep: string | undefined): Promise<void> {
    const interaction = await details(ctx);
    if (interaction.prompt.name === 'consent') {
      if (requestedStep !== undefined) return reply(ctx, { kind: 'redirect', location: `/interaction/${encodeURIComponent(interaction.uid)}` }, interaction);
      return reply(ctx, await showConsent(services, interaction), interaction);
    }
    return reply(ctx, await runner.show(interaction, requestInfo(ctx), requestedStep), interaction);
  }

  router.use(guard);
  // Each request has its own read-ahead scope (see read-ahead.ts), so no row outlives the request.
  router.use((_ctx, next) => withReadAhead(next));

  router.get('/', (ctx) => show(ctx, undefined));
  router.get('/:step', (ctx) => show(ctx, ctx.params.step));
  // A bookmarked or typed action URL never acts on GET; it just shows where the journey is.
  router.get('/:step/:action', (ctx) => show(ctx, ''));

  /**
   * A step that takes files (photo ID) posts multipart/form-data; no other step reads it. The origin
   * is checked before anything, the journey is asked which files its current step takes, and the
   * body is streamed with that step's limits; the CSRF token is checked as it arrives (multipart.ts).
   */
  const uploads: Middleware = async (ctx: Context, next: Next) => {
    if (!ctx.is('multipart/form-data')) return next();
    if (isCrossSiteRequest(ctx.headers, expectedOrigin)) throw new CsrfError();
    const interaction = await details(ctx);
    const step = ctx.params.step!;
    const spec = interaction.prompt.name === 'consent' ? undefined : await runner.uploadsAt(interaction, requestInfo(ctx), step);
    if (!spec) throw new BadRequestError('this form does not take files');
    const uid = String(ctx.params.uid);
    const body = await readMultipart(ctx.req, ctx.headers, { ...spec, verifyCsrf: (token) => csrf.verify(uid, token) });
    return reply(ctx, await runner.submit(interaction, requestInfo(ctx), step, body), interaction);
  };

  router.post('/:step', uploads, forms, checkForm, async (ctx) => {
    const interaction = await details(ctx);
    const step = ctx.params.step!;
    if (interaction.prompt.name === 'consent') {
      if (step !== CONSENT_STEP) return reply(ctx, { kind: 'redirect', location: `/interaction/${encodeURIComponent(interaction.uid)}` }, interaction);
      return reply(ctx, await decideConsent(services, interaction, requestInfo(ctx), formBody(ctx)), interaction);
    }
    return reply(ctx, await runner.submit(interaction, requestInfo(ctx), step, formBody(ctx)), interaction);
  });

  router.post('/:step/:action', forms, checkForm, async (ctx) => {
    const interaction = await details(ctx);
    if (interaction.prompt.name === 'consent') return reply(ctx, { kind: 'redirect', location: `/interaction/${encodeURIComponent(interaction.uid)}` }, interaction);
    return reply(ctx, await runner.act(interaction, requestInfo(ctx), ctx.params.step!, ctx.params.action!), interaction);
  });

  return router;
}

/** The parsed form, as plain string fields (repeated fields arrive as arrays and fail validation). */
function formBody(ctx: Context): Record<string, unknown> {
  const body: unknown = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
