import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { firstValidSecond, signInCounts } from '../accounts/sessions-valid-after.js';
import { assessVectors, credentialsFromAmr, formatVector, parseVtr, type ProofingLevel } from './vectors.js';

const { Prompt, Check, base } = interactionPolicy;

/** What the account loaded by findAccount carries beyond oidc-provider's own fields. */
export interface CareloginAccountExtras {
  readonly proofingLevel: ProofingLevel;
  /** The last second whose sign-ins were revoked (src/accounts/sessions-valid-after.ts), or null. */
  readonly revokedSecond: number | null;
}

/**
 * oidc-provider's login and consent prompts, with a `vtr` prompt between them: a signed-in session
 * whose sign-in or identity level does not meet any requested vector of trust must interact again.
 * When it does meet one, the check records the achieved vector as the session's `acr`, which the
 * authorization code (and so the ID token's `vot`) copies. This runs on every authorization request,
 * so single sign-on into a second service reports the vector that service asked for.
 */
export function createInteractionPolicy(options: { sessionAbsoluteSeconds: number }): ReturnType<typeof base> {
  const policy = base();
  // A session from before the account's last revocation ("sign out everywhere", a password change or
  // reset) signs in again, even when a request in flight saved it back after its row was deleted.
  policy.get('login')!.checks.add(
    new Check('sign_in_revoked', 'the sign-in is older than the account\'s last revocation', 'login_required', (ctx: KoaContextWithOIDC) => {
      const session = ctx.oidc.session;
      const revokedSecond = (ctx.oidc.account as Partial<CareloginAccountExtras> | undefined)?.revokedSecond ?? null;
      if (!session?.accountId || signInCounts(revokedSecond, session.loginTs)) return Check.NO_NEED_TO_PROMPT;
      // The sign-in completed in this request, after findAccount read the stamp, so after the revocation;
      // only its whole-second time says otherwise (a revocation earlier in the same second). Date it to the
      // first second that counts, so it, and the codes it leads to, are not refused.
      if (ctx.oidc.result?.login) {
        session.loginTs = firstValidSecond(revokedSecond!);
        return Check.NO_NEED_TO_PROMPT;
      }
      return Check.REQUEST_PROMPT;
    }),
  );
  // The stored session's expiry is the idle limit (ttl.Session caps it at the absolute one); a sign-in
  // older than the absolute limit is not used even if its row is still there (security-bar "Sessions").
  policy.get('login')!.checks.add(
    new Check('session_too_old', 'the sign-in is older than the session\'s absolute lifetime', 'login_required', (ctx: KoaContextWithOIDC) => {
      const loginTs = ctx.oidc.session?.loginTs;
      if (!ctx.oidc.session?.accountId || !loginTs || ctx.oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      return Math.floor(Date.now() / 1000) - loginTs >= options.sessionAbsoluteSeconds ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  const vtrPrompt = new Prompt(
    { name: 'vtr', requestable: false },
    (ctx: KoaContextWithOIDC) => {
      const outcome = evaluate(ctx);
      return outcome && !outcome.met ? { reason: outcome.reason, needed: formatVector(outcome.needed) } : {};
    },
    // login_required (which the dialect renames sso_login_required): NHS login answers prompt=none with it
    // whenever single sign-on cannot give what was asked for (EIS Table 1, prompt).
    new Check('vtr_unmet', 'the requested vectors of trust are not met by this sign-in', 'login_required', (ctx: KoaContextWithOIDC) => {
      const outcome = evaluate(ctx);
      if (!outcome) return Check.NO_NEED_TO_PROMPT;
      if (outcome.met) {
        ctx.oidc.session!.acr = outcome.vot;
        return Check.NO_NEED_TO_PROMPT;
      }
      return Check.REQUEST_PROMPT;
    }),
  );
  policy.add(vtrPrompt, 1);
  return policy;
}

function evaluate(ctx: KoaContextWithOIDC): ReturnType<typeof assessVectors> | undefined {
  const session = ctx.oidc.session;
  const account = ctx.oidc.account as (typeof ctx.oidc.account & Partial<CareloginAccountExtras>) | undefined;
  if (!session?.accountId || !account?.proofingLevel) return undefined;
  const requested = parseVtr(ctx.oidc.params?.vtr as string | undefined);
  return assessVectors(requested, account.proofingLevel, credentialsFromAmr(session.amr));
}
