import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import type { JourneyFacts } from '../../interactions/engine/types.js';
import { METHODS, type MethodId } from '../../interactions/methods/registry.js';
import type { AuthMethod, Outcome, StepContext } from '../../interactions/methods/types.js';
import { toFieldErrors } from '../../interactions/runner.js';
import { PERSONAS } from '../../src/accounts/personas.js';
import { createLogger } from '../../src/logger.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { AMR_CREDENTIAL } from '../../src/provider/vectors.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { PASSKEY_MESSAGES } from '../../interactions/methods/passkey/index.js';
import { FAKE_PDS_PATIENTS } from '../../src/demographics/fake-pds-patients.js';
import { FAKE_GP_REGISTRATIONS, type FakeGpRegistration } from '../../src/gp-online/fake-gp-online.js';
import type { PatientRecord } from '../../src/demographics/patient-demographics.js';
import { addAuthenticatorApp, appCode, createAccount, TEST_PASSWORD } from './support.js';
import { jpegWithMetadata, mp4 } from '../photo-id/fixtures.js';

/** The software authenticator that holds each passkey arranged for the passkey method, by challenge. */
const authenticators = new Map<string, SoftwareAuthenticator>();

/** Authenticator app secrets of the accounts arranged for the authenticator-code method. */
const appSecrets = new Map<string, string>();

/** Recovery codes of the accounts arranged for the recovery-code method. */
const recoveryCodes = new Map<string, string[]>();

/**
 * One contract, run against every registered method (Keycloak/Kratos interface discipline).
 * FIXTURES is typed by MethodId, so registering a method without a fixture does not compile:
 * a new method cannot skip this suite.
 */
interface Arranged {
  readonly facts: JourneyFacts;
  readonly account: Account | null;
}

interface MethodFixture {
  /** The journey position this method's step is reached with. */
  arrange(test: TestIdp): Promise<Arranged>;
  /** A body the method accepts and answers with an event (for the step context `ctx`). */
  valid(test: TestIdp, arranged: Arranged, ctx: StepContext): Promise<Record<string, unknown>>;
  /** A well-formed but wrong answer; absent for a method with no wrong answers. */
  readonly wrong?: Record<string, unknown>;
  /** Why this method has no lockout of its own (the lock test is skipped); absent: it must lock. */
  readonly noLockout?: string;
  /** Bodies the schema refuses, and the message the page must give for each. */
  readonly invalid: readonly { readonly body: Record<string, unknown>; readonly field: string; readonly message: string }[];
}

const persona = PERSONAS.find((p) => p.key === 'p0')!;

const CODE_INVALID = [
  { body: {}, field: 'code', message: 'Enter the security code' },
  { body: { code: '12345' }, field: 'code', message: 'The security code must be 6 numbers' },
  { body: { code: 'abcdef' }, field: 'code', message: 'The security code must be 6 numbers' },
];

/** A living patient of the built-in fake register that no account of this test IdP is linked to. */
async function unlinkedPatient(test: TestIdp): Promise<PatientRecord> {
  const rows: { nhs_number: string }[] = await test.idp.db.dataSource.query('SELECT nhs_number FROM account WHERE nhs_number IS NOT NULL');
  const linked = new Set(rows.map((row) => row.nhs_number));
  const patient = FAKE_PDS_PATIENTS.find((p) => !p.deceased && !linked.has(p.nhsNumber));
  if (!patient) throw new Error('every patient of the fake register is linked already');
  return patient;
}

/** A fake GP online registration whose patient no account of this test IdP is linked to. */
async function unlinkedRegistration(test: TestIdp): Promise<FakeGpRegistration> {
  const rows: { nhs_number: string }[] = await test.idp.db.dataSource.query('SELECT nhs_number FROM account WHERE nhs_number IS NOT NULL');
  const linked = new Set(rows.map((row) => row.nhs_number));
  const registration = [...FAKE_GP_REGISTRATIONS].reverse().find((r) => !linked.has(r.nhsNumber));
  if (!registration) throw new Error('every fake GP registration is linked already');
  return registration;
}

