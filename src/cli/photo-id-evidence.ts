/**
 * Photo ID evidence past its retention period (security-bar H3, decisions D22):
 *   npm run photo-id-evidence -- due
 *   npm run photo-id-evidence -- purge
 * `due` counts the decided cases whose photo and video are older than
 * PHOTO_ID_EVIDENCE_RETENTION_DAYS (after the decision) and still kept; `purge` deletes them now,
 * as every carelogin instance does every 5 minutes, with an `identity.evidence_deleted` audit row
 * per case. Run it against the same DATABASE_URL and settings as carelogin; it changes nothing else.
 */
import { pathToFileURL } from 'node:url';
import { CareloginError } from '../errors.js';
import { createEvidenceRetention } from '../photo-id/evidence-retention.js';
import { createAudit } from '../security/audit.js';
import { runDatabaseCommand } from './database-command.js';

export class PhotoIdEvidenceUsageError extends CareloginError {
  constructor(message: string) {
    super('usage', message);
  }
}

const USAGE = `Usage: npm run photo-id-evidence -- due
       npm run photo-id-evidence -- purge`;

export type PhotoIdEvidenceArgs = { readonly command: 'due' | 'purge' };

export function parsePhotoIdEvidenceArgs(argv: readonly string[]): PhotoIdEvidenceArgs {
  const [command, ...rest] = argv;
  if ((command !== 'due' && command !== 'purge') || rest.length > 0) throw new PhotoIdEvidenceUsageError(USAGE);
  return { command };
}

export function runPhotoIdEvidenceCli(argv: readonly string[]): Promise<number> {
  return runDatabaseCommand(argv, parsePhotoIdEvidenceArgs, (error) => error instanceof PhotoIdEvidenceUsageError, async (args, dataSource, logger, config) => {
    const retention = createEvidenceRetention({ dataSource, audit: createAudit(dataSource, logger), retentionDays: config.identityChecks.photoIdEvidenceRetentionDays });
    const days = `${retention.retentionDays} day${retention.retentionDays === 1 ? '' : 's'}`;
    if (args.command === 'due') {
      const due = await retention.due();
      process.stdout.write(`${due} decided case(s) have evidence older than ${days} still kept.\n`);
      return 0;
    }
    const { cases, items } = await retention.purge();
    process.stdout.write(`Deleted the evidence of ${cases} case(s) (${items} file(s)) decided more than ${days} ago; the audit trail records each.\n`);
    return 0;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runPhotoIdEvidenceCli(process.argv.slice(2));
}
