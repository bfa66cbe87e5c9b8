import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { nameKey, postcodeKey, type PatientRecord } from '../../src/demographics/patient-demographics.js';

/**
 * An HTTP stand-in for NHS England's API platform in front of PDS (an edge carelogin does not own),
 * shaped as the published specification describes it: `POST /oauth2/token` (client credentials with
 * a signed JWT, checked against the registered public key), and under
 * `/personal-demographics/FHIR/R4`: `GET Patient/{id}` and `GET Patient?…` (application-restricted:
 * one unique match, none, or TOO_MANY_MATCHES). Every FHIR request must carry a live bearer token
 * and an X-Request-ID UUID, as the real service demands.
 */
export interface FakePdsFhir {
  readonly baseUrl: string;
  readonly tokenUrl: string;
  readonly apiKey: string;
  /** Every request received: method, path with query, and headers. */
  readonly requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** How the next requests are answered: normally, 503, or not at all (until closed). */
  mode: 'ok' | 'down' | 'silent';
  /** Lifetime of the tokens it issues, in seconds (the platform's is 599). */
  tokenLifetime: number;
  /** Forget every token issued so far, as if they had been revoked. */
  revokeTokens(): void;
  close(): Promise<void>;
}

const SPINE_CODES = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

export async function startFakePdsFhir(options: { patients: readonly PatientRecord[]; publicKey: KeyObject; keyId: string; apiKey?: string }): Promise<FakePdsFhir> {
  const apiKey = options.apiKey ?? 'fake-pds-api-key';
  const tokens = new Set<string>();
  const held: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    state.requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    if (state.mode === 'silent') {
      held.push(response);
      return;
    }
    if (state.mode === 'down') return send(response, 503, outcome('SERVICE_UNAVAILABLE', 'Service unavailable'));
    void handle(request, response).catch((error: unknown) => send(response, 500, outcome('INTERNAL', String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenUrl = `${origin}/oauth2/token`;

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', origin);
    if (request.method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(await readBody(request));
      if (form.get('grant_type') !== 'client_credentials' || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return send(response, 400, { error: 'invalid_request' });
      }
      try {
        const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion') ?? '', options.publicKey, { algorithms: ['RS512'], issuer: apiKey, subject: apiKey, audience: tokenUrl, maxTokenAge: '5m' });
        if (protectedHeader.kid !== options.keyId || !payload.jti || !payload.exp || payload.exp - Math.floor(Date.now() / 1000) > 300) throw new Error('bad assertion');
      } catch {
        return send(response, 401, { error: 'invalid_client' });
      }
      const token = randomUUID();
      tokens.add(token);
      return send(response, 200, { access_token: token, expires_in: String(state.tokenLifetime), token_type: 'Bearer', issued_at: String(Date.now()) });
    }
    const prefix = '/personal-demographics/FHIR/R4/Patient';
    if (request.method !== 'GET' || !url.pathname.startsWith(prefix)) return send(response, 404, outcome('RESOURCE_NOT_FOUND', 'Unknown path'));
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!bearer || !tokens.has(bearer)) return send(response, 401, outcome('ACCESS_DENIED', 'Access token missing, invalid or expired'));
    if (!/^[0-9a-f-]{36}$/i.test(String(request.headers['x-request-id'] ?? ''))) return send(response, 400, outcome('MISSING_VALUE', 'Missing or invalid X-Request-ID'));

    const id = url.pathname.slice(prefix.length + 1);
    if (id) {
      if (!/^\d{10}$/.test(id)) return send(response, 400, outcome('INVALID_RESOURCE_ID', 'Resource Id is invalid'));
      const patient = options.patients.find((p) => p.nhsNumber === id);
      return patient ? send(response, 200, toFhirPatient(patient)) : send(response, 404, outcome('RESOURCE_NOT_FOUND', 'Patient not found'));
    }
    const birthdate = url.searchParams.get('birthdate') ?? '';
    const family = url.searchParams.get('family');
    if (!family || !birthdate.startsWith('eq')) return send(response, 400, outcome('INVALID_SEARCH_DATA', 'Not enough search parameters'));
    // The register's own exact search: names, date of birth and postcode; a death does not hide a record.
    const found = options.patients.filter(
      (p) =>
        nameKey(p.familyName) === nameKey(family) &&
        nameKey(p.givenNames[0] ?? '') === nameKey(url.searchParams.get('given') ?? '') &&
        p.birthdate === birthdate.slice(2) &&
        postcodeKey(p.postcode) === postcodeKey(url.searchParams.get('address-postalcode') ?? ''),
    );
    if (found.length > 1) return send(response, 200, outcome('TOO_MANY_MATCHES', 'Too Many Matches'));
    return send(response, 200, {
      resourceType: 'Bundle',
      type: 'searchset',
      total: found.length,
      entry: found.map((p) => ({ fullUrl: `${origin}${prefix}/${p.nhsNumber}`, search: { score: 1 }, resource: toFhirPatient(p) })),
    });
  }

  const state: FakePdsFhir = {
    baseUrl: `${origin}/personal-demographics/FHIR/R4`,
    tokenUrl,
    apiKey,
    requests: [],
    mode: 'ok',
    tokenLifetime: 599,
    revokeTokens: () => tokens.clear(),
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return state;
}

/** A fictional patient as PDS's FHIR API shows one: names with a use, a home address, the GP practice. */
export function toFhirPatient(patient: PatientRecord): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    id: patient.nhsNumber,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: patient.nhsNumber }],
    meta: { versionId: '1', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'U', display: 'unrestricted' }] },
    name: [
      { use: 'usual', period: { start: '2000-01-01' }, given: patient.givenNames, family: patient.familyName },
      { use: 'old', period: { start: '1990-01-01', end: '1999-12-31' }, given: ['Former'], family: 'Name' },
    ],
    gender: 'unknown',
    birthDate: patient.birthdate,
    ...(patient.deceased ? { deceasedDateTime: `${patient.deceased}T00:00:00+00:00` } : {}),
    address: [
      { use: 'home', period: { start: '2015-01-01' }, line: ['1 Example Street'], postalCode: patient.postcode },
      { use: 'temp', period: { start: '2010-01-01', end: '2011-01-01' }, line: ['2 Old Road'], postalCode: 'ZZ99 9ZZ' },
    ],
    ...(patient.gpOdsCode ? { generalPractitioner: [{ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: patient.gpOdsCode } }] } : {}),
  };
}

