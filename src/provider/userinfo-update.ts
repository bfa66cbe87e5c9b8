import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { JsonWebKey } from 'node:crypto';
import type { RegisteredClient } from '../clients/registry.js';
import type { AccountService } from '../accounts/account-service.js';
import { CLIENT_USER_METADATA_MAX_LENGTH, generateClientUserMetadata, type ClientUserMetadataStore } from '../accounts/client-user-metadata.js';
import type { Logger } from '../logger.js';
import { withTimeout } from '../with-timeout.js';

const JWKS_FETCH_TIMEOUT_MS = 5000;

export interface UserinfoUpdateDeps {
  readonly provider: Provider;
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  readonly accounts: Pick<AccountService, 'findById'>;
  readonly metadata: ClientUserMetadataStore;
  readonly logger: Logger;
  readonly path: string;
}

/**
 * NHS login's UserInfo Update (EIS §3.6.3): `PATCH /userinfo` with the access token as a bearer
 * token and a JSON body `{"client_user_metadata": "…"}` sets the value this relying party keeps
 * with the account; `""` clears it and `"auto"` has us generate one. 204 on success; errors as at
 * the UserInfo endpoint (§3.6.2.2). oidc-provider has no PATCH here, so this route answers it,
 * using oidc-provider's own access-token look-up (which takes only our access-token JWTs).
 */
export function createUserinfoUpdateRouter(deps: UserinfoUpdateDeps): Router {
  const { provider, clients, accounts, metadata, logger, path } = deps;
  const router = new Router();
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '8kb', encoding: 'utf-8' });

  router.patch(path, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const bearer = /^Bearer ([^\s]+)$/i.exec(ctx.get('authorization'));
    if (!bearer) return refuse(ctx, 400, 'invalid_request', 'no access token provided');
    const token = await provider.AccessToken.find(bearer[1]!);
    const account = token?.accountId ? await accounts.findById(token.accountId) : undefined;
    if (!token || !token.clientId || !account || account.status !== 'active') return refuse(ctx, 401, 'invalid_token', 'invalid token provided');
    if (!String(token.scope ?? '').split(' ').includes('client_metadata')) return refuse(ctx, 403, 'insufficient_scope', 'the access token does not include the client_metadata scope');

    if (!ctx.is('application/json')) return refuse(ctx, 400, 'invalid_request', 'the request body must be JSON (Content-Type: application/json)');
    try {
      await json(ctx, async () => undefined);
    } catch {
      return refuse(ctx, 400, 'invalid_request', 'Invalid parameter content');
    }
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return refuse(ctx, 400, 'invalid_request', 'Invalid parameter content');
    const requested = body.client_user_metadata;
    if (requested === undefined) {
      ctx.status = 204;
      return;
    }
    if (typeof requested !== 'string' || requested.length > CLIENT_USER_METADATA_MAX_LENGTH) {
      return refuse(ctx, 400, 'invalid_request', `client_user_metadata must be a string of at most ${CLIENT_USER_METADATA_MAX_LENGTH} characters`);
    }
    let value = requested;
    if (requested === 'auto') {
      const generated = generateClientUserMetadata(await clientKeys(token.clientId));
      if (!generated) return refuse(ctx, 400, 'invalid_request', 'this client has no RSA public key to encrypt a generated value with');
      value = generated;
    }
    await metadata.set(account.id, token.clientId, value);
    logger.info({ clientId: token.clientId, cleared: value === '', generated: requested === 'auto' }, 'client_user_metadata updated');
    ctx.status = 204;
  });

  /** The client's registered public keys: inline, or fetched from its jwks_uri. */
  async function clientKeys(clientId: string): Promise<JsonWebKey[]> {
    const registered = clients.get(clientId)?.metadata;
    if (registered?.jwks) return registered.jwks.keys as JsonWebKey[];
    if (!registered?.jwks_uri) return [];
    try {
      const response = await withTimeout(fetch(registered.jwks_uri, { headers: { accept: 'application/json' } }), JWKS_FETCH_TIMEOUT_MS, () => new Error('fetching the client JWKS timed out'));
      const document = (await response.json()) as { keys?: JsonWebKey[] };
      return Array.isArray(document.keys) ? document.keys : [];
    } catch (error) {
      logger.warn({ err: error, clientId }, 'could not fetch the client JWKS for client_user_metadata');
      return [];
    }
  }

  return router;
}

function refuse(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  if (status === 401 || status === 403) ctx.set('WWW-Authenticate', `Bearer error="${error}", error_description="${description}"`);
  ctx.body = { error, error_description: description };
}
