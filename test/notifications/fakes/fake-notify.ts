import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Just enough of the GOV.UK Notify API (v2) to test our adapter end to end over HTTP:
 * POST /v2/notifications/email and /sms with Notify's JWT bearer auth (HS256 over the API key's
 * secret, `iss` = service id, `iat` within 30 s), answering like Notify does.
 */
export type FakeNotifyMode = 'ok' | 'server-error' | 'bad-request' | 'rate-limited' | 'hang';

export interface ReceivedNotification {
  readonly type: 'email' | 'sms';
  readonly templateId: string;
  readonly to: string;
  readonly personalisation: Record<string, string>;
  readonly reference: string | undefined;
}

export interface FakeNotify {
  readonly baseUrl: string;
  readonly serviceId: string;
  readonly secret: string;
  /** An API key in Notify's format: {key name}-{service id}-{secret}. */
  readonly apiKey: string;
  readonly received: ReceivedNotification[];
  /** Requests refused because the JWT was wrong. */
  readonly unauthorised: number;
  /** Every authorised request to send, whatever the mode answered (a circuit breaker shows as requests not made). */
  readonly attempts: number;
  mode: FakeNotifyMode;
  close(): Promise<void>;
}

export async function startFakeNotify(): Promise<FakeNotify> {
  const serviceId = randomUUID();
  const secret = randomUUID();
  const received: ReceivedNotification[] = [];
  const hanging = new Set<http.ServerResponse>();
  let unauthorised = 0;
  let attempts = 0;

  const state = { mode: 'ok' as FakeNotifyMode };

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = (status: number, body: unknown): void => {
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const type = request.url === '/v2/notifications/email' ? 'email' : request.url === '/v2/notifications/sms' ? 'sms' : undefined;
      if (request.method !== 'POST' || !type) return reply(404, { status_code: 404, errors: [{ error: 'NotFound', message: 'Not found' }] });
      if (!validToken(request.headers.authorization, serviceId, secret)) {
        unauthorised += 1;
        return reply(403, { status_code: 403, errors: [{ error: 'AuthError', message: 'Invalid token: API key not found' }] });
      }
      attempts += 1;
      if (state.mode === 'hang') {
        hanging.add(response);
        return;
      }
      if (state.mode === 'server-error') return reply(500, { status_code: 500, errors: [{ error: 'Exception', message: 'Internal server error' }] });
      if (state.mode === 'rate-limited') return reply(429, { status_code: 429, errors: [{ error: 'RateLimitError', message: 'Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds' }] });
      const payload = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const to = String(type === 'email' ? payload.email_address : payload.phone_number);
      if (state.mode === 'bad-request') {
        return reply(400, { status_code: 400, errors: [{ error: 'BadRequestError', message: `Can't send to this recipient using a team-only API key (${to})` }] });
      }
      received.push({
        type,
        templateId: String(payload.template_id),
        to,
        personalisation: (payload.personalisation ?? {}) as Record<string, string>,
        reference: typeof payload.reference === 'string' ? payload.reference : undefined,
      });
      reply(201, {
        id: randomUUID(),
        reference: payload.reference ?? null,
        content: type === 'email' ? { subject: 'x', body: 'x', from_email: 'carelogin@notifications.service.gov.uk' } : { body: 'x', from_number: 'carelogin' },
        uri: `https://api.notifications.service.gov.uk/v2/notifications/${randomUUID()}`,
        template: { id: payload.template_id, version: 1, uri: 'https://api.notifications.service.gov.uk/v2/templates/x' },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    serviceId,
    secret,
    apiKey: `carelogin_test-${serviceId}-${secret}`,
    received,
    get unauthorised() {
      return unauthorised;
    },
    get attempts() {
      return attempts;
    },
    get mode() {
      return state.mode;
    },
    set mode(value: FakeNotifyMode) {
      state.mode = value;
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

function validToken(header: string | undefined, serviceId: string, secret: string): boolean {
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  if (!token) return false;
  const [encodedHeader, encodedPayload, signature] = token.split('.');
  if (!encodedHeader || !encodedPayload || !signature) return false;
  const expected = base64url(createHmac('sha256', secret).update(`${encodedHeader}.${encodedPayload}`).digest());
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return false;
  const jwtHeader = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as { alg?: string };
  const claims = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as { iss?: string; iat?: number };
  return jwtHeader.alg === 'HS256' && claims.iss === serviceId && typeof claims.iat === 'number' && Math.abs(Date.now() / 1000 - claims.iat) <= 30;
}
