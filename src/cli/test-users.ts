/**
 * Test users on request, for relying-party developers (docs/personas.md "Your own test users",
 * decisions D27), like NHS login's test-data request tool:
 *   npm run test-users -- add --level P0|P5|P9 [details and flags]   (anything not given is made up)
 *   npm run test-users -- list | show --email <address>
 *   npm run test-users -- set-level --email <address> --level P0|P5|P9   ("New Level": up or down)
 *   npm run test-users -- reset --email <address>    (back to how it was made, locks lifted)
 *   npm run test-users -- remove --email <address>
 * Add --json for a machine-readable answer. Every change is audited (test_user.*). Development and
 * test only: refused when CARELOGIN_ENV=production. Run it against the same DATABASE_URL as carelogin.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadKeystore } from '../../keys/keystore.js';
import { createPasswordHasher } from '../accounts/password-hasher.js';
import { formatNhsNumber } from '../accounts/nhs-number.js';
import { formatUkMobile } from '../accounts/uk-mobile.js';
import { loadConfig, type Config } from '../config/index.js';
import { fakeRegisterPatients } from '../demographics/index.js';
import { CareloginError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { createAudit } from '../security/audit.js';
import { createKeyedDigest } from '../security/keyed-digest.js';
import { parseTestUserRequest, TEST_USER_LEVELS, TestUserRequestError, type TestUserRequestInput } from '../test-users/request.js';
import { createTestUsers, type TestUserDetails, type TestUsers } from '../test-users/test-users.js';
import type { DataSource } from 'typeorm';
import { runDatabaseCommand } from './database-command.js';

export class TestUsersUsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

const USAGE = `Usage: npm run test-users -- add --level P0|P5|P9 [--email …] [--password …] [--nhs-number …] [--given-name …] [--family-name …]
         [--birthdate YYYY-MM-DD] [--postcode …] [--mobile …] [--gp-ods-code …] [--gp-online | --no-gp-online]
         [--gp-account-id … --gp-linkage-key …] [--phone-pds-matched] [--fixed-code] [--in-register] [--json]
       npm run test-users -- list [--json]
       npm run test-users -- show --email <address> [--json]
       npm run test-users -- set-level --email <address> --level P0|P5|P9 [--json]
       npm run test-users -- reset --email <address> [--json]
       npm run test-users -- remove --email <address> [--json]`;

const COMMANDS = ['add', 'list', 'show', 'set-level', 'reset', 'remove'] as const;
type Command = (typeof COMMANDS)[number];

export type TestUsersArgs =
  | { command: 'add'; request: TestUserRequestInput; json: boolean }
  | { command: 'list'; json: boolean }
  | { command: 'show' | 'reset' | 'remove'; email: string; json: boolean }
  | { command: 'set-level'; email: string; level: (typeof TEST_USER_LEVELS)[number]; json: boolean };

const OPTIONS = {
  json: { type: 'boolean' },
  email: { type: 'string' },
  level: { type: 'string' },
  password: { type: 'string' },
  'nhs-number': { type: 'string' },
  'given-name': { type: 'string' },
  'family-name': { type: 'string' },
  birthdate: { type: 'string' },
  postcode: { type: 'string' },
  mobile: { type: 'string' },
  'gp-ods-code': { type: 'string' },
  'gp-online': { type: 'boolean' },
  'gp-account-id': { type: 'string' },
  'gp-linkage-key': { type: 'string' },
  'phone-pds-matched': { type: 'boolean' },
  'fixed-code': { type: 'boolean' },
  'in-register': { type: 'boolean' },
} as const;

/** Which options each command takes besides --json; anything else is a usage error, not silently ignored. */
const ALLOWED: Record<Command, readonly string[]> = {
  add: Object.keys(OPTIONS),
  list: ['json'],
  show: ['json', 'email'],
  'set-level': ['json', 'email', 'level'],
  reset: ['json', 'email'],
  remove: ['json', 'email'],
};

