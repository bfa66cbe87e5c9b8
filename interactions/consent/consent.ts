import { z } from 'zod';
import type { AppServices } from '../../src/services.js';
import type { InteractionDetails, Reply, RequestInfo } from '../runner.js';
import { describeSharing } from './scopes.js';

/**
 * The consent prompt: one page saying what the service will receive, with "Continue" and
 * "Do not continue". Not a journey: there is nothing to authenticate and one question to ask.
 * Declining ends the request as NHS login does: access_denied with ConsentNotGiven.
 */

export const CONSENT_STEP = 'consent';

export const CONSENT_NOT_GIVEN = 'ConsentNotGiven';

const decisionSchema = z.object({ decision: z.enum(['continue', 'decline']) });

interface MissingConsent {
  readonly missingOIDCScope?: readonly string[];
  readonly missingOIDCClaims?: readonly string[];
  readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
}

function missing(details: InteractionDetails): MissingConsent {
  return details.prompt.details as MissingConsent;
}

async function clientName(services: AppServices, details: InteractionDetails): Promise<string> {
  const clientId = String(details.params.client_id);
  const client = await services.provider.Client.find(clientId);
  return client?.clientName ?? services.clients.get(clientId)?.metadata.client_name ?? 'This service';
}

export async function showConsent(services: AppServices, details: InteractionDetails): Promise<Reply> {
  const prompt = missing(details);
  const requested = typeof details.params.scope === 'string' ? details.params.scope.split(' ') : [];
  const items = describeSharing(prompt.missingOIDCScope ?? requested, prompt.missingOIDCClaims ?? []);
  return { kind: 'render', step: CONSENT_STEP, view: { template: 'consent.njk', data: { clientName: await clientName(services, details), items } } };
}

/**
 * The grant consent is added to, the same whichever of several submissions of this page (a double
 * click, a resubmitted form) gets here: the interaction's grant (loadExistingGrant in
 * src/provider/provider.ts found the account's grant for this service when the request started),
 * else a new one whose id is derived from the interaction (a keyed digest, so nobody can predict
 * it). Racing submissions then save the same grant row (the adapter's upsert) instead of one grant
 * each, so the service is listed once in "Your account" and withdrawing consent ends it. No extra
 * look-up: the first consent stays within its round-trip budget (decisions D9).
 */
async function grantFor(services: AppServices, details: InteractionDetails, accountId: string, clientId: string): Promise<InstanceType<AppServices['provider']['Grant']>> {
  const { Grant } = services.provider;
  const existing = details.grantId ? await Grant.find(details.grantId) : undefined;
  if (existing && existing.accountId === accountId && existing.clientId === clientId) return existing;
  const grant = new Grant({ accountId, clientId });
  // Grant.save() keeps an id that is already set (it only generates one when there is none).
  grant.jti = services.digest('consent-grant', details.uid);
  return grant;
}

export async function decideConsent(services: AppServices, details: InteractionDetails, request: RequestInfo, body: Record<string, unknown>): Promise<Reply> {
  const parsed = decisionSchema.safeParse(body);
  // Neither button (a forged or broken form): ask again rather than guess.
  if (!parsed.success) return showConsent(services, details);
  const clientId = String(details.params.client_id);
  const accountId = details.session?.accountId;
  if (parsed.data.decision === 'decline') {
    await services.audit.record('consent.declined', { accountId, clientId, ip: request.ip });
    return { kind: 'finish', result: { error: 'access_denied', error_description: CONSENT_NOT_GIVEN }, mergeWithLastSubmission: false };
  }
  if (!accountId) return { kind: 'redirect', location: `/interaction/${encodeURIComponent(details.uid)}` };

  const grant = await grantFor(services, details, accountId, clientId);
  const prompt = missing(details);
  if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
  if (prompt.missingOIDCClaims) grant.addOIDCClaims([...prompt.missingOIDCClaims]);
  for (const [resource, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  const grantId = await grant.save();
  await services.audit.record('consent.given', { accountId, clientId, ip: request.ip, detail: { scope: grant.getOIDCScope() } });
  return { kind: 'finish', result: { consent: { grantId } }, mergeWithLastSubmission: true };
}
