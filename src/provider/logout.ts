/**
 * Logout, a superset of NHS login (security-bar X13). NHS login has no logout: services sign people
 * out themselves. carelogin adds what GOV.UK One Login and Keycloak offer, each opt-in per client:
 * - RP-initiated logout at /logout (oidc-provider's end_session). The browser goes back to the
 *   service only to a post_logout_redirect_uri registered for it, matched exactly, and only when the
 *   request names the client (id_token_hint or client_id): never an open redirect.
 * - Back-channel logout: when a carelogin session ends (RP-initiated logout, "Sign out" and "Sign out
 *   everywhere" in Your account, a password change or reset, deleting the account), every service
 *   with a backchannel_logout_uri that the session signed in to gets a signed logout token.
 * This module decides who gets one and records it in the outbox in the transaction that ends the
 * session, so a crash after the commit still delivers it; the outbox worker retries failures.
 * oidc-provider builds, signs and sends each token when it is due.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EntityManager } from 'typeorm';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import type { Renderer } from '../web/renderer.js';
import type { RegisteredClient } from '../clients/registry.js';
import type { LogoutDeliveryAdapter, Notifications } from '../notifications/outbox.js';
import { safeErrorText } from '../notifications/adapters/delivery-adapter.js';
import { DeliveryError } from '../errors.js';
import { queryRows } from '../db/sql.js';

type Db = Pick<EntityManager, 'query'> | DataSource;

/** The pages oidc-provider's end_session shows: "sign out of carelogin too?" and "you have signed out". */
export function logoutPages(renderer: Renderer): {
  logoutSource: (ctx: KoaContextWithOIDC, form: string) => Promise<void>;
  postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => Promise<void>;
} {
  return {
    // Our own form (NHS design system, two buttons) instead of oidc-provider's: it posts the same
    // fields to the same place, with the xsrf secret oidc-provider keeps in the session.
    async logoutSource(ctx) {
      ctx.type = 'html';
      ctx.body = renderer.render('logout/confirm.njk', {
        title: 'Do you want to sign out of carelogin?',
        clientName: ctx.oidc.client?.clientName,
        action: ctx.oidc.urlFor('end_session_confirm'),
        xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret,
        cspNonce: ctx.state.cspNonce,
      });
    },
    async postLogoutSuccessSource(ctx) {
      ctx.type = 'html';
      ctx.body = renderer.render('logout/signed-out.njk', {
        title: 'You have signed out',
        clientName: ctx.oidc.client?.clientName,
        cspNonce: ctx.state.cspNonce,
      });
    },
  };
}

/** One service a session signed in to, with the `sid` carelogin gave that session for it. */
export interface LogoutTarget {
  readonly clientId: string;
  readonly sid?: string;
}

/** Which sessions' services to tell: one session (by id or public uid), or all of the account's but one. */
export type SessionSelector = { readonly sessionId: string } | { readonly uid: string } | { readonly allExcept?: string };

/**
 * Reads, before the sessions are deleted, which services they signed in to (oidc-provider keeps
 * them in the session's `authorizations`). Call it in the same transaction as the delete. With
 * `everyService`, services the patient has a live grant with but no session names are added too
 * (without a sid: the token then means "every session of this person"), for events that end the
 * whole account's access: a password reset, deleting the account, signing out everywhere.
 */
export async function logoutTargets(db: Db, accountId: string, which: SessionSelector, options: { everyService?: boolean } = {}): Promise<LogoutTarget[]> {
  const rows = await queryRows<{ client_id: string; sid: string | null }>(
    db,
    `SELECT a.key AS client_id, a.value->>'sid' AS sid
       FROM oidc_model s, jsonb_each(COALESCE(s.payload->'authorizations', '{}'::jsonb)) a
      WHERE s.model = 'Session' AND s.payload->>'accountId' = $1
        AND ($2::text IS NULL OR s.id = $2) AND ($3::text IS NULL OR s.uid = $3) AND ($4::text IS NULL OR s.id <> $4)
     UNION
     SELECT g.payload->>'clientId', NULL FROM oidc_model g
      WHERE $5 AND g.model = 'Grant' AND g.payload->>'accountId' = $1 AND (g.expires_at IS NULL OR g.expires_at > now())`,
    [
      accountId,
      'sessionId' in which ? which.sessionId : null,
      'uid' in which ? which.uid : null,
      'allExcept' in which ? (which.allExcept ?? null) : null,
      options.everyService === true,
    ],
  );
  const withSession = new Set(rows.filter((r) => r.sid).map((r) => r.client_id));
  return rows
    .filter((r) => r.sid || !withSession.has(r.client_id))
    .map((r) => ({ clientId: r.client_id, ...(r.sid ? { sid: r.sid } : {}) }));
}

export interface BackchannelLogout {
  /**
   * In the caller's transaction, the one that ends the sessions: records a logout token for each
   * target whose client registered a backchannel_logout_uri (once per client and sid). Returns the
   * outbox ids for deliverNow. Does no I/O but the insert, so the transaction stays short.
   */
  enqueue(manager: EntityManager, accountId: string, targets: readonly LogoutTarget[]): Promise<string[]>;
  /**
   * After the commit: a first attempt at each now, so services hear at once (the demo service's
   * "Sign out" relies on it). Never throws: a failure stays queued and the outbox worker retries it.
   */
  deliverNow(ids: readonly string[]): Promise<void>;
}

