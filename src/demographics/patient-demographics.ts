/**
 * The port to the national register of patients (NHS England's Personal Demographics Service,
 * PDS), which carelogin does not own. A P5 identity check is a trace: the details a person types
 * are matched against the register, and only a single, unambiguous, living record counts.
 *
 * Adapters (DEMOGRAPHICS_SOURCE, docs/configuration.md): `fake-pds` (fake-pds.ts, a documented
 * register of fictional patients for development and RP testing), `unavailable` (a register that
 * is always down, to test that branch), `none` (identity checks switched off) and `pds-fhir`
 * (pds-fhir.ts: the real register through NHS England's PDS FHIR API).
 */
export interface TraceQuery {
  /** Ten digits, checksum-valid; when given, the trace is by NHS number and names are not needed. */
  readonly nhsNumber?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  /** YYYY-MM-DD. */
  readonly birthdate: string;
  readonly postcode: string;
}

/** A patient's record as the register holds it: what a successful check copies onto the account. */
export interface PatientRecord {
  readonly nhsNumber: string;
  /** Given names in order; the first is the one people are matched on. */
  readonly givenNames: readonly string[];
  readonly familyName: string;
  readonly birthdate: string;
  /** Formatted as the register holds it ("LS1 4AP"). */
  readonly postcode: string;
  /** The ODS code of the GP practice the patient is registered with. */
  readonly gpOdsCode: string | null;
  /** YYYY-MM-DD when the register records a death. */
  readonly deceased?: string;
}

export type TraceResult =
  | { readonly kind: 'matched'; readonly patient: PatientRecord }
  /** No record, several records, or a record that fails a detail: never said apart to the person. */
  | { readonly kind: 'not-matched'; readonly why: 'no-record' | 'several-records' | 'details-differ' | 'deceased' }
  /** The register could not be asked (down, timed out): nothing is counted against the person. */
  | { readonly kind: 'unavailable' };

/** The register's record for an NHS number, as PDS's "retrieve patient" answers (deceased records included). */
export type RetrieveResult =
  | { readonly kind: 'found'; readonly patient: PatientRecord }
  | { readonly kind: 'no-record' }
  | { readonly kind: 'unavailable' };

export interface PatientDemographics {
  /** Which adapter this is, for logs, the start page and the audit trail. */
  readonly source: 'fake-pds' | 'pds-fhir' | 'unavailable' | 'none';
  /** False when identity checks are switched off (DEMOGRAPHICS_SOURCE=none). */
  readonly enabled: boolean;
  trace(query: TraceQuery): Promise<TraceResult>;
  /**
   * The record held under an NHS number, whatever it says (a death included): for the back office's
   * re-check of a case (docs/back-office.md), never for a person's own check, which is a trace.
   */
  retrieve(nhsNumber: string): Promise<RetrieveResult>;
}

/** Upper case without spaces: "ls1 4ap" and "LS14AP" are the same postcode. */
export function postcodeKey(postcode: string): string {
  return postcode.replace(/\s+/g, '').toUpperCase();
}

/**
 * How names are compared: case, accents, spacing and the kind of apostrophe or hyphen people type
 * do not matter ("O’Brien" = "o'brien", "Zoë" = "Zoe", "Smith-Jones" = "smith jones").
 */
export function nameKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\u2018\u2019`´]/g, "'")
    .replace(/[\s\u2010-\u2015-]+/g, ' ')
    .trim();
}
