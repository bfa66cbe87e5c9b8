import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { tracePatients } from './fake-pds.js';
import type { PatientDemographics, PatientRecord, RetrieveResult, TraceQuery, TraceResult } from './patient-demographics.js';

/**
 * NHS England's Personal Demographics Service through its FHIR R4 API, in application-restricted
 * mode (DEMOGRAPHICS_SOURCE=pds-fhir, decisions D18):
 *
 * - access tokens come from the API platform's token endpoint by the client-credentials grant with a
 *   signed JWT (RS512, `kid` of a key registered with the API platform, `iss` = `sub` = the API key,
 *   at most 5 minutes long); a token is reused until shortly before it expires;
 * - a trace with an NHS number reads `Patient/{nhs-number}`; without one it searches by family name,
 *   given name, date of birth (`eq`) and postcode with `_exact-match=true`, which in this mode
 *   returns a single unique match or none, or `TOO_MANY_MATCHES`;
 * - the back office's re-check (`retrieve`) reads `Patient/{nhs-number}` and returns the record as it
 *   is, a death included; a restricted record (no address) is `unavailable` to it, never "no record";
 * - whatever PDS returns is then judged by the same rules as the fake register (`tracePatients`):
 *   exact names after normalisation, date of birth and current home postcode, no recorded death.
 *   A restricted record (no address in the answer) therefore never matches online.
 *
 * The register being slow, down, rate-limiting or refusing our credentials is `unavailable` (the
 * person is told to try again later and nothing is counted); only PDS's own "no such patient" is a
 * miss. Logs carry the status, PDS's error code and the request id, never what the person typed.
 */
export interface PdsFhirSettings {
  /** e.g. https://int.api.service.nhs.uk/personal-demographics/FHIR/R4 */
  readonly baseUrl: string;
  /** e.g. https://int.api.service.nhs.uk/oauth2/token */
  readonly tokenUrl: string;
  /** The application's API key (the JWT's `iss` and `sub`). */
  readonly apiKey: string;
  readonly privateKeyFile: string;
  /** The `kid` under which the public key is published to the API platform. */
  readonly keyId: string;
}

