import { mock } from 'node:test';
import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { purgePhotoIdEvidence } from '../../src/app.js';
import { PhotoIdEvidenceUsageError, parsePhotoIdEvidenceArgs } from '../../src/cli/photo-id-evidence.js';
import { createEvidenceRetention } from '../../src/photo-id/evidence-retention.js';
import { nhsDate } from '../../src/web/dates.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { PHOTO, VIDEO, evidenceLinks, patientWithCase, signedInReviewer } from '../back-office/support.js';
import { createAccount, heading } from '../interactions/support.js';

const DAY_MS = 24 * 3600 * 1000;

describe('photo ID evidence retention (security-bar H3)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  let reviewer: Account;

  before(async () => {
    test = await startTestIdp();
    reviewer = await createAccount(test);
  });
  after(async () => test?.close());

  /** A case, decided (unless 'open'); its decision time as the database wrote it. */
  async function decidedCase(decision: 'approved' | 'declined' | 'open'): Promise<{ caseId: string; accountId: string; decidedAt: Date }> {
    const { caseId, accountId } = await patientWithCase(test);
    const cases = test.idp.services.photoIdCases;
    if (decision !== 'open') expect(await cases.decide({ caseId, reviewerAccountId: reviewer.id, decision, ...(decision === 'declined' ? { reason: 'image-glare' as const } : {}) })).to.equal('decided');
    return { caseId, accountId, decidedAt: (await cases.get(caseId))!.decidedAt ?? new Date() };
  }

  async function evidenceRows(caseId: string): Promise<{ kind: string; content: unknown; sha256: string; byte_size: number; deleted_at: Date | null }[]> {
    return test.idp.db.dataSource.query(`SELECT kind, content, sha256, byte_size, deleted_at FROM identity_evidence WHERE case_id = $1 ORDER BY kind`, [caseId]);
  }

  async function deletionAudits(caseId: string): Promise<Record<string, unknown>[]> {
    const rows: { detail: Record<string, unknown> }[] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE type = 'identity.evidence_deleted' AND detail->>'caseId' = $1`, [caseId]);
    return rows.map((r) => r.detail);
  }

  it('H3: deletes a decided case\'s photo and video exactly PHOTO_ID_EVIDENCE_RETENTION_DAYS after the decision (declined and approved alike), keeping the case, the hashes and the audit trail', async () => {
    const retention = test.idp.services.evidenceRetention;
    expect(retention.retentionDays).to.equal(30);
    const declined = await decidedCase('declined');
    const approved = await decidedCase('approved');
    const sha256Before = (await evidenceRows(declined.caseId)).map((r) => r.sha256);

    // A millisecond short of 30 days after the later decision: the later case keeps its evidence.
    const later = Math.max(declined.decidedAt.getTime(), approved.decidedAt.getTime());
    const earlier = Math.min(declined.decidedAt.getTime(), approved.decidedAt.getTime());
    await retention.purge(new Date(earlier - 1 + 30 * DAY_MS));
    for (const { caseId } of [declined, approved]) expect((await evidenceRows(caseId)).every((r) => r.deleted_at === null), 'not yet').to.equal(true);

    const now = new Date(later + 30 * DAY_MS);
    expect(await retention.due(now)).to.be.at.least(2);
    await retention.purge(now);
    for (const { caseId, accountId } of [declined, approved]) {
      const rows = await evidenceRows(caseId);
      expect(rows.map((r) => r.kind)).to.deep.equal(['photo_id', 'video']);
      for (const row of rows) {
        expect(row.content).to.equal(null);
        expect(new Date(row.deleted_at!).getTime()).to.equal(now.getTime());
      }
      expect(rows.map((r) => r.byte_size)).to.deep.equal([PHOTO.content.length, VIDEO.content.length]);
      expect(await test.idp.services.photoIdCases.evidence(caseId, 'photo_id')).to.equal(undefined);
      expect(await test.idp.services.photoIdCases.evidence(caseId, 'video')).to.equal(undefined);
      expect(await retention.deletedOn(caseId)).to.deep.equal(now);
      expect((await test.idp.services.photoIdCases.get(caseId))!.status).to.be.oneOf(['approved', 'declined']);
      expect(await deletionAudits(caseId)).to.deep.equal([{ caseId, kinds: ['photo_id', 'video'], retentionDays: 30 }]);
      const [audited]: { account_id: string }[] = await test.idp.db.dataSource.query(`SELECT account_id FROM audit_event WHERE type = 'identity.evidence_deleted' AND detail->>'caseId' = $1`, [caseId]);
      expect(audited!.account_id).to.equal(accountId);
    }
    expect((await evidenceRows(declined.caseId)).map((r) => r.sha256)).to.deep.equal(sha256Before);
    const decisionAudits: unknown[] = await test.idp.db.dataSource.query(`SELECT 1 FROM audit_event WHERE type IN ('identity.case_declined', 'identity.case_approved') AND detail->>'caseId' IN ($1, $2)`, [declined.caseId, approved.caseId]);
    expect(decisionAudits).to.have.length(2);

    // Run again: nothing more to do, and no second audit row.
    expect(await retention.due(now)).to.equal(0);
    expect(await retention.purge(new Date(later + 60 * DAY_MS))).to.deep.equal({ cases: 0, items: 0 });
    expect(await deletionAudits(declined.caseId)).to.have.length(1);
  });

  it('H3: never deletes the evidence of a case awaiting review, however old', async () => {
    const open = await decidedCase('open');
    await test.idp.services.evidenceRetention.purge(new Date(Date.now() + 3650 * DAY_MS));
    expect((await evidenceRows(open.caseId)).map((r) => r.deleted_at)).to.deep.equal([null, null]);
    expect(await test.idp.services.photoIdCases.evidence(open.caseId, 'photo_id')).to.deep.equal(PHOTO);
  });

  it('H3: the retention period is PHOTO_ID_EVIDENCE_RETENTION_DAYS', async () => {
    const { caseId, decidedAt } = await decidedCase('declined');
    const weekly = createEvidenceRetention({ dataSource: test.idp.db.dataSource, audit: test.idp.services.audit, retentionDays: 7 });
    await weekly.purge(new Date(decidedAt.getTime() + 7 * DAY_MS - 1000));
    expect(await weekly.deletedOn(caseId)).to.equal(null);
    await weekly.purge(new Date(decidedAt.getTime() + 7 * DAY_MS));
    expect(await weekly.deletedOn(caseId)).to.not.equal(null);
    expect(await deletionAudits(caseId)).to.deep.equal([{ caseId, kinds: ['photo_id', 'video'], retentionDays: 7 }]);
  });

  it('H3: purges running at once (two instances) delete and audit each case exactly once, across several batches', async () => {
    const cases = await Promise.all(Array.from({ length: 60 }, () => decidedCase('approved')));
    const now = new Date(Math.max(...cases.map((c) => c.decidedAt.getTime())) + 30 * DAY_MS);
    const other = createEvidenceRetention({ dataSource: test.idp.db.dataSource, audit: test.idp.services.audit, retentionDays: 30 });
    const [a, b] = await Promise.all([test.idp.services.evidenceRetention.purge(now), other.purge(now)]);
    expect(a.cases + b.cases).to.be.at.least(60);
    for (const { caseId } of cases) {
      expect(await deletionAudits(caseId), caseId).to.have.length(1);
      expect((await evidenceRows(caseId)).every((r) => r.content === null)).to.equal(true);
    }
  });

  it('H3: the server\'s periodic purge deletes evidence past retention, on its 5-minute timer (a mocked clock, no sleeping)', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    let server: TestIdp | undefined;
    try {
      server = await startTestIdp({ db: test.db, dataDir: test.dataDir, background: true });
      const { caseId } = await decidedCase('declined');
      // Decided 31 days ago, as the database's own clock sees it.
      await test.idp.db.dataSource.query(`UPDATE identity_check_case SET decided_at = now() - interval '31 days' WHERE id = $1`, [caseId]);
      mock.timers.tick(4 * 60 * 1000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await test.idp.services.evidenceRetention.deletedOn(caseId), 'not before the timer fires').to.equal(null);
      mock.timers.tick(60 * 1000);
      for (let i = 0; i < 100 && !(await test.idp.services.evidenceRetention.deletedOn(caseId)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await test.idp.services.evidenceRetention.deletedOn(caseId)).to.not.equal(null);
      expect(await deletionAudits(caseId)).to.have.length(1);
    } finally {
      mock.timers.reset();
      await server?.close();
    }
  });

  it('H3: purgePhotoIdEvidence (what the timer runs) reports how many cases it cleared', async () => {
    const { decidedAt } = await decidedCase('declined');
    const lines: unknown[] = [];
    const logger = { info: (line: unknown) => lines.push(line) } as unknown as Parameters<typeof purgePhotoIdEvidence>[1];
    expect(await purgePhotoIdEvidence(test.idp.services, logger, new Date(decidedAt.getTime() + 30 * DAY_MS))).to.be.at.least(1);
    expect(lines[0]).to.deep.include({ event: 'photo_id.evidence_purged', retentionDays: 30 });
  });

  it('H3: npm run photo-id-evidence takes `due` or `purge` and nothing else', () => {
    expect(parsePhotoIdEvidenceArgs(['due'])).to.deep.equal({ command: 'due' });
    expect(parsePhotoIdEvidenceArgs(['purge'])).to.deep.equal({ command: 'purge' });
    expect(() => parsePhotoIdEvidenceArgs([])).to.throw(PhotoIdEvidenceUsageError);
    expect(() => parsePhotoIdEvidenceArgs(['purge', '--days', '1'])).to.throw(PhotoIdEvidenceUsageError);
  });

  it('H3: the back office says "Evidence deleted on <date>" instead of broken images, and an old evidence link gets 410', async () => {
    const { browser } = await signedInReviewer(test);
    const { caseId, decidedAt } = await decidedCase('declined');
    const before = await browser.get(`${test.url}/back-office/cases/${caseId}`);
    const links = evidenceLinks(before);
    await test.idp.services.evidenceRetention.purge(new Date(decidedAt.getTime() + 30 * DAY_MS));

    const after = await browser.get(`${test.url}/back-office/cases/${caseId}`);
    expect(after.status).to.equal(200);
    expect(heading(after)).to.equal('Identity check decided');
    expect(after.html).to.not.match(/<img|<video|\/evidence\//);
    const deletedOn = nhsDate(new Date(decidedAt.getTime() + 30 * DAY_MS));
    expect(pageText(after)).to.contain(`Evidence deleted on ${deletedOn}`);
    expect(pageText(after)).to.contain('Declined');

    const gone = await browser.get(`${test.url}${links.photo}`);
    expect(gone.status).to.equal(410);
    expect(gone.html).to.contain(`deleted on ${deletedOn}`);
  });
});
