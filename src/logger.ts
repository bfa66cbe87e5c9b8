import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

/** The request being handled, so every log line written while handling it (from any module) carries its id. */
export const requestScope = new AsyncLocalStorage<{ readonly requestId: string }>();

/**
 * Keys whose values never reach a log line, at any of the first three levels of nesting.
 * Add to this list rather than redacting at call sites.
 */
export const SENSITIVE_KEYS = [
  'password', 'newPassword', 'currentPassword', 'passwordHash', 'password_hash',
  'code', 'securityCode', 'otp', 'totp', 'secret', 'totpSecret', 'recoveryCode',
  'token', 'access_token', 'refresh_token', 'id_token', 'accessToken', 'refreshToken', 'idToken', 'logout_token', 'logoutToken',
  'client_assertion', 'code_verifier', 'codeVerifier', 'authorization', 'cookie', 'set-cookie', 'cookies',
  'nhsNumber', 'nhs_number', 'email', 'emailAddress', 'email_address', 'recipient',
  'phone', 'phoneNumber', 'phone_number', 'mobile', 'mobileNumber',
  'linkageKey', 'linkage_key', 'gp_linkage_key', 'deviceToken', 'csrf', '_csrf', 'body',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SENSITIVE_KEYS) {
    const safe = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    const join = (prefix: string): string => (safe.startsWith('[') ? `${prefix}${safe}` : `${prefix}.${safe}`);
    paths.push(safe.startsWith('[') ? safe : key, join('*'), join('*.*'));
  }
  return paths;
}

export function createLogger(options: { level: string; name?: string }, destination?: DestinationStream): Logger {
  const loggerOptions: LoggerOptions = {
    name: options.name ?? 'carelogin',
    level: options.level,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { requestId: scope.requestId } : {};
    },
  };
  return destination ? pino(loggerOptions, destination) : pino(loggerOptions);
}

/** Paths whose last segment is a bearer secret (an emailed link's token). */
const SECRET_PATH = /^(\/reset-password\/|\/cancel-mobile\/)[^/]+/;

/** Removes query strings and secret path segments (which carry codes and tokens) before a URL is logged. */
export function pathOnly(url: string): string {
  const index = url.indexOf('?');
  const path = index === -1 ? url : url.slice(0, index);
  return path.replace(SECRET_PATH, '$1:token');
}
