/**
 * What the demo service's start page lets a developer choose, and how a submitted form becomes the
 * parameters of an authorization request. Kept apart from the routes so the rules are in one place.
 */
import type { FieldError } from '../web/renderer.js';
import { DEFAULT_VTR } from '../provider/vectors.js';

export interface VtrChoice {
  readonly value: string;
  readonly label: string;
  readonly hint: string;
  /** The vectors sent as `vtr`; undefined = leave the parameter out and get NHS login's default. */
  readonly vtr?: readonly string[];
}

export const VTR_CHOICES: readonly VtrChoice[] = [
  { value: 'P0.Cp.Cd', vtr: ['P0.Cp.Cd'], label: 'P0.Cp.Cd (low)', hint: 'Any account with a confirmed email address and phone number. No identity checks.' },
  { value: 'P5.Cp.Cd', vtr: ['P5.Cp.Cd'], label: 'P5.Cp.Cd (medium)', hint: 'The person’s details have been matched to an NHS record, but not checked against photo ID.' },
  { value: 'P9.Cp.Cd', vtr: ['P9.Cp.Cd'], label: 'P9.Cp.Cd (high)', hint: 'The person has proved who they are with photo ID.' },
  { value: 'P9.Cp.Ck', vtr: ['P9.Cp.Ck'], label: 'P9.Cp.Ck (high, authenticator app)', hint: 'As P9.Cp.Cd, but the second step must be a code from an authenticator app, not a text message.' },
  { value: 'P9.Cm', vtr: ['P9.Cm'], label: 'P9.Cm (high, passkey)', hint: 'A passkey only: no password or security code. The person needs a passkey saved in their carelogin account.' },
  {
    value: 'default',
    label: 'NHS login’s default: ["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]',
    hint: 'No vtr parameter is sent, so the identity provider applies the default: high identity level with a security code, key or biometric.',
  },
];
export const DEFAULT_VTR_CHOICE = 'P9.Cp.Cd';

export interface ScopeChoice {
  readonly value: string;
  readonly hint: string;
}

/** NHS login's scopes other than openid, which is always sent (nhs-login.md §2). */
export const SCOPE_CHOICES: readonly ScopeChoice[] = [
  { value: 'profile', hint: 'NHS number, family name, date of birth and identity level (P5 and P9 only)' },
  { value: 'basic_demographics', hint: 'Family name, date of birth and identity level, without the NHS number (P5 and P9 only)' },
  { value: 'profile_extended', hint: 'Given name (P5 and P9 only)' },
  { value: 'email', hint: 'Email address and whether it is verified' },
  { value: 'phone', hint: 'Mobile number, whether it is verified, and whether it matches the NHS record' },
  { value: 'landline', hint: 'Landline number and whether it is verified' },
  { value: 'gp_registration_details', hint: 'The ODS code of the GP surgery (P5 and P9 only)' },
  { value: 'gp_integration_credentials', hint: 'GP online services credentials: user ID, linkage key and ODS code (P9 only)' },
  { value: 'client_metadata', hint: 'A value this service can store against the person' },
  { value: 'offline_access', hint: 'Ask for access while the person is away. This service is registered for refresh tokens, so carelogin issues one either way' },
];
export const DEFAULT_SCOPES: readonly string[] = ['profile', 'email', 'phone', 'gp_registration_details'];

export const PROMPT_CHOICES = [
  { value: '', label: 'Not sent', hint: 'Use an existing carelogin sign-in if there is one, otherwise ask the person to sign in.' },
  { value: 'login', label: 'login', hint: 'Always ask the person to sign in again.' },
  { value: 'none', label: 'none', hint: 'Never show a page: come straight back, with the error sso_login_required if there is no sign-in to use.' },
] as const;

/** A validated start-page submission. */
export interface LoginChoice {
  readonly vtrChoice: string;
  /** Sent as `vtr` (JSON array) when defined. */
  readonly vtr?: readonly string[];
  /** The vectors the `vot` must be one of: what was sent, or the default when nothing was. */
  readonly expectedVectors: readonly string[];
  /** Always starts with openid. */
  readonly scopes: readonly string[];
  readonly prompt: '' | 'login' | 'none';
  readonly hideRegistration: boolean;
}

export type ParsedLogin = { readonly ok: true; readonly choice: LoginChoice } | { readonly ok: false; readonly errors: FieldError[]; readonly form: FormValues };

/** The form as the template redisplays it. */
export interface FormValues {
  readonly vtrChoice: string;
  readonly scopes: readonly string[];
  readonly prompt: string;
  readonly hideRegistration: boolean;
}

export const DEFAULT_FORM: FormValues = { vtrChoice: DEFAULT_VTR_CHOICE, scopes: DEFAULT_SCOPES, prompt: '', hideRegistration: false };

function asStrings(value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

function single(value: unknown): string | undefined {
  const all = asStrings(value);
  return all.length === 1 ? all[0] : undefined;
}

/** Turns the posted form into an authorization request choice, or field errors to show. */
export function parseLoginForm(body: Record<string, unknown>): ParsedLogin {
  const vtrChoice = single(body.vtr) ?? '';
  const known = new Set(SCOPE_CHOICES.map((s) => s.value));
  const chosenScopes = [...new Set(asStrings(body.scope))].filter((scope) => known.has(scope));
  const prompt = single(body.prompt) ?? '';
  const hideRegistration = single(body.hide_registration) === 'true';
  const form: FormValues = { vtrChoice, scopes: chosenScopes, prompt, hideRegistration };

  const errors: FieldError[] = [];
  const choice = VTR_CHOICES.find((c) => c.value === vtrChoice);
  if (!choice) errors.push({ field: 'vtr', text: 'Select the level of identity this service needs' });
  if (chosenScopes.includes('profile') && chosenScopes.includes('basic_demographics')) {
    errors.push({ field: 'scope', text: 'Select either profile or basic_demographics, not both' });
  }
  if (prompt !== '' && prompt !== 'login' && prompt !== 'none') errors.push({ field: 'prompt', text: 'Select a prompt value' });
  if (errors.length > 0 || !choice) return { ok: false, errors, form };

  // Keep the order of the page so the request is predictable.
  const scopes = ['openid', ...SCOPE_CHOICES.map((s) => s.value).filter((s) => chosenScopes.includes(s))];
  return {
    ok: true,
    choice: {
      vtrChoice,
      vtr: choice.vtr,
      expectedVectors: choice.vtr ?? DEFAULT_VTR,
      scopes,
      prompt: prompt as LoginChoice['prompt'],
      hideRegistration,
    },
  };
}
