import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Context, Middleware, Next } from 'koa';
import { send } from '@koa/send';
import { CareloginError, isDatabaseConnectionError } from '../errors.js';
import { pathOnly, requestScope, type Logger } from '../logger.js';
import type { Renderer } from './renderer.js';
import { NHSUK_ASSETS_DIR } from './renderer.js';
import { PROJECT_ROOT } from '../project-root.js';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    cspNonce: string;
    log: Logger;
    /** Set by oidc-provider's server_error listener so the outage handler can answer 503. */
    protocolServerError?: Error;
  }
}

/** Request id (added to every log line by the logger's mixin), one access-log line (path only: query strings can carry codes). */
export function requestContext(logger: Logger): Middleware {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = /^[\w-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.cspNonce = randomBytes(16).toString('base64');
    ctx.state.log = logger;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await requestScope.run({ requestId }, next);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      ctx.state.log.info({ method: ctx.method, path: pathOnly(ctx.originalUrl), status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}

/** Headers from security-bar C6: CSP with nonces, no framing, no sniffing, no referrer, HSTS on https. */
export function securityHeaders(options: { https: boolean }): Middleware {
  const policy = (nonce: string, hashes: readonly string[]): string => [
    "default-src 'self'",
    ["script-src 'self'", `'nonce-${nonce}'`, ...hashes].join(' '),
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return async (ctx: Context, next: Next) => {
    const nonce = ctx.state.cspNonce;
    // Set before the request is handled as well: oidc-provider adds the hash of the inline script of
    // its self-submitting forms (logout without a session) to a policy it finds, and we keep it.
    ctx.set('Content-Security-Policy', policy(nonce, []));
    await next();
    const hashes = ctx.response.get('Content-Security-Policy').match(/'sha256-[A-Za-z0-9+/=]+'/g) ?? [];
    // A route serving something other than our pages (back-office evidence) may set a stricter policy.
    const own = ctx.state.contentSecurityPolicy;
    ctx.set('Content-Security-Policy', typeof own === 'string' ? own : policy(nonce, hashes));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form posts,
    // which the CSRF origin check must refuse. Nothing (codes in URLs included) leaks to other origins.
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    ctx.remove('X-Powered-By');
  };
}

/**
 * Turns "the database is not there" into 503 + Retry-After, whether it surfaced as a thrown error in our
 * routes or inside oidc-provider (which reports it through its server_error event). Other unexpected
 * errors become a generic 500 page or JSON with the request id, never a stack trace.
 */
export function errorHandler(renderer: Renderer): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      const protocolError = ctx.state.protocolServerError;
      if (protocolError && isDatabaseConnectionError(protocolError)) respondUnavailable(ctx, renderer);
    } catch (error) {
      if (isDatabaseConnectionError(error)) {
        ctx.state.log.warn({ err: error }, 'database unavailable');
        respondUnavailable(ctx, renderer);
        return;
      }
      const known = error instanceof CareloginError ? error : undefined;
      // Koa and its body parser throw http-errors (413 too large, 415, 400 bad JSON): keep those statuses.
      const httpError = error as { status?: unknown; expose?: unknown };
      const clientStatus = typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 500 && httpError.expose === true ? httpError.status : undefined;
      const status = known?.status ?? clientStatus ?? 500;
      if (status >= 500) ctx.state.log.error({ err: error }, 'unhandled error');
      ctx.status = status;
      if (known instanceof CareloginError && 'retryAfterSeconds' in known) ctx.set('Retry-After', String((known as { retryAfterSeconds: number }).retryAfterSeconds));
      const message = known?.expose
        ? known.message
        : clientStatus === 413
          ? 'What you sent was too large.'
          : clientStatus
            ? 'Sorry, we could not understand that request.'
            : 'Sorry, there is a problem with the service. Try again later.';
      if (wantsJson(ctx)) {
        ctx.body = { error: known?.code ?? 'server_error', error_description: message, request_id: ctx.state.requestId };
      } else {
        ctx.type = 'html';
        ctx.body = renderer.render('error.njk', {
          title: status >= 500 ? 'Sorry, there is a problem with the service' : 'There is a problem',
          message,
          reference: ctx.state.requestId,
          cspNonce: ctx.state.cspNonce,
        });
      }
    }
  };
}

function respondUnavailable(ctx: Context, renderer: Renderer): void {
  ctx.status = 503;
  ctx.set('Retry-After', '5');
  ctx.set('Cache-Control', 'no-store');
  const location = ctx.response.get('Location');
  ctx.remove('Location');
  if (location || wantsJson(ctx)) {
    ctx.body = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Try again shortly.', request_id: ctx.state.requestId };
    return;
  }
  ctx.type = 'html';
  ctx.body = renderer.render('error.njk', {
    title: 'Sorry, the service is unavailable',
    message: 'You will be able to use the service again shortly. Try again in a few moments.',
    reference: ctx.state.requestId,
    cspNonce: ctx.state.cspNonce,
  });
}

function wantsJson(ctx: Context): boolean {
  return ctx.path === '/token' || ctx.path === '/userinfo' || ctx.path.startsWith('/.well-known/') || ctx.accepts(['html', 'json']) === 'json';
}

const OWN_STATIC_DIR = path.join(PROJECT_ROOT, 'src', 'web', 'static');
/** @simplewebauthn/browser's self-contained build (global SimpleWebAuthnBrowser), for passkey pages. */
const SIMPLEWEBAUTHN_BROWSER_DIR = path.join(PROJECT_ROOT, 'node_modules', '@simplewebauthn', 'browser', 'dist', 'bundle');

let stylesheet: string | undefined;

/**
 * nhsuk-frontend's compiled CSS, minus its @font-face rules: they load Frutiger from a third-party
 * host, which sign-in pages must not call (privacy, and our CSP blocks it). Pages use the design
 * system's own fallback font stack (Arial).
 */
function ownStylesheet(): string {
  stylesheet ??= readFileSync(path.join(NHSUK_ASSETS_DIR, 'nhsuk-frontend.min.css'), 'utf8').replace(/@font-face\{[^}]*\}/g, '');
  return stylesheet;
}

