import { createHmac, timingSafeEqual } from 'node:crypto';
import { hmacKeyRing, ringSecrets, type HmacKeys } from '../security/hmac-key-ring.js';

/**
 * Links to a case's photo and video (E3, E7): short-lived and bound to the reviewer they were made
 * for and to the case, so a link copied out of a page, a log or a browser history stops working
 * within minutes and never works for anyone else. An HMAC with the keystore ring (made with the
 * current secret, checked against each), so a link made just before a rotation still opens.
 */
export type EvidenceKind = 'photo' | 'video';

/** E7: media URLs expire within 5 minutes. */
export const EVIDENCE_LINK_SECONDS = 5 * 60;

const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

export interface EvidenceLinks {
  /** The path and query of the link, valid for EVIDENCE_LINK_SECONDS from `now`. */
  link(caseId: string, kind: EvidenceKind, reviewerAccountId: string, now?: number): string;
  /** True when the link's expiry and signature were made for exactly this reviewer, case and kind, and it has not expired. */
  verify(caseId: string, kind: EvidenceKind, reviewerAccountId: string, expires: unknown, signature: unknown, now?: number): boolean;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function createEvidenceLinks(hmacKeys: HmacKeys): EvidenceLinks {
  const secrets = ringSecrets(hmacKeyRing(hmacKeys, 'back office evidence links'));
  // The prefix keeps these MACs apart from anything else made with the same secret.
  const mac = (secret: string, caseId: string, kind: EvidenceKind, reviewer: string, expires: number): Buffer =>
    createHmac('sha256', secret).update(`back-office evidence\u0000${reviewer}\u0000${caseId}\u0000${kind}\u0000${expires}`).digest();

  return {
    link(caseId, kind, reviewerAccountId, now = nowSeconds()) {
      const expires = now + EVIDENCE_LINK_SECONDS;
      const sig = mac(secrets[0]!, caseId, kind, reviewerAccountId, expires).toString('base64url');
      return `/back-office/cases/${caseId}/evidence/${kind}?expires=${expires}&sig=${sig}`;
    },

    verify(caseId, kind, reviewerAccountId, expires, signature, now = nowSeconds()) {
      if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof signature !== 'string' || !SIGNATURE.test(signature)) return false;
      const at = Number(expires);
      // Expired, or claiming a lifetime longer than any link is given (a forged far-future expiry fails the MAC anyway).
      if (at <= now || at > now + EVIDENCE_LINK_SECONDS) return false;
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== 32 || given.toString('base64url') !== signature) return false;
      let matched = false;
      for (const secret of secrets) matched = timingSafeEqual(given, mac(secret, caseId, kind, reviewerAccountId, at)) || matched;
      return matched;
    },
  };
}
