import Router from '@koa/router';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/index.js';
import { minutesText } from './durations.js';
import type { Renderer } from './renderer.js';
import { CREDENTIAL_COMPONENTS, PROOFING_LEVELS } from '../provider/vectors.js';
import { trustmarkUrl } from '../provider/claims.js';
import { withTimeout } from '../with-timeout.js';

export interface PublicRouteDeps {
  readonly config: Config;
  readonly dataSource: DataSource;
  readonly renderer: Renderer;
  /** Flipped to false when shutdown starts, so load balancers stop sending traffic before we stop. */
  readonly isAcceptingTraffic: () => boolean;
  readonly personas?: readonly { key: string; email: string; password: string; proofingLevel: string; description: string }[];
}

/** The start page, health checks and the trustmark: everything outside the protocol and the journeys. */
export function createPublicRouter(deps: PublicRouteDeps): Router {
  const { config, dataSource, renderer } = deps;
  const router = new Router();

  router.get('/health/live', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/health/ready', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (!deps.isAcceptingTraffic()) {
      ctx.status = 503;
      ctx.body = { status: 'shutting-down' };
      return;
    }
    try {
      await withTimeout(dataSource.query('SELECT 1'), config.database.connectTimeoutMs, () => new Error('database readiness check timed out'));
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'database-unavailable' };
    }
  });

  // A parameter route: the host segment can hold "host:port", which a literal path would misread.
  const trustmarkHost = new URL(trustmarkUrl(config.issuer)).pathname.split('/').pop();
  router.get('/trustmark/:host', (ctx) => {
    if (ctx.params.host !== trustmarkHost) return;
    ctx.body = {
      idp: `${config.issuer}/`,
      trustmark_provider: `${config.issuer}/`,
      P: [...PROOFING_LEVELS],
      C: [...CREDENTIAL_COMPONENTS],
    };
  });

  // The pages every footer links to. Plain content: a deployment replaces them with its own.
  for (const [path, template, title] of [
    ['/help', 'help.njk', 'Help using carelogin'],
    ['/terms', 'terms.njk', 'Terms of use'],
    ['/privacy', 'privacy.njk', 'Privacy notice'],
  ] as const) {
    router.get(path, (ctx) => {
      ctx.type = 'html';
      ctx.body = renderer.render(template, { title, cspNonce: ctx.state.cspNonce, resetLinkLasts: minutesText(config.ttl.resetLink) });
    });
  }

  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = renderer.render('home.njk', {
      title: 'carelogin',
      cspNonce: ctx.state.cspNonce,
      issuer: config.issuer,
      demoRpUrl: config.demoRp.enabled ? config.demoRp.url : undefined,
      devOutbox: config.notifications.devOutbox,
      devTestUsers: config.devTestUsers,
      personas: deps.personas ?? [],
      personaCode: config.personas.securityCode,
    });
  });

  return router;
}
