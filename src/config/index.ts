import path from 'node:path';
import { z } from 'zod';
import { environmentSchema } from './schema.js';
import { ConfigError } from '../errors.js';
import { PROJECT_ROOT } from '../project-root.js';
import type { PdsFhirSettings } from '../demographics/pds-fhir.js';

export type Mode = 'development' | 'test' | 'production';

/** How the register sync keeps proofed accounts' details current (REGISTER_SYNC_*, decisions D32). */
export interface RegisterSyncSettings {
  /** Details older than this many days are read again; 0 turns the sync off. */
  readonly days: number;
  /** Accounts read in one run (every 5 minutes). */
  readonly batch: number;
}

export interface Config {
  readonly mode: Mode;
  readonly logLevel: string;
  readonly issuer: string;
  readonly port: number;
  readonly host: string;
  readonly trustProxy: boolean;
  /**
   * Let the IdP's own outgoing requests (a client's jwks_uri, back-channel logout tokens) reach
   * loopback and private addresses, which oidc-provider refuses by default (SSRF). Development only
   * by default: the demo RP listens on localhost.
   */
  readonly privateNetworkFetch: boolean;
  readonly demoRp: { readonly enabled: boolean; readonly url: string; readonly port: number };
  readonly database: {
    readonly url?: string;
    /** PostgreSQL schema to use instead of public (tests run in their own schema). */
    readonly schema?: string;
    readonly pgliteDir?: string;
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly poolSize: number;
    /** Hand-written SQL as named prepared statements (off behind a pooler that cannot keep them). */
    readonly preparedStatements: boolean;
  };
  readonly dataDir: string;
  readonly keystore: { readonly file?: string; readonly json?: string; readonly generateIfMissing: boolean };
  readonly clientsFile: string;
  readonly ttl: {
    readonly authorizationCode: number;
    readonly idToken: number;
    readonly accessToken: number;
    readonly refreshToken: number;
    readonly sessionIdle: number;
    readonly sessionAbsolute: number;
    readonly interaction: number;
    readonly securityCode: number;
    readonly lockout: number;
    /** How long a password reset link works. */
    readonly resetLink: number;
    /** How long a remembered device lasts without being used. */
    readonly rememberedDevice: number;
    /** How long a new mobile from "I cannot access my mobile" is held before it takes effect (X1). */
    readonly mobileChangeHold: number;
    /** How long a registration whose email address was never confirmed is kept. */
    readonly unconfirmedAccount: number;
  };
  readonly limits: {
    readonly securityCodeAttempts: number;
    readonly securityCodeSends: number;
    readonly passwordAttempts: number;
    readonly authenticatorHardCap: number;
    readonly ipFailures: number;
    readonly ipFailureWindow: number;
    readonly concurrentPasswordHashes: number;
    /** Registration emails (codes, "you already have an account") to one address per hour. */
    readonly registrationEmailsPerAddress: number;
    /** Security code text messages per client IP (IPv6: per /64) per hour, across journeys. */
    readonly smsPerIpPerHour: number;
    /** Security code text messages per destination prefix (the number without its last 4 digits) per hour. */
    readonly smsPerPrefixPerHour: number;
    /** Text messages per UTC day, all instances together, before the budget alarm fires. */
    readonly smsDailyBudget: number;
    /** Over the daily budget, stop handing text messages to the provider (they wait in the outbox). */
    readonly smsDailyBudgetHardStop: boolean;
  };
  /** The version of the terms of use the "I agree" box refers to; stored with each new account. */
  readonly termsVersion: string;
  readonly argon2: { readonly memoryCost: number; readonly timeCost: number };
  readonly notifications: {
    readonly email: 'dev-outbox' | 'smtp' | 'notify';
    readonly sms: 'dev-outbox' | 'notify';
    readonly devOutbox: boolean;
    readonly smtp: { readonly url?: string; readonly from: string };
    readonly notify: { readonly apiKey?: string; readonly baseUrl?: string; readonly emailTemplateId?: string; readonly smsTemplateId?: string };
    readonly pollMs: number;
    readonly maxAttempts: number;
    /** How long a back-channel logout token is retried before carelogin gives up (it has no attempt cap). */
    readonly backchannelLogoutRetrySeconds: number;
    /**
     * The circuit breaker of each channel's provider (security-bar G3): it opens when at least
     * half of the last minute's attempts failed, once there were `minAttempts`, and lets one trial
     * through after `openSeconds`.
     */
    readonly breaker: { readonly minAttempts: number; readonly openSeconds: number };
  };
  /** Identity checks (decisions D18): the outside systems they ask, and their limits. */
  readonly identityChecks: {
    /** Where P5 checks trace a person's details (src/demographics). */
    readonly demographics: {
      readonly source: 'fake-pds' | 'pds-fhir' | 'unavailable' | 'none';
      /** An RP developer's own fake register (a JSON array of patients); absent: the built-in one. */
      readonly fakePdsFile?: string;
      /** The PDS FHIR API in application-restricted mode (src/demographics/pds-fhir.ts); only with pds-fhir. */
      readonly pds?: PdsFhirSettings;
    };
    /** Where P9 checks by GP online registration details go (src/gp-online). */
    readonly gpOnline: { readonly source: 'fake-im1' | 'unavailable' | 'none' };
    /** P9 by photo ID and video, reviewed in carelogin's own back office (src/photo-id). */
    readonly photoId: boolean;
    /** What one photo ID upload may be, and how many decodes run at once (E3, E4; docs/configuration.md). */
    readonly photoIdLimits: PhotoIdLimits;
    /** Days after a case is decided before its photo and video are deleted (H3, decisions D22). */
    readonly photoIdEvidenceRetentionDays: number;
    /**
     * Keeping proofed accounts' details current with the register (decisions D32): details older
     * than `days` are read again, `batch` accounts a run; `days` 0 turns it off.
     */
    readonly registerSync: RegisterSyncSettings;
    /** Details not found this many times → identity checks locked for the lockout time (per account). */
    readonly maxAttempts: number;
    /** Wrong answers naming one patient or GP online registration, from any accounts, before it is locked (E1). */
    readonly targetAttempts: number;
    /** How long an outside system may take before the person is told to try again later (E2). */
    readonly timeoutMs: number;
  };
  /** The identity-check back office (docs/back-office.md, decisions D23). */
  readonly backOffice: {
    /** How long a case "Start next check" gave a reviewer stays theirs; after that it is back in the queue. */
    readonly assignmentSeconds: number;
    /** Account look-ups (searches and openings) one member of the support desk may make an hour (D28). */
    readonly lookupsPerHour: number;
  };
  readonly personas: { readonly seed: boolean; readonly securityCode?: string };
  /** The /dev/test-users page and its JSON API (decisions D27); development and test only. */
  readonly devTestUsers: boolean;
  readonly shutdownGraceMs: number;
  /** Pause between reporting not-ready and closing the listener, so a load balancer stops sending first. */
  readonly shutdownDrainDelayMs: number;
  /** How long `npm start` keeps retrying when the database is not reachable yet. */
  readonly startupRetrySeconds: number;
}