/** Serves the NHS design system's CSS, JS and icons, our own small scripts, and the WebAuthn browser library, under /assets. */
export function assets(): Middleware {
  return async (ctx: Context, next: Next) => {
    if (!ctx.path.startsWith('/assets/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const name = ctx.path.slice('/assets/'.length);
    if (name.includes('..')) return next();
    const options = { immutable: false, maxage: 86400 * 1000 };
    if (name === 'init.js' || name === 'passkey.js') {
      await send(ctx, name, { root: OWN_STATIC_DIR, ...options });
    } else if (name === 'simplewebauthn-browser.js') {
      await send(ctx, 'index.umd.min.js', { root: SIMPLEWEBAUTHN_BROWSER_DIR, ...options });
    } else if (name === 'nhsuk-frontend.min.css') {
      ctx.type = 'text/css';
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = ownStylesheet();
    } else if (name === 'nhsuk-frontend.min.js') {
      await send(ctx, name, { root: NHSUK_ASSETS_DIR, ...options });
    } else if (name.startsWith('images/') || name === 'manifest.json') {
      await send(ctx, name, { root: path.join(NHSUK_ASSETS_DIR, 'assets'), ...options });
    } else {
      return next();
    }
  };
}

/** Last in the chain: a request nothing answered gets the NHS-styled "Page not found" (or JSON). */
export function notFound(renderer: Renderer): Middleware {
  return async (ctx: Context, next: Next) => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    ctx.status = 404;
    if (wantsJson(ctx)) {
      ctx.body = { error: 'not_found', error_description: 'There is nothing at this address.' };
      return;
    }
    ctx.type = 'html';
    ctx.body = renderer.render('not-found.njk', { title: 'Page not found', cspNonce: ctx.state.cspNonce });
  };
}