export interface BackchannelLogoutDeps {
  readonly provider: Provider;
  readonly notifications: Notifications;
  readonly dataSource: DataSource;
  readonly logger: Logger;
  /** Registered clients by client_id: who takes logout tokens, and who needs a sid in them. */
  readonly clients: ReadonlyMap<string, RegisteredClient>;
}

type SendLogoutToken = (this: BackchannelClient, sub: string, sid: string | undefined) => Promise<void>;

interface BackchannelClient {
  readonly clientId: string;
  readonly backchannelLogoutUri?: string;
  readonly backchannelLogoutSessionRequired?: boolean;
  // Untyped in @types/oidc-provider: Client#backchannelLogout(sub, sid) signs and POSTs the logout token.
  backchannelLogout: SendLogoutToken;
}

/** oidc-provider's own Client#backchannelLogout, kept before createBackchannelLogout replaces it. */
const originalSenders = new WeakMap<Provider, SendLogoutToken>();

function clientPrototype(provider: Provider): BackchannelClient {
  return (provider.Client as unknown as { prototype: BackchannelClient }).prototype;
}

function originalSender(provider: Provider): SendLogoutToken {
  let send = originalSenders.get(provider);
  if (!send) {
    send = clientPrototype(provider).backchannelLogout;
    originalSenders.set(provider, send);
  }
  return send;
}

/**
 * The outbox's adapter for logout tokens: oidc-provider signs the token (fresh iat, jti, current
 * key) and POSTs it, behind its request-forgery guard and 2.5-second timeout. Anything but 200 or
 * 204 is a failure (Back-Channel Logout §2.8: 400 means the RP could not log out), retried; a
 * client that no longer takes tokens is a permanent one. Errors name no token and no URI.
 */
export function createBackchannelLogoutAdapter(provider: Provider): LogoutDeliveryAdapter {
  const send = originalSender(provider);
  return {
    async deliver(notice) {
      let client: BackchannelClient | undefined;
      try {
        client = (await provider.Client.find(notice.clientId)) as unknown as BackchannelClient | undefined;
      } catch (error) {
        throw new DeliveryError(`could not load the client: ${safeErrorText(error)}`, true, error);
      }
      if (!client?.backchannelLogoutUri) throw new DeliveryError('the client is not registered for back-channel logout (any more)', false);
      // A client that asked for sids must get one in every logout token (Back-Channel Logout §2.6).
      if (client.backchannelLogoutSessionRequired && !notice.sid) throw new DeliveryError('the client needs a sid and this logout has none', false);
      try {
        await send.call(client, notice.sub, notice.sid);
      } catch (error) {
        throw new DeliveryError(describeFailure(error), true, error);
      }
    },
  };
}

/** What went wrong with a POST, without its body (the token) or the service's URI. */
function describeFailure(error: unknown): string {
  const failure = error as { name?: string; response?: { status?: number }; cause?: { code?: string; message?: string } };
  if (typeof failure.response?.status === 'number') return `the service answered HTTP ${failure.response.status}`;
  if (failure.name === 'TimeoutError' || failure.name === 'AbortError') return 'the service did not answer in time';
  const cause = failure.cause?.code ?? failure.cause?.message;
  return `could not reach the service${cause ? ` (${safeErrorText(cause, 100)})` : ''}`;
}

export function createBackchannelLogout(deps: BackchannelLogoutDeps): BackchannelLogout {
  const { provider, notifications, dataSource, clients } = deps;
  const log = deps.logger.child({ component: 'backchannel-logout' });

  async function enqueue(manager: EntityManager, accountId: string, targets: readonly LogoutTarget[]): Promise<string[]> {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const { clientId, sid } of targets) {
      const key = `${clientId}\u0000${sid ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // The registry, not Client.find: no look-up outside the caller's transaction while it is open.
      const metadata = clients.get(clientId)?.metadata;
      if (!metadata?.backchannel_logout_uri) continue;
      // A client that asked for sids must get one in every logout token (Back-Channel Logout §2.6).
      if (metadata.backchannel_logout_session_required && !sid) continue;
      ids.push(await notifications.enqueueLogout(manager, { clientId, sub: accountId, ...(sid ? { sid } : {}) }));
    }
    return ids;
  }

  async function deliverNow(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map(async (id) => {
      try {
        await notifications.deliverNow(id);
      } catch (error) {
        // The row is committed; the worker picks it up.
        log.warn({ messageId: id, error: safeErrorText(error) }, 'first back-channel logout attempt failed to run; the outbox worker will retry');
      }
    }));
  }

  // oidc-provider's own end_session (/logout) calls Client#backchannelLogout for each service the
  // session signed in to, before it destroys the session. It has no transaction to join, so each
  // token is recorded on its own and tried at once; it resolves either way (a failure is retried),
  // and rejects only when it could not be recorded, which oidc-provider reports as backchannel.error.
  originalSender(provider);
  clientPrototype(provider).backchannelLogout = async function recordLogout(this: BackchannelClient, sub, sid) {
    const ids = await enqueue(dataSource.manager, sub, [{ clientId: this.clientId, ...(sid ? { sid } : {}) }]);
    await deliverNow(ids);
  };

  return { enqueue, deliverNow };
}