export function parseTestUsersArgs(argv: readonly string[]): TestUsersArgs {
  const [command, ...rest] = argv;
  if (!(COMMANDS as readonly string[]).includes(command ?? '')) throw new TestUsersUsageError(USAGE);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, allowPositionals: false, allowNegative: true, options: OPTIONS }));
  } catch (error) {
    throw new TestUsersUsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const cmd = command as Command;
  const extra = Object.keys(values).filter((key) => !ALLOWED[cmd].includes(key));
  if (extra.length > 0) throw new TestUsersUsageError(`${cmd} does not take --${extra.join(', --')}\n${USAGE}`);
  const json = values.json === true;
  const level = values.level as string | undefined;
  if (level !== undefined && !(TEST_USER_LEVELS as readonly string[]).includes(level)) throw new TestUsersUsageError(`--level is P0, P5 or P9\n${USAGE}`);
  if (cmd === 'list') return { command: cmd, json };
  if (cmd === 'add') {
    if (!level) throw new TestUsersUsageError(`Give --level P0, P5 or P9\n${USAGE}`);
    const text = (name: keyof typeof OPTIONS): string | undefined => values[name] as string | undefined;
    const flag = (name: keyof typeof OPTIONS): boolean | undefined => values[name] as boolean | undefined;
    const request: Record<string, unknown> = {
      level,
      email: text('email'),
      password: text('password'),
      nhsNumber: text('nhs-number'),
      givenName: text('given-name'),
      familyName: text('family-name'),
      birthdate: text('birthdate'),
      postcode: text('postcode'),
      mobile: text('mobile'),
      gpOdsCode: text('gp-ods-code'),
      gpOnline: flag('gp-online'),
      gpUserId: text('gp-account-id'),
      gpLinkageKey: text('gp-linkage-key'),
      phonePdsMatched: flag('phone-pds-matched'),
      fixedCode: flag('fixed-code'),
      inRegister: flag('in-register'),
    };
    return { command: cmd, request: Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined)) as TestUserRequestInput, json };
  }
  if (!values.email) throw new TestUsersUsageError(`Give --email\n${USAGE}`);
  const email = values.email as string;
  if (cmd === 'set-level') {
    if (!level) throw new TestUsersUsageError(`Give --level P0, P5 or P9\n${USAGE}`);
    return { command: cmd, email, level: level as (typeof TEST_USER_LEVELS)[number], json };
  }
  return { command: cmd, email, json };
}

/** The test user as plain "name: value" lines, to copy into a test script or a ticket. */
export function testUserText(user: TestUserDetails, options: { password?: string; personaCode?: string; issuer?: string } = {}): string {
  const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
  const lines: [string, string][] = [
    ['Email address', user.email],
    ...(options.password !== undefined ? [['Password', options.password] as [string, string]] : []),
    ['Security code', user.fixedCode && options.personaCode ? `${options.personaCode} (fixed)` : `a new one each time, in the development outbox${options.issuer ? ` (${options.issuer}/dev/outbox)` : ''}`],
    ['Proofing level', user.level === user.createdLevel ? user.level : `${user.level} (made at ${user.createdLevel})`],
    ['NHS number', formatNhsNumber(user.nhsNumber)],
    ['Name', `${user.givenName} ${user.familyName}`],
    ['Date of birth', user.birthdate],
    ['Postcode', user.postcode],
    ['Mobile', `${formatUkMobile(user.mobile)} (${user.mobile})`],
    ['Mobile matches PDS', yesNo(user.phonePdsMatched)],
    ['GP practice (ODS code)', user.gpOdsCode],
    ['GP online account ID', user.gpUserId ?? 'none'],
    ['GP linkage key', user.gpLinkageKey ?? 'none'],
    ['In the fake register', yesNo(user.inRegister)],
    ['Status', user.status],
    ['sub', user.id],
  ];
  const width = Math.max(...lines.map(([name]) => name.length)) + 1;
  return lines.map(([name, value]) => `  ${`${name}:`.padEnd(width)} ${value}`).join('\n');
}