export interface PdsFhirOptions {
  readonly settings: PdsFhirSettings;
  /** Each HTTP call is abandoned after this long (the identity check's own limit, E2). */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Seconds before a token's expiry at which a fresh one is fetched instead. */
const TOKEN_RENEW_MARGIN_SECONDS = 30;
const ASSERTION_LIFETIME_SECONDS = 240;

export function createPdsFhir(config: Config, logger: Logger): PatientDemographics {
  const settings = config.identityChecks.demographics.pds;
  if (!settings) throw new ConfigError('DEMOGRAPHICS_SOURCE=pds-fhir needs the PDS_* settings');
  return createPdsFhirClient({ settings, timeoutMs: config.identityChecks.timeoutMs, logger });
}

export function createPdsFhirClient(options: PdsFhirOptions): PatientDemographics {
  const { settings, timeoutMs, logger } = options;
  const key = loadSigningKey(settings.privateKeyFile);
  const log = logger.child({ component: 'pds-fhir' });
  let token: { value: string; expiresAt: number } | undefined;
  let pendingToken: Promise<string> | undefined;

  async function accessToken(): Promise<string> {
    if (token && token.expiresAt - TOKEN_RENEW_MARGIN_SECONDS * 1000 > Date.now()) return token.value;
    // One token request at a time: concurrent traces wait for the same answer.
    pendingToken ??= fetchToken().finally(() => {
      pendingToken = undefined;
    });
    return pendingToken;
  }

  async function fetchToken(): Promise<string> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS512', typ: 'JWT', kid: settings.keyId })
      .setIssuer(settings.apiKey)
      .setSubject(settings.apiKey)
      .setAudience(settings.tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .sign(key);
    const response = await fetch(settings.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!response.ok || typeof body.access_token !== 'string') {
      throw new PdsCallFailed(`token endpoint answered ${response.status}`, response.status);
    }
    // The API platform sends expires_in as a string of seconds ("599").
    const lifetime = Number(body.expires_in);
    token = { value: body.access_token, expiresAt: Date.now() + (Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 300) * 1000 };
    return token.value;
  }

  /** GET with a fresh X-Request-ID; one retry with a new token when the first one is refused. */
  async function get(pathAndQuery: string): Promise<{ status: number; body: FhirResource | undefined; requestId: string }> {
    for (let attempt = 1; ; attempt += 1) {
      const requestId = randomUUID();
      const response = await fetch(`${settings.baseUrl.replace(/\/$/, '')}/${pathAndQuery}`, {
        headers: { authorization: `Bearer ${await accessToken()}`, accept: 'application/fhir+json', 'x-request-id': requestId },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await response.json().catch(() => undefined)) as FhirResource | undefined;
      if (response.status === 401 && attempt === 1) {
        token = undefined;
        continue;
      }
      return { status: response.status, body, requestId };
    }
  }

  async function trace(query: TraceQuery): Promise<TraceResult> {
    try {
      const answer = query.nhsNumber
        ? await get(`Patient/${encodeURIComponent(query.nhsNumber)}`)
        : await get(`Patient?${searchParameters(query)}`);
      const outcome = spineErrorCode(answer.body);
      const facts = { status: answer.status, spineError: outcome, requestId: answer.requestId, by: query.nhsNumber ? 'nhs-number' : 'search' };
      if (noSuchPatient(answer.status, outcome)) {
        log.info(facts, 'PDS has no such patient');
        return { kind: 'not-matched', why: 'no-record' };
      }
      if (answer.status === 200 && outcome === 'TOO_MANY_MATCHES') {
        log.info(facts, 'PDS found several patients');
        return { kind: 'not-matched', why: 'several-records' };
      }
      if (answer.status !== 200 || !answer.body) {
        // 4xx other than "not found" is our request or our credentials: an operator must look.
        const level = answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429 ? 'error' : 'warn';
        log[level](facts, 'PDS could not answer a trace');
        return { kind: 'unavailable' };
      }
      const records = patientsIn(answer.body, Date.now()).filter((record): record is PatientRecord => record !== undefined);
      return tracePatients(records, query);
    } catch (error) {
      return unreachable(error);
    }
  }

  function unreachable(error: unknown): { kind: 'unavailable' } {
    log.warn({ reason: error instanceof PdsCallFailed ? error.message : (error as Error).name, status: error instanceof PdsCallFailed ? error.status : undefined }, 'PDS could not be reached');
    return { kind: 'unavailable' };
  }

  async function retrieve(nhsNumber: string): Promise<RetrieveResult> {
    try {
      const answer = await get(`Patient/${encodeURIComponent(nhsNumber)}`);
      const outcome = spineErrorCode(answer.body);
      const facts = { status: answer.status, spineError: outcome, requestId: answer.requestId, by: 'retrieve' };
      if (noSuchPatient(answer.status, outcome)) {
        log.info(facts, 'PDS has no such patient');
        return { kind: 'no-record' };
      }
      const [record] = answer.status === 200 && answer.body ? patientsIn(answer.body, Date.now()) : [];
      if (!record) {
        // Down, refusing us, or a record without the details a comparison needs (restricted): nothing to show.
        log.warn(facts, 'PDS could not answer a retrieval');
        return { kind: 'unavailable' };
      }
      return { kind: 'found', patient: record };
    } catch (error) {
      return unreachable(error);
    }
  }

  return { source: 'pds-fhir', enabled: true, trace, retrieve };
}

/** PDS's own "no such patient": a miss, unlike every other failure. */
function noSuchPatient(status: number, spineError: string | undefined): boolean {
  return status === 404 || (status === 400 && spineError === 'INVALID_RESOURCE_ID');
}

class PdsCallFailed extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function loadSigningKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new ConfigError(`PDS_PRIVATE_KEY_FILE ${file} could not be read as a private key: ${(error as Error).message}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) throw new ConfigError(`PDS_PRIVATE_KEY_FILE ${file} must be an RSA key of at least 2048 bits (RS512)`);
  return key;
}

/** A non-fuzzy, exact search (PDS's advice for a unique match in application-restricted mode). */
function searchParameters(query: TraceQuery): string {
  return new URLSearchParams({
    family: query.familyName ?? '',
    given: query.givenName ?? '',
    birthdate: `eq${query.birthdate}`,
    'address-postalcode': query.postcode,
    '_exact-match': 'true',
  }).toString();
}

interface Period {
  readonly start?: string;
  readonly end?: string;
}
interface FhirPatient {
  readonly resourceType: 'Patient';
  readonly id?: string;
  readonly name?: readonly { readonly use?: string; readonly given?: readonly string[]; readonly family?: string; readonly period?: Period }[];
  readonly birthDate?: string;
  readonly deceasedDateTime?: string;
  readonly address?: readonly { readonly use?: string; readonly postalCode?: string; readonly period?: Period }[];
  readonly generalPractitioner?: readonly { readonly identifier?: { readonly value?: string } }[];
}
interface FhirResource {
  readonly resourceType?: string;
  readonly entry?: readonly { readonly resource?: FhirResource }[];
  readonly issue?: readonly { readonly details?: { readonly coding?: readonly { readonly code?: string }[] } }[];
}

function spineErrorCode(body: FhirResource | undefined): string | undefined {
  if (body?.resourceType !== 'OperationOutcome') return undefined;
  return body.issue?.[0]?.details?.coding?.[0]?.code;
}

/** The patients in a retrieval (a Patient) or a search (a Bundle of them). */
function patientsIn(body: FhirResource, nowMs: number): (PatientRecord | undefined)[] {
  if (body.resourceType === 'Patient') return [toPatientRecord(body as unknown as FhirPatient, nowMs)];
  if (body.resourceType === 'Bundle') return (body.entry ?? []).map((entry) => (entry.resource?.resourceType === 'Patient' ? toPatientRecord(entry.resource as unknown as FhirPatient, nowMs) : undefined));
  return [];
}

/**
 * What carelogin keeps of a PDS Patient: its current usual name, date of birth, current home
 * postcode, registered GP practice and any date of death. A record without the parts a match
 * needs (a restricted patient's answer has no address) is left out.
 */
export function toPatientRecord(patient: FhirPatient, nowMs: number): PatientRecord | undefined {
  const today = new Date(nowMs).toISOString().slice(0, 10);
  const current = <T extends { period?: Period }>(items: readonly T[] | undefined): T[] => (items ?? []).filter((item) => !item.period?.end || item.period.end >= today);
  const names = current(patient.name);
  const name = names.find((n) => n.use === 'usual') ?? names[0];
  const addresses = current(patient.address);
  const home = addresses.find((a) => a.use === 'home') ?? addresses.find((a) => !a.use);
  if (!patient.id || !name?.family || !name.given?.length || !patient.birthDate || !home?.postalCode) return undefined;
  return {
    nhsNumber: patient.id,
    givenNames: [...name.given],
    familyName: name.family,
    birthdate: patient.birthDate,
    postcode: home.postalCode,
    gpOdsCode: patient.generalPractitioner?.[0]?.identifier?.value ?? null,
    ...(patient.deceasedDateTime ? { deceased: patient.deceasedDateTime.slice(0, 10) } : {}),
  };
}
