/**
 * The one error hierarchy. `status` is the HTTP status a request handler answers with;
 * `expose` says whether `message` is safe to show to the person or client that caused it.
 */
export class CareloginError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;

  constructor(code: string, message: string, options: { status?: number; expose?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
  }
}

/** Configuration or registration is wrong: stops the start with a message that names the problem. */
export class ConfigError extends CareloginError {
  constructor(message: string, cause?: unknown) {
    super('config_invalid', message, { status: 500, expose: false, cause });
  }
}

export class ClientRegistrationError extends CareloginError {
  constructor(readonly clientId: string, readonly field: string, detail: string) {
    super('client_registration_invalid', `Client "${clientId}": ${field} ${detail}`, { status: 500, expose: false });
  }
}

/** The database cannot be reached or did not answer in time: the request gets 503 and may be retried. */
export class DatabaseUnavailableError extends CareloginError {
  constructor(cause?: unknown) {
    super('database_unavailable', 'The service is temporarily unavailable. Try again in a few moments.', { status: 503, expose: true, cause });
  }
}

/** An outside system (the patient register, a GP system) did not answer within its time (E2). */
export class OutsideSystemTimeoutError extends CareloginError {
  constructor(system: string, ms: number) {
    super('outside_system_timeout', `${system} did not answer within ${ms} ms`, { status: 503, expose: false });
  }
}

export class NotFoundError extends CareloginError {
  constructor(message = 'Page not found') {
    super('not_found', message, { status: 404 });
  }
}

export class BadRequestError extends CareloginError {
  constructor(message: string) {
    super('bad_request', message, { status: 400 });
  }
}

/** An upload (or a whole form) bigger than its limit: refused as soon as the limit is passed, before the rest arrives (E4). */
export class PayloadTooLargeError extends CareloginError {
  constructor(readonly field?: string) {
    super('payload_too_large', 'The file you chose is too large.', { status: 413 });
  }
}

export class CsrfError extends CareloginError {
  constructor() {
    super('csrf_failed', 'Your session has expired or this form was sent from another site. Go back and try again.', { status: 403 });
  }
}

export class TooManyRequestsError extends CareloginError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', 'There have been too many attempts. Wait a few minutes and try again.', { status: 429 });
  }
}

/** The sign-in journey this request belongs to has expired or never existed. */
export class JourneyExpiredError extends CareloginError {
  constructor(message = 'Your session has timed out. Go back to the service you were using and start again.') {
    super('journey_expired', message, { status: 400 });
  }
}

export class DeliveryError extends CareloginError {
  constructor(message: string, readonly retryable: boolean, cause?: unknown) {
    super('delivery_failed', message, { status: 502, expose: false, cause });
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300', '57014',
]);

/** True when an error means "the database is not there right now", as opposed to a bug or bad data. */
export function isDatabaseConnectionError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof DatabaseUnavailableError) return true;
    const candidate = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof candidate.code === 'string' && CONNECTION_ERROR_CODES.has(candidate.code)) return true;
    if (typeof candidate.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout|Connection refused|not queryable|statement timeout|Query read timeout|PGlite pool/i.test(candidate.message)) return true;
    current = candidate.driverError ?? candidate.cause;
  }
  return false;
}