function write(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

function noTestUser(json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify({ error: 'not_found', error_description: 'No test user has that email address' })}\n`);
  else process.stderr.write('No test user has that email address.\n');
  return 1;
}

/** Runs one parsed command against the service; the exit code. */
export async function runTestUsersCommand(args: TestUsersArgs, testUsers: TestUsers, config: Config): Promise<number> {
  const personaCode = config.personas.securityCode;
  const issuer = config.issuer;
  try {
    switch (args.command) {
      case 'add': {
        const { testUser, password } = await testUsers.add(parseTestUserRequest(args.request), { by: 'operator' });
        write(args.json, { ...testUser, password }, `Test user made at ${testUser.level}. The audit trail records test_user.created.\n${testUserText(testUser, { password, personaCode, issuer })}`);
        return 0;
      }
      case 'list': {
        const all = await testUsers.list();
        write(args.json, { testUsers: all }, all.length === 0 ? 'No test users yet. Make one with: npm run test-users -- add --level P9' : all.map((u) => `${u.email}: ${u.level}${u.level === u.createdLevel ? '' : ` (made at ${u.createdLevel})`}, NHS number ${formatNhsNumber(u.nhsNumber)}, ${u.givenName} ${u.familyName}`).join('\n'));
        return 0;
      }
      case 'show': {
        const user = await testUsers.find(args.email);
        if (!user) return noTestUser(args.json);
        write(args.json, user, testUserText(user, { personaCode, issuer }));
        return 0;
      }
      case 'set-level': {
        const user = await testUsers.setLevel(args.email, args.level, { by: 'operator' });
        if (!user) return noTestUser(args.json);
        write(args.json, user, `The test user is now ${user.level}. The audit trail records test_user.level_set.\n${testUserText(user, { personaCode, issuer })}`);
        return 0;
      }
      case 'reset': {
        const user = await testUsers.reset(args.email, { by: 'operator' });
        if (!user) return noTestUser(args.json);
        write(args.json, user, `The test user is back as it was made, and its locks are lifted. The audit trail records test_user.reset.\n${testUserText(user, { personaCode, issuer })}`);
        return 0;
      }
      case 'remove': {
        if (!(await testUsers.remove(args.email, { by: 'operator' }))) return noTestUser(args.json);
        write(args.json, { removed: true }, 'The test user and its account are deleted. The audit trail records test_user.removed.');
        return 0;
      }
    }
  } catch (error) {
    if (!(error instanceof TestUserRequestError)) throw error;
    if (args.json) process.stdout.write(`${JSON.stringify({ error: 'invalid_request', problems: error.problems })}\n`);
    else process.stderr.write(`${error.problems.map((p) => `${p.field}: ${p.text}`).join('\n')}\n`);
    return 1;
  }
}

/**
 * The service as the command builds it. The keystore is carelogin's own (KEYSTORE_FILE), for the keyed
 * digest account deletion uses; its warnings (a development keystore made on first use) go to stderr,
 * so --json output stays parseable.
 */
async function testUsersFor(dataSource: DataSource, logger: Logger, config: Config): Promise<TestUsers> {
  const keystore = await loadKeystore(config, createLogger({ level: 'warn' }, pino.destination(2)));
  return createTestUsers({ dataSource, config, hasher: createPasswordHasher(config), audit: createAudit(dataSource, logger), digest: createKeyedDigest(keystore.hmacKeys), registerPatients: fakeRegisterPatients(config) });
}

export async function runTestUsersCli(argv: readonly string[]): Promise<number> {
  // Refused before the database is opened: nothing about test users is read or made in production.
  if (loadConfig().mode === 'production') {
    process.stderr.write('Test users are for development and test only: carelogin refuses to make or change them when CARELOGIN_ENV=production.\n');
    return 1;
  }
  return runDatabaseCommand(argv, parseTestUsersArgs, (error) => error instanceof TestUsersUsageError, async (args, dataSource, logger, config) =>
    runTestUsersCommand(args, await testUsersFor(dataSource, logger, config), config),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runTestUsersCli(process.argv.slice(2));
}
