/**
 * Logout, a superset of NHS login (security-bar X13). NHS login has no logout: services sign people
 * out themselves. carelogin adds what GOV.UK One Login and Keycloak offer, each opt-in per client:
 * - RP-initiated logout at /logout (oidc-provider's end_session). The browser goes back to the
 *   service only to a post_logout_redirect_uri registered for it, matched exactly, and only when the
 *   request names the client (id_token_hint or client_id): never an open redirect.
 * - Back-channel logout: when a carelogin session ends (RP-initiated logout, "Sign out" and "Sign out
 *   everywhere" in Your account, a password change or reset, deleting the account), every service
 *   with a backchannel_logout_uri that the session signed in to gets a signed logout token.
 * oidc-provider builds, signs and sends the tokens; this module decides who gets one.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { EntityManager } from 'typeorm';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import type { Renderer } from '../web/renderer.js';
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
   * Sends a logout token to each target whose client registered a backchannel_logout_uri (once per
   * client and sid). Never throws: a service that does not answer is logged, and the patient's
   * sign-out has already happened. oidc-provider gives each request 2.5 seconds.
   */
  notify(accountId: string, targets: readonly LogoutTarget[]): Promise<void>;
}

interface BackchannelClient {
  readonly backchannelLogoutUri?: string;
  readonly backchannelLogoutSessionRequired?: boolean;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

export function createBackchannelLogout(provider: Provider, logger: Logger): BackchannelLogout {
  return {
    async notify(accountId, targets) {
      const seen = new Set<string>();
      const unique = targets.filter((t) => {
        const key = `${t.clientId}\u0000${t.sid ?? ''}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      await Promise.all(unique.map(async ({ clientId, sid }) => {
        try {
          // Untyped in @types/oidc-provider: Client#backchannelLogout(sub, sid) signs and POSTs the logout token.
          const client = (await provider.Client.find(clientId)) as BackchannelClient | undefined;
          if (!client?.backchannelLogoutUri) return;
          // A client that asked for sids must get one in every logout token (Back-Channel Logout §2.6).
          if (client.backchannelLogoutSessionRequired && !sid) return;
          await client.backchannelLogout(accountId, sid);
          logger.info({ clientId }, 'back-channel logout delivered');
        } catch (error) {
          logger.warn({ clientId, reason: (error as Error).message }, 'back-channel logout not delivered');
        }
      }));
    },
  };
}