function outcome(code: string, display: string): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', details: { coding: [{ system: SPINE_CODES, version: '1', code, display }] } }] };
}

function send(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': status === 200 && (body as { resourceType?: string }).resourceType ? 'application/fhir+json' : 'application/json', 'x-request-id': String(response.req.headers['x-request-id'] ?? '') });
  response.end(JSON.stringify(body));
}

async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An RSA key pair for carelogin's signed-JWT token requests: the private key in a file (PDS_PRIVATE_KEY_FILE), the public one for the stand-in. */
export function pdsKeyFiles(): { privateKeyFile: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-pds-'));
  const privateKeyFile = path.join(dir, 'pds-private.pem');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { privateKeyFile, publicKey };
}

/** The settings that point carelogin's pds-fhir adapter at a stand-in (key id 'carelogin-int-1'). */
export function pdsFhirEnv(pds: FakePdsFhir, keys: { privateKeyFile: string }): Record<string, string> {
  return { DEMOGRAPHICS_SOURCE: 'pds-fhir', PDS_FHIR_BASE_URL: pds.baseUrl, PDS_TOKEN_URL: pds.tokenUrl, PDS_API_KEY: pds.apiKey, PDS_PRIVATE_KEY_FILE: keys.privateKeyFile, PDS_KEY_ID: 'carelogin-int-1' };
}
