import { z } from 'zod';
import { emailAddressField } from '../accounts/email-address.js';
import { isValidNhsNumber, normaliseNhsNumber } from '../accounts/nhs-number.js';
import { checkPassword, PASSWORD_MESSAGES } from '../accounts/password-policy.js';
import { parseUkMobile } from '../accounts/uk-mobile.js';
import type { ProofingLevel } from '../../entities/account.js';
import { CareloginError } from '../errors.js';

/**
 * What a developer may ask of a test user (NHS login's test-data request template, nhs-login.md
 * §5.5): one schema for the command, the page and the JSON API. Anything not given is generated
 * (src/test-users/generate.ts). Messages follow the NHS design system, for the page's error summary.
 */
export const TEST_USER_LEVELS = ['P0', 'P5', 'P9'] as const satisfies readonly ProofingLevel[];

export const TEST_USER_MESSAGES = {
  level: 'Select the proofing level: P0, P5 or P9',
  nhsNumber: 'Enter a valid NHS number, 10 digits with a correct check digit, like 999 000 5001',
  name: 'Names must be 1 to 100 letters, spaces, hyphens or apostrophes',
  birthdate: 'Date of birth must be a real date in the past, like 1985-07-14',
  postcode: 'Enter a real UK postcode, like LS1 4AP',
  gpOdsCode: 'GP practice code must be 3 to 10 letters and numbers, like A20047',
  gpUserId: 'GP online account ID must be 1 to 64 letters and numbers',
  gpLinkageKey: 'GP linkage key must be 1 to 64 letters and numbers',
  gpBoth: 'Give both the GP online account ID and the linkage key, or neither',
  gpOnlineOff: 'Remove the GP online account ID and linkage key, or allow GP online credentials',
  emailTaken: 'An account already has this email address. Choose another, or leave it blank for a new one',
  nhsNumberTaken: 'This NHS number is already used by an account, a test user or a patient of the fake register',
} as const;

const optionalText = (schema: z.ZodType<string>) => schema.optional();

const nameField = z.string().trim().regex(/^[\p{L}][\p{L}\p{M} '’-]{0,99}$/u, TEST_USER_MESSAGES.name);

const isoDate = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, TEST_USER_MESSAGES.birthdate)
  .refine((value) => {
    const date = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value && date.getTime() < Date.now() && value >= '1900-01-01';
  }, TEST_USER_MESSAGES.birthdate);

/** "ls14ap" → "LS1 4AP": the register's way of writing it. */
const postcodeField = z
  .string()
  .trim()
  .transform((value) => value.replace(/\s+/g, '').toUpperCase())
  .pipe(z.string().regex(/^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$/, TEST_USER_MESSAGES.postcode))
  .transform((value) => `${value.slice(0, -3)} ${value.slice(-3)}`);

export const testUserRequestSchema = z
  .strictObject({
    level: z.enum(TEST_USER_LEVELS, { error: TEST_USER_MESSAGES.level }),
    email: emailAddressField().optional(),
    // Never trimmed: spaces are part of a password (X3). The policy is checked below, with the address.
    password: z.string().min(1, PASSWORD_MESSAGES.missing).optional(),
    nhsNumber: optionalText(
      z
        .string()
        .transform((value, ctx) => {
          const digits = normaliseNhsNumber(value);
          if (!digits || !isValidNhsNumber(digits)) {
            ctx.addIssue({ code: 'custom', message: TEST_USER_MESSAGES.nhsNumber });
            return z.NEVER;
          }
          return digits;
        }),
    ),
    givenName: optionalText(nameField),
    familyName: optionalText(nameField),
    birthdate: optionalText(isoDate),
    postcode: optionalText(postcodeField),
    mobile: optionalText(
      z.string().transform((value, ctx) => {
        // Ofcom's drama range is never issued, so libphonenumber refuses it; a test user may have it.
        const drama = /^(?:\+44|0044|0)7700900(\d{3})$/.exec(value.replace(/[\s().-]/g, ''));
        if (drama) return `+447700900${drama[1]}`;
        const parsed = parseUkMobile(value);
        if (!parsed.ok) {
          ctx.addIssue({ code: 'custom', message: parsed.message });
          return z.NEVER;
        }
        return parsed.e164;
      }),
    ),
    gpOdsCode: optionalText(z.string().trim().toUpperCase().regex(/^[A-Z0-9]{3,10}$/, TEST_USER_MESSAGES.gpOdsCode)),
    /** GP online (IM1) credentials: generated when true, or at P9 unless false. */
    gpOnline: z.boolean().optional(),
    gpUserId: optionalText(z.string().trim().regex(/^[A-Za-z0-9]{1,64}$/, TEST_USER_MESSAGES.gpUserId)),
    gpLinkageKey: optionalText(z.string().trim().regex(/^[A-Za-z0-9]{1,64}$/, TEST_USER_MESSAGES.gpLinkageKey)),
    phonePdsMatched: z.boolean().default(false),
    /** Sign-in security codes are the fixed persona code (PERSONA_SECURITY_CODE, 190696) instead of a real one. */
    fixedCode: z.boolean().default(false),
    /** At P0: the fake register and GP system know the patient, so the P5 and P9 journeys can be tried. */
    inRegister: z.boolean().default(false),
  })
  .superRefine((request, ctx) => {
    if (request.password !== undefined) {
      const problem = checkPassword(request.password, { email: request.email });
      if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: PASSWORD_MESSAGES[problem] });
    }
    if ((request.gpUserId === undefined) !== (request.gpLinkageKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [request.gpUserId === undefined ? 'gpUserId' : 'gpLinkageKey'], message: TEST_USER_MESSAGES.gpBoth });
    } else if (request.gpUserId !== undefined && request.gpOnline === false) {
      ctx.addIssue({ code: 'custom', path: ['gpUserId'], message: TEST_USER_MESSAGES.gpOnlineOff });
    }
  });

export type TestUserRequest = z.infer<typeof testUserRequestSchema>;
export type TestUserRequestInput = z.input<typeof testUserRequestSchema>;

/** One problem with a request, named by its field (the page links its error summary to it). */
export interface TestUserProblem {
  readonly field: string;
  readonly text: string;
}

/** A request the schema or the database refused: 400, with the problems to show or print. */
export class TestUserRequestError extends CareloginError {
  constructor(readonly problems: readonly TestUserProblem[]) {
    super('test_user_request_invalid', problems.map((p) => `${p.field}: ${p.text}`).join('; '), { status: 400 });
  }
}

/** Validates a request, or throws TestUserRequestError with the first problem of each field, in field order. */
export function parseTestUserRequest(input: unknown): TestUserRequest {
  const parsed = testUserRequestSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems: TestUserProblem[] = [];
  for (const issue of parsed.error.issues) {
    const unknown = issue.code === 'unrecognized_keys';
    const field = unknown ? issue.keys[0]! : String(issue.path[0] ?? 'form');
    const text = unknown ? `Unknown field: ${issue.keys.join(', ')}` : issue.message;
    if (!problems.some((p) => p.field === field)) problems.push({ field, text });
  }
  const order = Object.keys(testUserRequestSchema.shape) as string[];
  const position = (field: string): number => (order.includes(field) ? order.indexOf(field) : order.length);
  problems.sort((a, b) => position(a.field) - position(b.field));
  throw new TestUserRequestError(problems);
}
