/**
 * Who may use the identity-check back office (docs/back-office.md):
 *   npm run reviewers -- list
 *   npm run reviewers -- add --email <address> --reason "<why, for the audit trail>"
 *   npm run reviewers -- remove --email <address> --reason "<why>"
 * `add` gives an existing carelogin account back_office_role 'reviewer', `remove` takes it away;
 * each is audited (back_office.role_granted / back_office.role_revoked) with the reason. Run it
 * against the same DATABASE_URL as carelogin; it changes nothing else.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { listReviewers, setReviewer, type Reviewer } from '../back-office/reviewers.js';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../db/data-source.js';
import { CareloginError } from '../errors.js';
import { createLogger } from '../logger.js';
import { createAudit } from '../security/audit.js';

export class ReviewersUsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

const USAGE = `Usage: npm run reviewers -- list
       npm run reviewers -- add --email <address> --reason "<why>"
       npm run reviewers -- remove --email <address> --reason "<why>"`;

export type ReviewersArgs = { command: 'list' } | { command: 'add' | 'remove'; email: string; reason: string };

export function parseReviewersArgs(argv: readonly string[]): ReviewersArgs {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'add' && command !== 'remove') throw new ReviewersUsageError(USAGE);
  let values;
  try {
    ({ values } = parseArgs({ args: rest, allowPositionals: false, options: { email: { type: 'string' }, reason: { type: 'string' } } }));
  } catch (error) {
    throw new ReviewersUsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (command === 'list') return { command };
  if (!values.email) throw new ReviewersUsageError(`Give --email\n${USAGE}`);
  if (!values.reason?.trim()) throw new ReviewersUsageError(`Give --reason: it goes in the audit trail\n${USAGE}`);
  return { command, email: values.email, reason: values.reason.trim().slice(0, 200) };
}

/** One line per reviewer, saying whether they can sign in to the back office yet. */
export function reviewerLine(reviewer: Reviewer): string {
  const methods = [reviewer.hasAuthenticatorApp ? 'authenticator app' : undefined, reviewer.passkeys > 0 ? `${reviewer.passkeys} passkey(s)` : undefined].filter(Boolean);
  return `  ${reviewer.email}: ${methods.length > 0 ? methods.join(', ') : 'no authenticator app or passkey yet (cannot sign in to the back office)'}`;
}

export async function runReviewersCli(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseReviewersArgs(argv);
  } catch (error) {
    if (!(error instanceof ReviewersUsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return argv.includes('--help') ? 0 : 1;
  }
  const config = loadConfig();
  const logger = createLogger({ level: 'warn' });
  const db = await openDatabase(config, logger);
  try {
    if (args.command === 'list') {
      const reviewers = await listReviewers(db.dataSource);
      process.stdout.write(reviewers.length === 0 ? 'No account has the reviewer role.\n' : `${reviewers.map(reviewerLine).join('\n')}\n`);
      return 0;
    }
    const result = await setReviewer(db.dataSource, createAudit(db.dataSource, logger), args.email, args.command === 'add', args.reason);
    if (result === 'no-account') {
      process.stderr.write('No account has that email address.\n');
      return 1;
    }
    const done = args.command === 'add' ? 'is a reviewer' : 'is no longer a reviewer';
    process.stdout.write(result === 'changed' ? `The account ${done}; the audit trail records it.\n` : `Nothing to change: the account already ${done}.\n`);
    return 0;
  } finally {
    await db.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runReviewersCli(process.argv.slice(2));
}
