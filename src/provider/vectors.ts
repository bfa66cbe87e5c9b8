/**
 * NHS login's vectors of trust (RFC 8485): identity proofing P0/P5/P9 and credentials Cp/Cd/Ck/Cm.
 * A vector such as "P9.Cp.Cd" lists components in any order; an omitted dimension means "any".
 */
export type ProofingLevel = 'P0' | 'P5' | 'P9';
export type CredentialComponent = 'Cp' | 'Cd' | 'Ck' | 'Cm';

export const PROOFING_LEVELS: readonly ProofingLevel[] = ['P0', 'P5', 'P9'];
export const CREDENTIAL_COMPONENTS: readonly CredentialComponent[] = ['Cp', 'Cd', 'Ck', 'Cm'];
export const DEFAULT_VTR: readonly string[] = ['P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm'];

/** The profiles NHS login's interface specification lists (EIS table 21). */
export const NHS_LOGIN_PROFILES: readonly string[] = [
  'P0.Cp', 'P0.Cp.Cd', 'P0.Cp.Ck', 'P0.Cm',
  'P5.Cp', 'P5.Cp.Cd', 'P5.Cp.Ck', 'P5.Cm',
  'P9.Cp', 'P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm',
];

export interface Vector {
  readonly proofing?: ProofingLevel;
  /** Sorted in canonical order Cp, Cd, Ck, Cm. */
  readonly credentials: readonly CredentialComponent[];
}

export class VectorSyntaxError extends Error {}

const RANK: Record<ProofingLevel, number> = { P0: 0, P5: 5, P9: 9 };

/** Parses one vector string; throws VectorSyntaxError naming the bad component. */
export function parseVector(text: string): Vector {
  if (typeof text !== 'string' || text.length === 0 || text.length > 40) throw new VectorSyntaxError(`"${String(text)}" is not a vector`);
  let proofing: ProofingLevel | undefined;
  const credentials = new Set<CredentialComponent>();
  for (const part of text.split('.')) {
    if ((PROOFING_LEVELS as readonly string[]).includes(part)) {
      if (proofing) throw new VectorSyntaxError(`"${text}" has more than one identity proofing component`);
      proofing = part as ProofingLevel;
    } else if ((CREDENTIAL_COMPONENTS as readonly string[]).includes(part)) {
      if (credentials.has(part as CredentialComponent)) throw new VectorSyntaxError(`"${text}" repeats ${part}`);
      credentials.add(part as CredentialComponent);
    } else {
      throw new VectorSyntaxError(`"${text}" has an unknown component "${part}" (expected P0, P5, P9, Cp, Cd, Ck or Cm)`);
    }
  }
  if (!proofing && credentials.size === 0) throw new VectorSyntaxError(`"${text}" is empty`);
  return { proofing, credentials: CREDENTIAL_COMPONENTS.filter((c) => credentials.has(c)) };
}

/** Canonical string form: "P9.Cp.Cd". */
export function formatVector(vector: Vector): string {
  return [vector.proofing, ...vector.credentials].filter(Boolean).join('.');
}

/** Parses the `vtr` request parameter: a JSON array of vector strings. */
export function parseVtr(raw: string | undefined): Vector[] {
  if (raw === undefined || raw === '') return DEFAULT_VTR.map(parseVector);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new VectorSyntaxError('vtr must be a JSON array of strings, for example ["P9.Cp.Cd"]');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 12) {
    throw new VectorSyntaxError('vtr must be a non-empty JSON array of at most 12 vectors');
  }
  return parsed.map((item) => {
    if (typeof item !== 'string') throw new VectorSyntaxError('every vtr entry must be a string');
    return parseVector(item);
  });
}

/** True when `requested` asks for nothing beyond `allowed` (a client's registered vector). */
export function vectorWithin(requested: Vector, allowed: Vector): boolean {
  if (allowed.proofing && requested.proofing !== allowed.proofing) return false;
  return sameCredentials(requested.credentials, allowed.credentials) || allowed.credentials.length === 0;
}

function sameCredentials(a: readonly CredentialComponent[], b: readonly CredentialComponent[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

export function proofingAtLeast(actual: ProofingLevel, required: ProofingLevel): boolean {
  return RANK[actual] >= RANK[required];
}

/** Authentication method references (RFC 8176 where one exists) and the credential each proves. */
export const AMR_CREDENTIAL: Readonly<Record<string, CredentialComponent>> = {
  pwd: 'Cp',
  sms: 'Cd',
  remembered_device: 'Cd',
  otp: 'Ck',
  hwk: 'Cm',
};

export function credentialsFromAmr(amr: readonly string[] | undefined): Set<CredentialComponent> {
  const achieved = new Set<CredentialComponent>();
  for (const method of amr ?? []) {
    const credential = AMR_CREDENTIAL[method];
    if (credential) achieved.add(credential);
  }
  return achieved;
}

export type Achievement =
  | { readonly met: true; readonly vot: string }
  | { readonly met: false; readonly reason: 'credentials' | 'proofing'; readonly needed: Vector };

/**
 * Which requested vector this sign-in meets, and so the `vot` to report. Never reports more than was
 * proven: the P component is the requested level (not the account's higher one), the credentials are
 * the requested ones, or the achieved ones when the vector left credentials open. When several
 * vectors are met the highest identity level wins, then the first listed.
 */
export function assessVectors(requested: readonly Vector[], account: ProofingLevel, achieved: ReadonlySet<CredentialComponent>): Achievement {
  let best: { vector: Vector; rank: number } | undefined;
  for (const vector of requested) {
    const level = vector.proofing ?? account;
    if (!proofingAtLeast(account, level)) continue;
    if (!vector.credentials.every((c) => achieved.has(c))) continue;
    const rank = RANK[level];
    if (!best || rank > best.rank) best = { vector: { proofing: level, credentials: vector.credentials }, rank };
  }
  if (best) {
    const credentials = best.vector.credentials.length > 0 ? best.vector.credentials : CREDENTIAL_COMPONENTS.filter((c) => achieved.has(c));
    return { met: true, vot: formatVector({ proofing: best.vector.proofing, credentials }) };
  }
  const reachable = requested.find((v) => proofingAtLeast(account, v.proofing ?? account));
  if (reachable) return { met: false, reason: 'credentials', needed: reachable };
  const lowest = [...requested].sort((a, b) => RANK[a.proofing ?? 'P0'] - RANK[b.proofing ?? 'P0'])[0]!;
  return { met: false, reason: 'proofing', needed: lowest };
}