export interface PhotoIdLimits {
  readonly photoMaxBytes: number;
  /** sharp's limitInputPixels: width × height as the file's header declares it. */
  readonly photoMaxPixels: number;
  readonly videoMaxBytes: number;
  /** Where the container says how long the video is. */
  readonly videoMaxSeconds: number;
  /** Uploads per account a day, refused ones included; the next gets 429. */
  readonly uploadsPerDay: number;
  /** Photos decoded at once, in this process; more wait their turn (E4: 20 bombs do not make 20 decodes). */
  readonly concurrentDecodes: number;
}

/** Reads, validates and freezes configuration once. Nothing else in carelogin reads process.env. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`Invalid configuration: ${z.prettifyError(parsed.error)}`);
  }
  const e = parsed.data;
  const mode = e.CARELOGIN_ENV;
  const production = mode === 'production';
  const dataDir = path.resolve(PROJECT_ROOT, e.DATA_DIR);
  const devOutbox = e.DEV_OUTBOX ?? !production;
  const emailAdapter = e.EMAIL_ADAPTER ?? (production ? 'notify' : 'dev-outbox');
  const smsAdapter = e.SMS_ADAPTER ?? (production ? 'notify' : 'dev-outbox');

  const demographicsSource = e.DEMOGRAPHICS_SOURCE ?? (production ? 'none' : 'fake-pds');
  const gpOnlineSource = e.GP_ONLINE_SOURCE ?? (production ? 'none' : 'fake-im1');

  const problems: string[] = [];
  if (production) {
    // Production runs P5 checks against PDS (pds-fhir) or not at all, never against made-up patients.
    if (demographicsSource === 'fake-pds') problems.push('DEMOGRAPHICS_SOURCE=fake-pds is for development and testing only');
    if (gpOnlineSource === 'fake-im1') problems.push('GP_ONLINE_SOURCE=fake-im1 is for development and testing only');
    if (devOutbox) problems.push('DEV_OUTBOX cannot be enabled in production');
    if (emailAdapter === 'dev-outbox' || smsAdapter === 'dev-outbox') problems.push('the dev-outbox adapter cannot deliver messages in production');
    if (e.SEED_PERSONAS) problems.push('SEED_PERSONAS cannot be enabled in production');
    if (e.PERSONA_SECURITY_CODE) problems.push('PERSONA_SECURITY_CODE cannot be set in production');
    if (e.DEV_TEST_USERS) problems.push('DEV_TEST_USERS cannot be enabled in production');
    // The demo service signs real people in to a page that shows their claims (A8: no development features).
    if (e.DEMO_RP_ENABLED) problems.push('DEMO_RP_ENABLED cannot be enabled in production');
    if (!e.DATABASE_URL) problems.push('DATABASE_URL is required in production (PGlite is for development only)');
    if (!e.KEYSTORE_FILE && !e.KEYSTORE_JSON) problems.push('KEYSTORE_FILE or KEYSTORE_JSON is required in production');
    if (!e.ISSUER.startsWith('https://')) problems.push('ISSUER must use https in production');
  }
  if (e.FAKE_PDS_FILE && demographicsSource !== 'fake-pds') problems.push('FAKE_PDS_FILE needs DEMOGRAPHICS_SOURCE=fake-pds');
  const pdsSettings = { PDS_FHIR_BASE_URL: e.PDS_FHIR_BASE_URL, PDS_TOKEN_URL: e.PDS_TOKEN_URL, PDS_API_KEY: e.PDS_API_KEY, PDS_PRIVATE_KEY_FILE: e.PDS_PRIVATE_KEY_FILE, PDS_KEY_ID: e.PDS_KEY_ID };
  if (demographicsSource === 'pds-fhir') {
    const missing = Object.entries(pdsSettings).filter(([, value]) => !value).map(([name]) => name);
    if (missing.length > 0) problems.push(`DEMOGRAPHICS_SOURCE=pds-fhir needs ${missing.join(', ')}`);
    // NHS England's API platform is https only; plain http is for a register on this machine (tests, a local stub).
    for (const name of ['PDS_FHIR_BASE_URL', 'PDS_TOKEN_URL'] as const) {
      const value = pdsSettings[name];
      if (value && !value.startsWith('https://') && (production || !/^http:\/\/(localhost|127\.0\.0\.1)(:|\/|$)/.test(value))) problems.push(`${name} must use https`);
    }
  } else if (Object.values(pdsSettings).some(Boolean)) {
    problems.push('the PDS_* settings need DEMOGRAPHICS_SOURCE=pds-fhir');
  }
  if (emailAdapter === 'smtp' && !e.SMTP_URL) problems.push('EMAIL_ADAPTER=smtp needs SMTP_URL');
  if ((emailAdapter === 'notify' || smsAdapter === 'notify') && !e.NOTIFY_API_KEY) problems.push('the notify adapter needs NOTIFY_API_KEY');
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);

  const config: Config = {
    mode,
    logLevel: e.LOG_LEVEL,
    issuer: e.ISSUER,
    port: e.PORT,
    host: e.HOST,
    trustProxy: e.TRUST_PROXY,
    privateNetworkFetch: e.PRIVATE_NETWORK_FETCH ?? !production,
    demoRp: { enabled: e.DEMO_RP_ENABLED ?? mode === 'development', url: e.DEMO_RP_URL, port: e.DEMO_RP_PORT },
    database: {
      url: e.DATABASE_URL || undefined,
      schema: e.DATABASE_SCHEMA,
      pgliteDir: e.DATABASE_URL ? undefined : mode === 'test' ? undefined : path.join(dataDir, 'pglite'),
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      poolSize: e.DB_POOL_SIZE,
      preparedStatements: e.DB_PREPARED_STATEMENTS,
    },
    dataDir,
    keystore: {
      file: e.KEYSTORE_JSON ? undefined : path.resolve(PROJECT_ROOT, e.KEYSTORE_FILE ?? path.join(e.DATA_DIR, 'keystore.json')),
      json: e.KEYSTORE_JSON,
      generateIfMissing: !production,
    },
    clientsFile: path.resolve(PROJECT_ROOT, e.CLIENTS_FILE ?? path.join(e.DATA_DIR, 'clients.json')),
    ttl: {
      authorizationCode: e.AUTHORIZATION_CODE_TTL_SECONDS,
      idToken: e.ID_TOKEN_TTL_SECONDS,
      accessToken: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshToken: e.REFRESH_TOKEN_TTL_SECONDS,
      sessionIdle: e.SESSION_IDLE_SECONDS,
      sessionAbsolute: e.SESSION_ABSOLUTE_SECONDS,
      interaction: e.INTERACTION_TTL_SECONDS,
      securityCode: e.SECURITY_CODE_TTL_SECONDS,
      lockout: e.LOCKOUT_SECONDS,
      resetLink: e.RESET_LINK_TTL_SECONDS,
      rememberedDevice: e.REMEMBERED_DEVICE_TTL_SECONDS,
      mobileChangeHold: e.MOBILE_CHANGE_HOLD_SECONDS,
      unconfirmedAccount: e.UNCONFIRMED_ACCOUNT_TTL_SECONDS,
    },
    limits: {
      securityCodeAttempts: e.SECURITY_CODE_MAX_ATTEMPTS,
      securityCodeSends: e.SECURITY_CODE_MAX_SENDS,
      passwordAttempts: e.PASSWORD_MAX_ATTEMPTS,
      authenticatorHardCap: e.AUTHENTICATOR_HARD_CAP,
      ipFailures: e.IP_FAILURE_LIMIT,
      ipFailureWindow: e.IP_FAILURE_WINDOW_SECONDS,
      concurrentPasswordHashes: e.MAX_CONCURRENT_PASSWORD_HASHES,
      registrationEmailsPerAddress: e.REGISTRATION_EMAILS_PER_ADDRESS,
      smsPerIpPerHour: e.SMS_SENDS_PER_IP_PER_HOUR,
      smsPerPrefixPerHour: e.SMS_SENDS_PER_PREFIX_PER_HOUR,
      smsDailyBudget: e.SMS_DAILY_BUDGET,
      smsDailyBudgetHardStop: e.SMS_DAILY_BUDGET_HARD_STOP,
    },
    termsVersion: e.TERMS_VERSION,
    argon2: { memoryCost: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_ITERATIONS },
    notifications: {
      email: emailAdapter,
      sms: smsAdapter,
      devOutbox,
      smtp: { url: e.SMTP_URL, from: e.SMTP_FROM },
      notify: { apiKey: e.NOTIFY_API_KEY, baseUrl: e.NOTIFY_BASE_URL, emailTemplateId: e.NOTIFY_EMAIL_TEMPLATE_ID, smsTemplateId: e.NOTIFY_SMS_TEMPLATE_ID },
      pollMs: e.OUTBOX_POLL_MS,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
      backchannelLogoutRetrySeconds: e.BACKCHANNEL_LOGOUT_RETRY_SECONDS,
      breaker: { minAttempts: e.DELIVERY_BREAKER_MIN_ATTEMPTS, openSeconds: e.DELIVERY_BREAKER_OPEN_SECONDS },
    },
    identityChecks: {
      demographics: {
        source: demographicsSource,
        fakePdsFile: e.FAKE_PDS_FILE ? path.resolve(PROJECT_ROOT, e.FAKE_PDS_FILE) : undefined,
        ...(demographicsSource === 'pds-fhir'
          ? { pds: { baseUrl: e.PDS_FHIR_BASE_URL!, tokenUrl: e.PDS_TOKEN_URL!, apiKey: e.PDS_API_KEY!, privateKeyFile: path.resolve(PROJECT_ROOT, e.PDS_PRIVATE_KEY_FILE!), keyId: e.PDS_KEY_ID! } }
          : {}),
      },
      gpOnline: { source: gpOnlineSource },
      photoId: e.PHOTO_ID_CHECKS,
      photoIdLimits: {
        photoMaxBytes: e.PHOTO_ID_MAX_PHOTO_BYTES,
        photoMaxPixels: e.PHOTO_ID_MAX_PHOTO_PIXELS,
        videoMaxBytes: e.PHOTO_ID_MAX_VIDEO_BYTES,
        videoMaxSeconds: e.PHOTO_ID_MAX_VIDEO_SECONDS,
        uploadsPerDay: e.PHOTO_ID_UPLOADS_PER_DAY,
        concurrentDecodes: e.PHOTO_ID_CONCURRENT_DECODES,
      },
      photoIdEvidenceRetentionDays: e.PHOTO_ID_EVIDENCE_RETENTION_DAYS,
      registerSync: { days: e.REGISTER_SYNC_DAYS, batch: e.REGISTER_SYNC_BATCH },
      maxAttempts: e.IDENTITY_CHECK_MAX_ATTEMPTS,
      targetAttempts: e.IDENTITY_TARGET_MAX_ATTEMPTS,
      timeoutMs: e.IDENTITY_CHECK_TIMEOUT_MS,
    },
    backOffice: { assignmentSeconds: e.BACK_OFFICE_ASSIGNMENT_SECONDS, lookupsPerHour: e.SUPPORT_LOOKUPS_PER_HOUR },
    personas: {
      seed: e.SEED_PERSONAS ?? mode !== 'production',
      securityCode: e.PERSONA_SECURITY_CODE ?? (production ? undefined : '190696'),
    },
    devTestUsers: e.DEV_TEST_USERS ?? !production,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
    startupRetrySeconds: e.STARTUP_RETRY_SECONDS,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
