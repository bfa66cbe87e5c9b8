import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { CsrfError } from '../errors.js';
import { isCrossSiteRequest } from '../security/csrf.js';
import type { AppServices } from '../services.js';

/**
 * What the pages behind an emailed or texted link share ("Forgotten your password?", cancelling a
 * held mobile change): they work in any browser, outside /interaction, so they carry their own
 * CSRF token bound to the link, answer a forged form with the "could not accept that form" page
 * (C5), and are never cached (the token in the URL never leaves our origin: Referrer-Policy
 * same-origin, and `pathOnly` keeps it out of the logs).
 */
export interface LinkPages {
  /** Renders a page with this status; adds the CSP nonce. */
  page(ctx: Context, status: number, template: string, data?: Record<string, unknown>): void;
  /** The parsed form, or {} when there is none. */
  body(ctx: Context): Record<string, unknown>;
  /** Form bodies, small. */
  readonly forms: Middleware;
  /** no-store, and the forged-form page for a CsrfError. Mount on the link's paths. */
  readonly guard: Middleware;
  /** Refuses a cross-site post, or one without this binding's CSRF token. */
  checkForm(binding: (ctx: Context) => string): Middleware;
}

export function createLinkPages(services: AppServices, options: { what: string; defaults?: Record<string, unknown> }): LinkPages {
  const { config, renderer, csrf } = services;
  const expectedOrigin = new URL(config.issuer).origin;

  function page(ctx: Context, status: number, template: string, data: Record<string, unknown> = {}): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderer.render(template, { ...options.defaults, ...data, cspNonce: ctx.state.cspNonce });
  }

  function body(ctx: Context): Record<string, unknown> {
    const parsed: unknown = (ctx.request as { body?: unknown }).body;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  }

  return {
    page,
    body,
    forms: bodyParser({ enableTypes: ['form'], formLimit: '8kb', encoding: 'utf-8' }),
    async guard(ctx: Context, next: Next) {
      ctx.set('Cache-Control', 'no-store');
      try {
        await next();
      } catch (error) {
        if (!(error instanceof CsrfError)) throw error;
        (ctx.state.log ?? services.logger).warn(`${options.what} form rejected: cross-site or bad CSRF token`);
        page(ctx, 403, 'forbidden.njk');
      }
    },
    checkForm(binding) {
      return async (ctx: Context, next: Next) => {
        if (isCrossSiteRequest(ctx.headers, expectedOrigin) || !csrf.verify(binding(ctx), body(ctx)._csrf)) throw new CsrfError();
        await next();
      };
    },
  };
}
