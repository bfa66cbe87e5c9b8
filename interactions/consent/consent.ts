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

  const { Grant } = services.provider;
  const grant = (details.grantId ? await Grant.find(details.grantId) : undefined) ?? new Grant({ accountId, clientId });
  const prompt = missing(details);
  if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
  if (prompt.missingOIDCClaims) grant.addOIDCClaims([...prompt.missingOIDCClaims]);
  for (const [resource, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  const grantId = await grant.save();
  await services.audit.record('consent.given', { accountId, clientId, ip: request.ip, detail: { scope: grant.getOIDCScope() } });
  return { kind: 'finish', result: { consent: { grantId } }, mergeWithLastSubmission: true };
}
