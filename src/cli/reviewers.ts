/**
 * Who may use the back office (docs/back-office.md):
 *   npm run reviewers -- list [--role reviewer|support]   (each account, how they sign in, a reviewer's checks assigned)
 *   npm run reviewers -- add --email <address> --reason "<why, for the audit trail>" [--role reviewer|support]
 *   npm run reviewers -- remove --email <address> --reason "<why>" [--role reviewer|support]
 * `add` gives an existing carelogin account back_office_role 'reviewer' (identity checks) or, with
 * --role support, 'support' (the support desk); `remove` takes that role away. The role defaults to
 * reviewer. Each change is audited (back_office.role_granted / back_office.role_revoked) with the
 * reason. Run it against the same DATABASE_URL as carelogin; it changes nothing else.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackOfficeRole } from '../../entities/account.js';
import { BACK_OFFICE_ROLES, listReviewers, setReviewer, type Reviewer } from '../back-office/reviewers.js';
import { CareloginError } from '../errors.js';
import { createAudit } from '../security/audit.js';
import { noAccount, runDatabaseCommand } from './database-command.js';

export class ReviewersUsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

const USAGE = `Usage: npm run reviewers -- list [--role reviewer|support]
       npm run reviewers -- add --email <address> --reason "<why>" [--role reviewer|support]
       npm run reviewers -- remove --email <address> --reason "<why>" [--role reviewer|support]`;

export type ReviewersArgs = { command: 'list'; role?: BackOfficeRole } | { command: 'add' | 'remove'; email: string; reason: string; role: BackOfficeRole };

export function parseReviewersArgs(argv: readonly string[]): ReviewersArgs {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'add' && command !== 'remove') throw new ReviewersUsageError(USAGE);
  let values;
  try {
    ({ values } = parseArgs({ args: rest, allowPositionals: false, options: { email: { type: 'string' }, reason: { type: 'string' }, role: { type: 'string' } } }));
  } catch (error) {
    throw new ReviewersUsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.role !== undefined && !(BACK_OFFICE_ROLES as readonly string[]).includes(values.role)) throw new ReviewersUsageError(`--role is reviewer or support\n${USAGE}`);
  const role = values.role as BackOfficeRole | undefined;
  if (command === 'list') return role ? { command, role } : { command };
  if (!values.email) throw new ReviewersUsageError(`Give --email\n${USAGE}`);
  if (!values.reason?.trim()) throw new ReviewersUsageError(`Give --reason: it goes in the audit trail\n${USAGE}`);
  return { command, email: values.email, reason: values.reason.trim().slice(0, 200), role: role ?? 'reviewer' };
}

/**
 * One line per reviewer, saying whether they can sign in to the back office yet, then a line for each
 * check assigned to them ("Start next check") or handed to them by another reviewer that is not decided or on hold.
 */
export function reviewerLine(reviewer: Reviewer): string {
  const methods = [reviewer.hasAuthenticatorApp ? 'authenticator app' : undefined, reviewer.passkeys > 0 ? `${reviewer.passkeys} passkey(s)` : undefined].filter(Boolean);
  const lines = [`  ${reviewer.email} (${reviewer.role}): ${methods.length > 0 ? methods.join(', ') : 'no authenticator app or passkey yet (cannot sign in to the back office)'}`];
  // Only reviewers take checks; the support desk has none to list.
  if (reviewer.role === 'reviewer' && reviewer.assignments.length === 0) lines.push('    no checks in progress');
  for (const a of reviewer.assignments) {
    const how = a.handedOverBy ? `handed over by ${a.handedOverBy}` : 'assigned';
    lines.push(`    check ${a.caseId}: ${how} ${a.since.toISOString()}, ${a.lapsed ? `time ran out ${a.lapsesAt.toISOString()} (back in the queue)` : `until ${a.lapsesAt.toISOString()}`}`);
  }
  return lines.join('\n');
}

export function runReviewersCli(argv: readonly string[]): Promise<number> {
  return runDatabaseCommand(argv, parseReviewersArgs, (error) => error instanceof ReviewersUsageError, async (args, dataSource, logger, config) => {
    if (args.command === 'list') {
      const reviewers = await listReviewers(dataSource, config.backOffice.assignmentSeconds, args.role);
      process.stdout.write(reviewers.length === 0 ? `No account has ${args.role ? `the ${args.role} role` : 'a back-office role'}.\n` : `${reviewers.map(reviewerLine).join('\n')}\n`);
      return 0;
    }
    const result = await setReviewer(dataSource, createAudit(dataSource, logger), args.email, args.command === 'add', args.reason, args.role);
    if (result === 'no-account') return noAccount();
    const done = args.command === 'add' ? `has the ${args.role} role` : `does not have the ${args.role} role`;
    process.stdout.write(result === 'changed' ? `The account ${done}; the audit trail records it.\n` : `Nothing to change: the account already ${done}.\n`);
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runReviewersCli(process.argv.slice(2));
}
