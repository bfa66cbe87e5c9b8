import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import type { Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { mp4 } from '../photo-id/fixtures.js';
import { createAccount, heading, signInThroughCode, type Journey } from './support.js';

/** Helpers for the photo ID journey tests (P5 account at a P9 service, through "use photo ID instead"). */

export const PHOTO_PAGE = 'Prove who you are with photo ID';
export const PENDING_PAGE = 'We are checking your photo ID';

/** Signs a P5 account in at a P9 service and chooses photo ID on the GP details page. */
export async function atPhotoIdPage(test: TestIdp, account?: Account): Promise<{ account: Account; journey: Journey; page: Page }> {
  const who = account ?? (await createAccount(test, { proofingLevel: 'P5' }));
  const { journey, page } = await signInThroughCode(test, who, { params: { vtr: '["P9.Cp.Cd"]', scope: 'openid profile' } });
  expect(heading(page)).to.equal('Enter your GP online registration details');
  const photoPage = await journey.browser.submit(page, {}, { actionContains: 'use-photo-id' });
  return { account: who, journey, page: photoPage };
}

/** The four digits the page asks the person to say. */
export function digitsOn(page: Page): string {
  const digits = /Say these numbers: <\/span>\s*([\d ]+?)\s*<\/p>/.exec(page.html)?.[1];
  if (!digits) throw new Error('no digits on the page');
  return digits.replace(/\s+/g, '');
}

export function upload(journey: Journey, page: Page, photo: Uint8Array, options: { video?: Uint8Array; document?: string; photoType?: string; filename?: string } = {}): Promise<Page> {
  return journey.browser.submitMultipart(page, { document: options.document ?? 'passport' }, {
    photo: { bytes: photo, type: options.photoType ?? 'image/jpeg', filename: options.filename ?? 'photo.jpg' },
    video: { bytes: options.video ?? mp4(5), type: 'video/mp4', filename: 'video.mp4' },
  });
}

export async function caseCount(test: TestIdp, accountId: string): Promise<number> {
  const rows: { n: string | number }[] = await test.idp.db.dataSource.query('SELECT count(*) AS n FROM identity_check_case WHERE account_id = $1', [accountId]);
  return Number(rows[0]!.n);
}
