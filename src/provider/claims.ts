import { randomUUID } from 'node:crypto';
import type { Account } from '../../entities/account.js';
import { proofingAtLeast, type ProofingLevel } from './vectors.js';

/**
 * NHS login's scopes and the claims each releases (nhs-login.md §2), with the lowest identity
 * proofing level at which the claim is released. Absent values are omitted, never null.
 */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['nhs_number', 'family_name', 'birthdate', 'identity_proofing_level'],
  basic_demographics: ['family_name', 'birthdate', 'identity_proofing_level'],
  profile_extended: ['given_name'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified', 'phone_number_pds_matched'],
  landline: ['landline_number', 'landline_number_verified'],
  gp_registration_details: ['gp_registration_details'],
  gp_integration_credentials: ['gp_integration_credentials'],
  client_metadata: ['client_user_metadata'],
} as const;

export type NhsScope = keyof typeof SCOPE_CLAIMS;
export const NHS_SCOPES = Object.keys(SCOPE_CLAIMS) as NhsScope[];

const MINIMUM_LEVEL: Partial<Record<NhsScope, ProofingLevel>> = {
  profile: 'P5',
  basic_demographics: 'P5',
  profile_extended: 'P5',
  gp_registration_details: 'P5',
  gp_integration_credentials: 'P9',
};

/** Claims that go in every ID token regardless of scope (masked out otherwise by conformIdTokenClaims). */
export const ID_TOKEN_CLAIMS = ['sub', 'vot', 'vtm', 'jti', 'auth_time'] as const;

export interface ClaimContext {
  readonly use: 'id_token' | 'userinfo';
  readonly scopes: ReadonlySet<string>;
  /** The achieved vector (from the sign-in) when known; absent at userinfo. */
  readonly vot?: string;
  readonly vtm: string;
  /** The requesting client's `client_user_metadata` for this account, if it holds one. */
  readonly clientUserMetadata?: string;
  /** The ID token's jti (a sealed reference to the sign-in); a random one when absent. */
  readonly jti?: string;
}

/** Builds the claims an account may release for the granted scopes. */
export function accountClaims(account: Account, context: ClaimContext): Record<string, unknown> {
  const level = account.proofingLevel;
  const released = (scope: NhsScope): boolean => context.scopes.has(scope) && proofingAtLeast(level, MINIMUM_LEVEL[scope] ?? 'P0');
  const claims: Record<string, unknown> = { sub: account.id };
  if (context.use === 'id_token') {
    claims.jti = context.jti ?? randomUUID();
    if (context.vot) claims.vot = context.vot;
    claims.vtm = context.vtm;
  }
  if (released('profile') || released('basic_demographics')) {
    if (released('profile') && account.nhsNumber) claims.nhs_number = account.nhsNumber;
    if (account.familyName) claims.family_name = account.familyName;
    if (account.birthdate) claims.birthdate = account.birthdate;
    claims.identity_proofing_level = level;
  }
  if (released('profile_extended') && account.givenName) claims.given_name = account.givenName;
  if (released('email')) {
    claims.email = account.email;
    claims.email_verified = account.emailVerifiedAt !== null;
  }
  if (released('phone') && account.mobileNumber) {
    claims.phone_number = account.mobileNumber;
    claims.phone_number_verified = account.mobileVerifiedAt !== null;
    claims.phone_number_pds_matched = account.phoneNumberPdsMatched;
  }
  if (released('landline') && account.landlineNumber) {
    claims.landline_number = account.landlineNumber;
    claims.landline_number_verified = account.landlineVerifiedAt !== null;
  }
  // EIS Table 11: "If no value is held for the RP then this claim is not returned."
  if (released('client_metadata') && context.clientUserMetadata) claims.client_user_metadata = context.clientUserMetadata;
  if (released('gp_registration_details') && account.gpOdsCode) {
    claims.gp_registration_details = { gp_ods_code: account.gpOdsCode };
  }
  if (released('gp_integration_credentials') && account.gpOdsCode && account.gpUserId && account.gpLinkageKey) {
    claims.gp_integration_credentials = { gp_user_id: account.gpUserId, gp_linkage_key: account.gpLinkageKey, gp_ods_code: account.gpOdsCode };
  }
  return withoutEmpty(claims);
}

function withoutEmpty(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined && value !== null));
}

/** The trustmark URL for this issuer, in NHS login's shape: `${issuer}/trustmark/${host}`. */
export function trustmarkUrl(issuer: string): string {
  return `${issuer}/trustmark/${new URL(issuer).host}`;
}