/** The newest 6-digit code sent to an email address or mobile number. */
async function newestCodeTo(test: TestIdp, recipient: string): Promise<string> {
  const rows: { body: string }[] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, [recipient]);
  const code = /\b(\d{6})\b/.exec(rows[0]?.body ?? '')?.[1];
  if (!code) throw new Error(`no code sent to ${recipient}`);
  return code;
}

const FIXTURES: Record<MethodId, MethodFixture> = {
  email: {
    arrange: async () => ({ facts: {}, account: null }),
    valid: async () => ({ email: 'someone@example.test' }),
    invalid: [
      { body: {}, field: 'email', message: 'Enter your email address' },
      { body: { email: '   ' }, field: 'email', message: 'Enter your email address' },
      { body: { email: 'not-an-email' }, field: 'email', message: 'Enter an email address in the correct format, like name@example.com' },
      { body: { email: 'a@b' }, field: 'email', message: 'Enter an email address in the correct format, like name@example.com' },
      { body: { email: 'a b@example.test' }, field: 'email', message: 'Enter an email address in the correct format, like name@example.com' },
      { body: { email: ['a@example.test', 'b@example.test'] }, field: 'email', message: 'Enter your email address' },
      { body: { email: `${'a'.repeat(320)}@example.test` }, field: 'email', message: 'Email address must be 320 characters or fewer' },
    ],
  },
  password: {
    async arrange(test) {
      const account = await createAccount(test);
      return { facts: { email: account.email }, account: null };
    },
    valid: async () => ({ password: TEST_PASSWORD }),
    wrong: { password: 'not the right password' },
    invalid: [
      { body: {}, field: 'password', message: 'Enter your password' },
      { body: { password: '' }, field: 'password', message: 'Enter your password' },
    ],
  },
  'sms-code': {
    async arrange(test) {
      const account = await test.idp.services.accounts.findByEmail(persona.email);
      // Each run starts unlocked: earlier tests in this file may have locked the persona's code step.
      await test.idp.db.dataSource.query(`DELETE FROM attempt_counter WHERE key LIKE 'security-code:%'`);
      return { facts: { hasVerifiedMobile: true }, account };
    },
    valid: async (test) => ({ code: test.idp.config.personas.securityCode! }),
    wrong: { code: '000000' },
    invalid: [
      { body: {}, field: 'code', message: 'Enter the security code' },
      { body: { code: ' ' }, field: 'code', message: 'Enter the security code' },
      { body: { code: '12345' }, field: 'code', message: 'The security code must be 6 numbers' },
      { body: { code: '1234567' }, field: 'code', message: 'The security code must be 6 numbers' },
      { body: { code: 'abcdef' }, field: 'code', message: 'The security code must be 6 numbers' },
    ],
  },
  // Codes come from the app's secret; each arrangement is a new account, so a code is never a reused one.
  'authenticator-code': {
    async arrange(test) {
      const account = await createAccount(test);
      const secret = await addAuthenticatorApp(test, account);
      appSecrets.set(account.id, secret);
      return { facts: { hasVerifiedMobile: true, hasAuthenticatorApp: true }, account: await test.idp.services.accounts.findById(account.id) };
    },
    valid: async (_test, arranged) => ({ code: await appCode(appSecrets.get(arranged.account!.id)!) }),
    wrong: { code: '000000' },
    invalid: CODE_INVALID,
  },
  // A software authenticator signs; each arrangement is a new account and passkey and a new challenge.
  passkey: {
    async arrange(test) {
      const account = await createAccount(test);
      const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
      const { passkeys } = test.idp.services;
      const { options, token } = await passkeys.registrationOptions(account, 'contract');
      await passkeys.register(account, 'contract', token, authenticator.register(options as never), 'contract test', { ip: '127.0.0.1' });
      const challenge = passkeys.newChallenge();
      authenticators.set(challenge, authenticator);
      return { facts: { passkeyChallenge: challenge }, account: null };
    },
    async valid(test, arranged) {
      const challenge = arranged.facts.passkeyChallenge!;
      const options = await test.idp.services.passkeys.authenticationOptions(challenge);
      return { credential: JSON.stringify(authenticators.get(challenge)!.authenticate(options)) };
    },
    wrong: { credential: JSON.stringify({ id: 'not-a-passkey', type: 'public-key', response: {} }) },
    noLockout: 'a wrong answer is a forged signature, which no number of guesses finds; failures count against the IP',
    invalid: [
      { body: {}, field: 'credential', message: PASSKEY_MESSAGES.missing },
      { body: { credential: '' }, field: 'credential', message: PASSKEY_MESSAGES.missing },
    ],
  },
  // "I cannot access my mobile" (recovery): codes are random, read from the outbox.
  'change-mobile-email-code': {
    async arrange(test) {
      return { facts: { hasVerifiedMobile: true }, account: await createAccount(test) };
    },
    valid: async (test, arranged) => ({ code: await newestCodeTo(test, arranged.account!.email) }),
    wrong: { code: '000000' },
    invalid: CODE_INVALID,
  },
  'change-mobile-number': {
    async arrange(test) {
      return { facts: { hasVerifiedMobile: true }, account: await createAccount(test) };
    },
    valid: async () => ({ mobile: '07400 123 456' }),
    invalid: [
      { body: {}, field: 'mobile', message: 'Enter your new mobile phone number' },
      { body: { mobile: '  ' }, field: 'mobile', message: 'Enter your new mobile phone number' },
      { body: { mobile: '020 7946 0000' }, field: 'mobile', message: 'Enter a mobile phone number. This is a landline number, which cannot receive text messages' },
      { body: { mobile: '+33 6 12 34 56 78' }, field: 'mobile', message: 'Enter a UK mobile phone number. We cannot send text messages to numbers outside the UK' },
      { body: { mobile: 'not a number' }, field: 'mobile', message: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982' },
    ],
  },
  'change-mobile-code': {
    async arrange(test) {
      const newMobile = `+4474001${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
      return { facts: { hasVerifiedMobile: true, newMobile }, account: await createAccount(test) };
    },
    valid: async (test, arranged) => ({ code: await newestCodeTo(test, arranged.facts.newMobile!) }),
    wrong: { code: '000000' },
    invalid: CODE_INVALID,
  },
  // The "being changed" page after "I cannot access my mobile": Continue only, nothing to get wrong.
  // Each arrangement is a new account with a new set; the valid answer is its first code, used once.
  'recovery-code': {
    async arrange(test) {
      const account = await createAccount(test);
      recoveryCodes.set(account.id, await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' }));
      return { facts: { hasVerifiedMobile: true, hasRecoveryCodes: true }, account: await test.idp.services.accounts.findById(account.id) };
    },
    valid: async (_test, arranged) => ({ code: recoveryCodes.get(arranged.account!.id)![0]! }),
    wrong: { code: '0000 0000 0000 0000' },
    invalid: [
      { body: {}, field: 'code', message: 'Enter a recovery code' },
      { body: { code: '   ' }, field: 'code', message: 'Enter a recovery code' },
      { body: { code: '123456' }, field: 'code', message: 'Enter a recovery code in the right format: 16 letters and numbers, like 7KQ2 M9XD 4TRB H0WE' },
      { body: { code: 'UUUU UUUU UUUU UUUU' }, field: 'code', message: 'Enter a recovery code in the right format: 16 letters and numbers, like 7KQ2 M9XD 4TRB H0WE' },
    ],
  },
  'new-recovery-codes': {
    async arrange(test) {
      const account = await createAccount(test);
      await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' });
      return { facts: {}, account: await test.idp.services.accounts.findById(account.id) };
    },
    valid: async () => ({}),
    invalid: [],
  },
  // A new app after a recovery code: the setup token is sealed for the account and the interaction.
  'set-up-authenticator-app': {
    async arrange(test) {
      const account = await createAccount(test);
      return { facts: { recoveryCodeUsedAt: Math.floor(Date.now() / 1000) }, account: await test.idp.services.accounts.findById(account.id) };
    },
    async valid(test, arranged, ctx) {
      const pending = test.idp.services.authenticatorApps.begin(arranged.account!.id, ctx.uid);
      return { setup: pending.token, code: await appCode(pending.secret) };
    },
    wrong: { setup: '', code: '000000' },
    noLockout: 'the person on the page is shown the secret, so a wrong code guesses nothing',
    invalid: [
      { body: {}, field: 'code', message: 'Enter the security code' },
      { body: { code: '12345' }, field: 'code', message: 'The security code must be 6 numbers' },
    ],
  },
  'mobile-change-held': {
    async arrange(test) {
      const account = await createAccount(test);
      const newMobile = `+4474009${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
      await test.idp.db.dataSource.transaction((manager) => test.idp.services.mobileChanges.hold(manager, { accountId: account.id, email: account.email, oldMobile: account.mobileNumber, newMobile }));
      return { facts: { newMobile }, account };
    },
    valid: async () => ({}),
    invalid: [],
  },
  // Creating an account and adding a mobile (create-account, sign-in without a mobile).
  'new-account': {
    arrange: async () => ({ facts: {}, account: null }),
    valid: async () => ({ email: `contract-${randomUUID()}@example.test`, password: 'tractor lemon harbour', terms: 'agreed' }),
    invalid: [
      { body: { password: 'tractor lemon harbour', terms: 'agreed' }, field: 'email', message: 'Enter your email address' },
      { body: { email: 'not-an-email', password: 'tractor lemon harbour', terms: 'agreed' }, field: 'email', message: 'Enter an email address in the correct format, like name@example.com' },
      { body: { email: 'a@example.test', password: 'short', terms: 'agreed' }, field: 'password', message: 'Password must be 12 characters or more' },
      { body: { email: 'a@example.test', password: 'Password123456', terms: 'agreed' }, field: 'password', message: 'Choose a password that is harder to guess. This one is too common' },
      { body: { email: 'a@example.test', password: 'tractor lemon harbour' }, field: 'terms', message: 'Confirm that you agree to the terms of use' },
    ],
  },
  'confirm-email': {
    async arrange(test) {
      const email = `contract-${randomUUID()}@example.test`;
      const hash = await test.idp.services.hasher.hash(TEST_PASSWORD);
      await test.idp.db.dataSource.query('INSERT INTO account (email, email_normalised, password_hash) VALUES ($1, $1, $2)', [email, hash]);
      return { facts: { email }, account: await test.idp.services.accounts.findByEmail(email) };
    },
    valid: async (test, arranged) => ({ code: await newestCodeTo(test, arranged.facts.email!) }),
    wrong: { code: '000000' },
    invalid: CODE_INVALID,
  },
  'mobile-number': {
    async arrange(test) {
      return { facts: { hasVerifiedMobile: false }, account: await createAccount(test, { mobile: false }) };
    },
    valid: async () => ({ mobile: '07400 123 456' }),
    invalid: [
      { body: {}, field: 'mobile', message: 'Enter your mobile phone number' },
      { body: { mobile: '  ' }, field: 'mobile', message: 'Enter your mobile phone number' },
      { body: { mobile: '020 7946 0000' }, field: 'mobile', message: 'Enter a mobile phone number. This is a landline number, which cannot receive text messages' },
      { body: { mobile: '09098 790123' }, field: 'mobile', message: 'Enter a mobile phone number. This is a premium rate or special service number, which cannot receive text messages from us' },
      { body: { mobile: 'not a number' }, field: 'mobile', message: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982' },
    ],
  },
  'demographics-match': {
    async arrange(test) {
      return { facts: { stepUp: { reason: 'proofing', missing: [], level: 'P5' } }, account: await createAccount(test) };
    },
    // A register patient no account holds yet, so a valid answer is a first match (not "already linked").
    valid: async (test) => {
      const patient = await unlinkedPatient(test);
      const [year, month, day] = patient.birthdate.split('-');
      return { 'nhs-number': patient.nhsNumber, 'birthdate-day': day!, 'birthdate-month': month!, 'birthdate-year': year!, postcode: patient.postcode };
    },
    wrong: { 'given-name': 'Nobody', 'family-name': 'Known', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1970', postcode: 'ZZ1 1ZZ' },
    invalid: [
      { body: {}, field: 'given-name', message: 'Enter your first name, or your NHS number' },
      { body: { 'nhs-number': '12345' }, field: 'nhs-number', message: 'NHS number must be 10 numbers' },
      { body: { 'nhs-number': '9910113717' }, field: 'nhs-number', message: 'Enter a valid NHS number' },
      { body: { 'given-name': 'Jo3', 'family-name': 'Reid' }, field: 'given-name', message: 'First name must only include letters a to z, hyphens, spaces and apostrophes' },
      { body: { 'given-name': 'Jo', 'family-name': 'Reid', 'birthdate-day': '31', 'birthdate-month': '2', 'birthdate-year': '1990' }, field: 'birthdate-day', message: 'Date of birth must be a real date' },
      { body: { 'given-name': 'Jo', 'family-name': 'Reid', 'birthdate-day': '1', 'birthdate-year': '1990' }, field: 'birthdate-day', message: 'Date of birth must include a month' },
      { body: { 'given-name': 'Jo', 'family-name': 'Reid', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '2990' }, field: 'birthdate-day', message: 'Date of birth must be in the past' },
      { body: { 'given-name': 'Jo', 'family-name': 'Reid', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1990', postcode: 'nowhere' }, field: 'postcode', message: 'Enter a real postcode, like LS1 4AP' },
    ],
  },
  'gp-linkage': {
    // A P5 account (its NHS number left empty, so any registration no account holds yet is its own).
    async arrange(test) {
      return { facts: { stepUp: { reason: 'proofing', missing: [], level: 'P9' }, identityLevel: 'P5' }, account: await createAccount(test, { proofingLevel: 'P5' }) };
    },
    valid: async (test) => {
      const registration = await unlinkedRegistration(test);
      const patient = FAKE_PDS_PATIENTS.find((p) => p.nhsNumber === registration.nhsNumber)!;
      const [year, month, day] = patient.birthdate.split('-');
      return { 'ods-code': registration.odsCode, 'gp-account-id': registration.accountId, 'linkage-key': registration.linkageKey, 'family-name': patient.familyName, 'birthdate-day': day!, 'birthdate-month': month!, 'birthdate-year': year! };
    },
    wrong: { 'ods-code': 'A12345', 'gp-account-id': '1234567890', 'linkage-key': 'NotTheKey123', 'family-name': 'Nobody', 'birthdate-day': '1', 'birthdate-month': '1', 'birthdate-year': '1970' },
    invalid: [
      { body: {}, field: 'ods-code', message: 'Enter your practice ODS code' },
      { body: { 'ods-code': '12345' }, field: 'ods-code', message: 'Practice ODS code must be a letter followed by 5 numbers, like A12345' },
      { body: { 'ods-code': 'a12345', 'gp-account-id': 'abc' }, field: 'gp-account-id', message: 'Account ID must be between 6 and 12 numbers' },
      { body: { 'ods-code': 'A12345', 'gp-account-id': '1234567' }, field: 'linkage-key', message: 'Enter your linkage key' },
      { body: { 'ods-code': 'A12345', 'gp-account-id': '1234567', 'linkage-key': 'short' }, field: 'linkage-key', message: 'Linkage key must be between 8 and 20 letters and numbers' },
      { body: { 'ods-code': 'A12345', 'gp-account-id': '1234567', 'linkage-key': 'LongEnough1' }, field: 'family-name', message: 'Enter your last name' },
    ],
  },
  // Photo ID: files arrive as uploads (src/web/multipart.ts); nothing is proven, so there is no lock to test (a daily quota instead).
  'photo-id': {
    async arrange(test) {
      return { facts: { stepUp: { reason: 'proofing', missing: [], level: 'P9' }, identityLevel: 'P5', photoIdDigits: '7156' }, account: await createAccount(test, { proofingLevel: 'P5' }) };
    },
    valid: async () => ({ document: 'passport', photo: { kind: 'upload', bytes: await jpegWithMetadata() }, video: { kind: 'upload', bytes: mp4(5) } }),
    wrong: { document: 'passport', photo: { kind: 'upload', bytes: Buffer.from('not a photo') }, video: { kind: 'upload', bytes: mp4(5) } },
    invalid: [
      { body: {}, field: 'document', message: 'Select the photo ID you are using' },
      { body: { document: 'library-card' }, field: 'document', message: 'Select the photo ID you are using' },
      { body: { document: 'passport' }, field: 'photo', message: 'Select a photo of your ID' },
      { body: { document: 'passport', photo: 'photo.jpg' }, field: 'photo', message: 'Select a photo of your ID' },
      { body: { document: 'passport', photo: { kind: 'upload', bytes: Buffer.from('x') } }, field: 'video', message: 'Select a video of you saying the numbers' },
    ],
  },
  'confirm-mobile': {
    async arrange(test) {
      const newMobile = `+4474002${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
      return { facts: { hasVerifiedMobile: false, newMobile }, account: await createAccount(test, { mobile: false }) };
    },
    valid: async (test, arranged) => ({ code: await newestCodeTo(test, arranged.facts.newMobile!) }),
    wrong: { code: '000000' },
    invalid: CODE_INVALID,
  },
};

describe('authentication method contract', () => {
  let test: TestIdp;
  const log = createLogger({ level: 'silent' });
  let address = 0;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function context(method: AuthMethod, arranged: Arranged): Promise<StepContext> {
    address += 1;
    const ctx: StepContext = {
      uid: randomUUID(),
      journey: 'sign-in',
      step: `step-for-${method.id}`,
      facts: arranged.facts,
      account: arranged.account,
      clientId: test.rp.clientId,
      ip: `203.0.113.${address}`,
      services: test.idp.services,
      log,
      afterCommit: (task) => {
        afterCommit.push(task);
      },
    };
    // Arrive at the step exactly as the runner does: enter() inside a transaction, then the work it left for after the commit.
    const afterCommit: (() => Promise<void>)[] = [];
    if (method.enter) await test.idp.db.dataSource.transaction((manager) => method.enter!(ctx, manager));
    for (const task of afterCommit.splice(0)) await task();
    return ctx;
  }

  function render(ctx: StepContext, view: { template: string; data: Readonly<Record<string, unknown>> }): string {
    return test.idp.services.renderer.render(view.template, { ...view.data, formAction: `/interaction/${ctx.uid}/${ctx.step}`, csrfToken: 'token-for-test' });
  }

  it('lists every method once, each in a folder of its own name', () => {
    const ids = METHODS.map((m) => m.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const id of ids) {
      expect(id).to.match(/^[a-z]+(-[a-z]+)*$/);
      expect(existsSync(path.join(PROJECT_ROOT, 'interactions', 'methods', id, 'index.ts')), `interactions/methods/${id}/index.ts`).to.equal(true);
    }
  });

  for (const method of METHODS as readonly AuthMethod[]) {
    const fixture = FIXTURES[method.id as MethodId];

    describe(`method "${method.id}"`, () => {
      it('declares its events, and what it proves in the vocabulary of vectors of trust', () => {
        expect(method.events.length).to.be.above(0);
        expect(new Set(method.events).size).to.equal(method.events.length);
        for (const event of method.events) expect(event).to.match(/^[a-z][A-Za-z]*$/);
        if (method.proves) {
          expect(method.events).to.include(method.proves.event);
          expect(AMR_CREDENTIAL[method.proves.amr], `amr ${method.proves.amr}`).to.equal(method.proves.credential);
        }
        if (method.proofs) expect(method.events).to.include(method.proofs.event);
        expect(method.proves !== undefined && method.proofs !== undefined, 'a step proves a credential or an identity, not both').to.equal(false);
        for (const field of method.redisplay) expect(['password', 'code'], 'a secret is never shown again').to.not.include(field);
      });

      for (const invalid of fixture.invalid) {
        it(`refuses ${JSON.stringify(invalid.body).slice(0, 60)} with "${invalid.message}"`, () => {
          const parsed = method.schema.safeParse(invalid.body);
          expect(parsed.success).to.equal(false);
          const errors = toFieldErrors(parsed.error!);
          expect(errors[0]).to.deep.equal({ field: invalid.field, text: invalid.message });
        });
      }

      it('writes error messages the NHS way: they say what to do, with no full stop', () => {
        for (const invalid of fixture.invalid) expect(invalid.message).to.not.match(/\.$/);
      });

      it('presents a page whose form posts to the step, carries the CSRF token and labels every field', async () => {
        const ctx = await context(method, await fixture.arrange(test));
        const view = await method.present(ctx, {});
        expect(view.status ?? 200).to.equal(200);
        const html = render(ctx, view);
        expect(html).to.contain(`<form method="post" action="/interaction/${ctx.uid}/${ctx.step}"`);
        expect(html).to.contain('name="_csrf" value="token-for-test"');
        expect(html).to.match(/<h1[^>]*>[^<]+<\/h1>/);
        for (const match of html.matchAll(/<input\b([^>]*)>/g)) {
          const attributes = match[1]!;
          if (/type="hidden"/.test(attributes)) continue;
          const id = /\bid="([^"]+)"/.exec(attributes)?.[1];
          expect(id, attributes).to.be.a('string');
          expect(html, `label for ${id}`).to.contain(`for="${id}"`);
          expect(attributes, `autocomplete on ${id}`).to.match(/\bautocomplete="[a-z-]+"/);
        }
      });

      it('answers a valid submission with one of its events', async () => {
        const arranged = await fixture.arrange(test);
        const ctx = await context(method, arranged);
        const parsed = method.schema.safeParse(await fixture.valid(test, arranged, ctx));
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).to.equal(true);
        const outcome = await method.submit(ctx, parsed.data);
        expect(outcome.kind, JSON.stringify(outcome)).to.equal('event');
        const event = (outcome as Extract<Outcome, { kind: 'event' }>).event;
        expect(method.events).to.include(event);
        if (method.proves) expect(event).to.equal(method.proves.event);
        if (method.proofs) expect(event).to.equal(method.proofs.event);
      });

      if (fixture.wrong) {
        const wrong = fixture.wrong;
        it('answers a wrong answer with a retry whose errors point at fields on the page', async () => {
          const ctx = await context(method, await fixture.arrange(test));
          const outcome = await method.submit(ctx, method.schema.parse(wrong));
          expect(outcome.kind).to.equal('retry');
          const errors = (outcome as Extract<Outcome, { kind: 'retry' }>).errors ?? [];
          expect(errors.length).to.be.above(0);
          const html = render(ctx, await method.present(ctx, { errors }));
          for (const error of errors) {
            expect(html).to.contain(`id="${error.field}"`);
            expect(html).to.contain(`href="#${error.field}"`);
            expect(error.text).to.not.match(/\.$/);
          }
        });
      }

      if ((method.proves || method.proofs) && fixture.wrong && !fixture.noLockout) {
        const wrong = fixture.wrong;
        it('never proves anything once too many wrong answers have locked it, even with the right answer', async function () {
          this.timeout(60_000);
          const arranged = await fixture.arrange(test);
          const ctx = await context(method, arranged);
          const limit = Math.max(test.idp.config.limits.passwordAttempts, test.idp.config.limits.securityCodeAttempts, test.idp.config.identityChecks.maxAttempts);
          for (let i = 0; i < limit; i++) await method.submit(ctx, method.schema.parse(wrong));
          const outcome = await method.submit(ctx, method.schema.parse(await fixture.valid(test, arranged, ctx)));
          expect(outcome.kind).to.not.equal('event');
        });
      }
    });
  }
});
