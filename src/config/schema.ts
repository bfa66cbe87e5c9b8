import { z } from 'zod';

/**
 * Every setting carelogin reads, with its default and the reason it exists.
 * docs/configuration.md documents the same list; keep the two in step.
 */
const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const url = z.url({ protocol: /^https?$/ }).transform((value) => value.replace(/\/+$/, ''));

export const environmentSchema = z.object({
  CARELOGIN_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  ISSUER: url.default('http://localhost:3000'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('localhost'),
  TRUST_PROXY: booleanString.default(false),
  PRIVATE_NETWORK_FETCH: booleanString.optional(),

  DEMO_RP_ENABLED: booleanString.optional(),
  DEMO_RP_URL: url.default('http://localhost:3001'),
  DEMO_RP_PORT: z.coerce.number().int().min(0).max(65535).default(3001),

  DATABASE_URL: z.string().optional(),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).optional(),
  DATA_DIR: z.string().default('.data'),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(4000),
  DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  DB_PREPARED_STATEMENTS: booleanString.default(true),

  KEYSTORE_FILE: z.string().optional(),
  KEYSTORE_JSON: z.string().optional(),
  CLIENTS_FILE: z.string().optional(),

  AUTHORIZATION_CODE_TTL_SECONDS: z.coerce.number().int().min(10).max(600).default(60),
  ID_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(3600),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(300),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(3600).max(90 * 86400).default(30 * 86400),
  SESSION_IDLE_SECONDS: z.coerce.number().int().positive().default(3600),
  SESSION_ABSOLUTE_SECONDS: z.coerce.number().int().positive().default(12 * 3600),
  INTERACTION_TTL_SECONDS: z.coerce.number().int().positive().default(3600),

  SECURITY_CODE_TTL_SECONDS: z.coerce.number().int().min(60).max(600).default(600),
  SECURITY_CODE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(5),
  SECURITY_CODE_MAX_SENDS: z.coerce.number().int().min(1).max(20).default(5),
  PASSWORD_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  LOCKOUT_SECONDS: z.coerce.number().int().positive().default(900),
  AUTHENTICATOR_HARD_CAP: z.coerce.number().int().min(10).max(100).default(100),
  IP_FAILURE_LIMIT: z.coerce.number().int().positive().default(20),
  IP_FAILURE_WINDOW_SECONDS: z.coerce.number().int().positive().default(600),
  SMS_SENDS_PER_IP_PER_HOUR: z.coerce.number().int().positive().default(50),
  SMS_SENDS_PER_PREFIX_PER_HOUR: z.coerce.number().int().positive().default(50),
  SMS_DAILY_BUDGET: z.coerce.number().int().positive().default(10000),
  SMS_DAILY_BUDGET_HARD_STOP: booleanString.default(false),
  REGISTRATION_EMAILS_PER_ADDRESS: z.coerce.number().int().min(1).max(50).default(5),
  RESET_LINK_TTL_SECONDS: z.coerce.number().int().min(300).max(24 * 3600).default(3600),
  UNCONFIRMED_ACCOUNT_TTL_SECONDS: z.coerce.number().int().min(3600).max(30 * 86400).default(48 * 3600),
  MOBILE_CHANGE_HOLD_SECONDS: z.coerce.number().int().min(60).max(7 * 86400).default(86400),
  REMEMBERED_DEVICE_TTL_SECONDS: z.coerce.number().int().min(3600).max(400 * 86400).default(180 * 86400),
  TERMS_VERSION: z.string().regex(/^[A-Za-z0-9._-]{1,20}$/).default('2026-11'),
  MAX_CONCURRENT_PASSWORD_HASHES: z.coerce.number().int().positive().default(2),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(8192).default(19456),
  ARGON2_ITERATIONS: z.coerce.number().int().min(1).default(2),

  EMAIL_ADAPTER: z.enum(['dev-outbox', 'smtp', 'notify']).optional(),
  SMS_ADAPTER: z.enum(['dev-outbox', 'notify']).optional(),
  DEV_OUTBOX: booleanString.optional(),
  SMTP_URL: z.string().optional(),
  SMTP_FROM: z.string().default('carelogin <no-reply@carelogin.localhost>'),
  NOTIFY_API_KEY: z.string().optional(),
  NOTIFY_BASE_URL: z.string().optional(),
  NOTIFY_EMAIL_TEMPLATE_ID: z.string().optional(),
  NOTIFY_SMS_TEMPLATE_ID: z.string().optional(),
  OUTBOX_POLL_MS: z.coerce.number().int().positive().default(1000),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().positive().default(5),
  DELIVERY_BREAKER_MIN_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
  DELIVERY_BREAKER_OPEN_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  BACKCHANNEL_LOGOUT_RETRY_SECONDS: z.coerce.number().int().min(60).max(7 * 86400).default(86400),

  DEMOGRAPHICS_SOURCE: z.enum(['fake-pds', 'pds-fhir', 'unavailable', 'none']).optional(),
  FAKE_PDS_FILE: z.string().optional(),
  PDS_FHIR_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  PDS_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
  PDS_API_KEY: z.string().min(1).optional(),
  PDS_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  PDS_KEY_ID: z.string().min(1).optional(),
  GP_ONLINE_SOURCE: z.enum(['fake-im1', 'unavailable', 'none']).optional(),
  PHOTO_ID_CHECKS: booleanString.default(true),
  // Upload limits (security-bar line 21, E3, E4): the defaults are the bar's, and the bar is the ceiling.
  PHOTO_ID_MAX_PHOTO_BYTES: z.coerce.number().int().min(256 * 1024).max(10 * 1024 * 1024).default(10 * 1024 * 1024),
  PHOTO_ID_MAX_PHOTO_PIXELS: z.coerce.number().int().min(1_000_000).max(50_000_000).default(50_000_000),
  PHOTO_ID_MAX_VIDEO_BYTES: z.coerce.number().int().min(1024 * 1024).max(50 * 1024 * 1024).default(50 * 1024 * 1024),
  PHOTO_ID_MAX_VIDEO_SECONDS: z.coerce.number().int().min(5).max(120).default(30),
  PHOTO_ID_UPLOADS_PER_DAY: z.coerce.number().int().min(1).max(50).default(10),
  PHOTO_ID_CONCURRENT_DECODES: z.coerce.number().int().min(1).max(8).default(2),
  PHOTO_ID_EVIDENCE_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  REGISTER_SYNC_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  REGISTER_SYNC_BATCH: z.coerce.number().int().min(1).max(1000).default(50),
  IDENTITY_CHECK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  IDENTITY_TARGET_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  IDENTITY_CHECK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30000).default(10000),
  BACK_OFFICE_ASSIGNMENT_SECONDS: z.coerce.number().int().min(60).max(8 * 3600).default(1800),
  SUPPORT_LOOKUPS_PER_HOUR: z.coerce.number().int().min(1).max(1000).default(60),

  SEED_PERSONAS: booleanString.optional(),
  PERSONA_SECURITY_CODE: z.string().regex(/^\d{6}$/).optional(),
  DEV_TEST_USERS: booleanString.optional(),

  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10000),
  SHUTDOWN_DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(0),
  STARTUP_RETRY_SECONDS: z.coerce.number().int().min(0).default(60),
});

export type Environment = z.infer<typeof environmentSchema>;
