import type { AuthenticatorApps } from './accounts/authenticator-app.js';
import type { Passkeys } from './accounts/passkeys.js';
import type { RecoveryCodes } from './accounts/recovery-codes.js';
import type { DataSource } from 'typeorm';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.js';
import type { Logger } from './logger.js';
import type { Renderer } from './web/renderer.js';
import type { Notifications } from './notifications/outbox.js';
import type { AccountService } from './accounts/account-service.js';
import type { PasswordHasher } from './accounts/password-hasher.js';
import type { AttemptCounters } from './security/attempt-counters.js';
import type { SecurityCodes } from './security/security-codes.js';
import type { Audit } from './security/audit.js';
import type { Csrf } from './security/csrf.js';
import type { KeyedDigest } from './security/keyed-digest.js';
import type { RegisteredClient } from './clients/registry.js';
import type { BackchannelLogout } from './provider/logout.js';
import type { MobileChanges } from './accounts/mobile-change.js';
import type { RegisterSync } from './demographics/register-sync.js';
import type { IdentityProofing } from './accounts/identity-proofing.js';
import type { PatientDemographics } from './demographics/patient-demographics.js';
import type { GpOnlineRegistration } from './gp-online/gp-online-registration.js';
import type { PhotoIdCases } from './photo-id/cases.js';
import type { PhotoDecoder } from './photo-id/images.js';
import type { EvidenceRetention } from './photo-id/evidence-retention.js';

/** Everything request handlers need, built once by the composition root (src/app.ts). */
export interface AppServices {
  readonly config: Config;
  readonly logger: Logger;
  readonly dataSource: DataSource;
  readonly provider: Provider;
  readonly renderer: Renderer;
  readonly notifications: Notifications;
  readonly accounts: AccountService;
  readonly hasher: PasswordHasher;
  readonly counters: AttemptCounters;
  readonly codes: SecurityCodes;
  readonly audit: Audit;
  readonly csrf: Csrf;
  /** HMAC of personal data used as a lookup key (email addresses in attempt_counter keys). */
  readonly digest: KeyedDigest;
  /** Registered relying parties by client_id (names for the consent page, allowed scopes and vectors). */
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  /** Tells services with a back-channel logout URI that a carelogin session has ended. */
  readonly backchannelLogout: BackchannelLogout;
  /** Mobile numbers changed through "I cannot access my mobile", held before they take effect (X1). */
  readonly mobileChanges: MobileChanges;
  /** Authenticator apps (TOTP, Ck): setting one up, checking its codes once each, removing it. */
  readonly authenticatorApps: AuthenticatorApps;
  /** Passkeys (WebAuthn, Cm): made in Your account, used to sign in without a password. */
  readonly passkeys: Passkeys;
  /** Saved recovery codes (B7, D21): made in Your account, each used once to sign in when the usual second factor is lost. */
  readonly recoveryCodes: RecoveryCodes;
  /** The patient register identity checks trace details against (DEMOGRAPHICS_SOURCE). */
  readonly demographics: PatientDemographics;
  /** GP online services (IM1): registration details that prove identity at P9 (GP_ONLINE_SOURCE). */
  readonly gpOnline: GpOnlineRegistration;
  /** P9 by photo ID and video: cases the back office reviews (src/photo-id, src/back-office). */
  readonly photoIdCases: PhotoIdCases;
  /** Decodes and re-encodes uploaded photos in workers, a bounded number at once (E4). */
  readonly photoDecoder: PhotoDecoder;
  /** Deletes decided cases' photo and video after PHOTO_ID_EVIDENCE_RETENTION_DAYS (H3, D22). */
  readonly evidenceRetention: EvidenceRetention;
  /** Records an identity check's outcome on the account (level and the register's details). */
  readonly identityProofing: IdentityProofing;
  /** Keeps proofed accounts' details current with the patient register (REGISTER_SYNC_DAYS, D32). */
  readonly registerSync: RegisterSync;
}
