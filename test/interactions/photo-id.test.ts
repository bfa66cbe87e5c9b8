import { expect } from 'chai';
import sharp from 'sharp';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { jpegWithMetadata, mp4, webm } from '../photo-id/fixtures.js';
import { PENDING_PAGE, PHOTO_PAGE, atPhotoIdPage, caseCount, digitsOn, upload } from './photo-id-support.js';
import { callbackError, createAccount, errorSummary, heading, signInThroughCode } from './support.js';

describe('photo ID (P9 by photo ID and video, the patient\'s side)', function () {
  this.timeout(30_000);
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('takes a P5 account at a P9 service from the GP page to photo ID, stores a case with a clean JPEG, and tells the service it is pending', async () => {
    const { account, journey, page } = await atPhotoIdPage(test);
    expect(heading(page)).to.equal(PHOTO_PAGE);
    expect(page.html).to.contain('enctype="multipart/form-data"');
    expect(page.html).to.match(/<input class="nhsuk-file-upload__input" id="photo" name="photo" type="file"[^>]*accept="image\/jpeg,image\/png"/);
    expect(page.html).to.match(/id="video" name="video" type="file"[^>]*accept="video\/mp4,video\/webm"[^>]*capture="user"/);
    const digits = digitsOn(page);
    expect(digits).to.match(/^\d{4}$/);

    const pending = await upload(journey, page, await jpegWithMetadata(), { document: 'uk-driving-licence' });
    expect(heading(pending)).to.equal(PENDING_PAGE);
    expect(pageText(pending)).to.contain('We will email you');
    expect(pageText(pending)).to.contain('CL1030');
    expect(callbackError(await journey.browser.submit(pending, {}))).to.deep.equal({ error: 'access_denied', description: 'identity verification pending' });

    const { photoIdCases } = test.idp.services;
    const open = (await photoIdCases.openCaseFor(account.id))!;
    const detail = (await photoIdCases.get(open.id))!;
    expect(detail).to.include({ documentType: 'uk-driving-licence', spokenDigits: digits, clientId: test.rp.clientId });
    const photo = (await photoIdCases.evidence(open.id, 'photo_id'))!;
    expect(photo.contentType).to.equal('image/jpeg');
    const stored = await sharp(photo.content).metadata();
    // 40 × 20 with orientation 6 comes out upright (20 × 40) with no metadata at all (E5).
    expect(stored).to.include({ format: 'jpeg', width: 20, height: 40 });
    expect(stored.exif).to.equal(undefined);
    expect(stored.xmp).to.equal(undefined);
    expect(stored.icc).to.equal(undefined);
    expect(stored.orientation).to.equal(undefined);
    expect((await photoIdCases.evidence(open.id, 'video'))!.contentType).to.equal('video/mp4');
    expect((await test.idp.services.accounts.findById(account.id))!.proofingLevel, 'nothing is proven until a reviewer approves').to.equal('P5');
  });

  it('takes a WebM video and a PNG photo', async () => {
    const { account, journey, page } = await atPhotoIdPage(test);
    const png = await sharp({ create: { width: 30, height: 30, channels: 3, background: '#00ff00' } }).png().toBuffer();
    const pending = await upload(journey, page, png, { video: webm(8), photoType: 'image/png' });
    expect(heading(pending)).to.equal(PENDING_PAGE);
    const open = (await test.idp.services.photoIdCases.openCaseFor(account.id))!;
    expect((await test.idp.services.photoIdCases.evidence(open.id, 'video'))!.contentType).to.equal('video/webm');
  });

  it('sends an account with a case awaiting review straight to the pending page, not the GP details page first, and never to a second upload', async () => {
    const { account, journey, page } = await atPhotoIdPage(test);
    await upload(journey, page, await jpegWithMetadata());
    const again = await signInThroughCode(test, account, { params: { vtr: '["P9.Cp.Cd"]', scope: 'openid profile' } });
    expect(heading(again.page)).to.equal(PENDING_PAGE);
    expect(pageText(again.page)).to.contain('CL1030');
    expect(callbackError(await again.journey.browser.submit(again.page, {}))).to.deep.equal({ error: 'access_denied', description: 'identity verification pending' });
    expect(await caseCount(test, account.id)).to.equal(1);
  });

  it('once the case is decided, the account is offered the routes again (the GP details page)', async () => {
    const { account, journey, page } = await atPhotoIdPage(test);
    await upload(journey, page, await jpegWithMetadata());
    const reviewer = await createAccount(test);
    const open = (await test.idp.services.photoIdCases.openCaseFor(account.id))!;
    expect(await test.idp.services.photoIdCases.decide({ caseId: open.id, reviewerAccountId: reviewer.id, decision: 'declined', reason: 'image-blurred' })).to.equal('decided');
    const again = await signInThroughCode(test, account, { params: { vtr: '["P9.Cp.Cd"]', scope: 'openid profile' } });
    expect(heading(again.page)).to.equal('Enter your GP online registration details');
  });

  it('says the limits it is configured with (PHOTO_ID_MAX_VIDEO_SECONDS, PHOTO_ID_MAX_PHOTO_BYTES, PHOTO_ID_MAX_VIDEO_BYTES)', async () => {
    const strict = await startTestIdp({ env: { PHOTO_ID_MAX_VIDEO_SECONDS: '10', PHOTO_ID_MAX_PHOTO_BYTES: String(2 * 1024 * 1024), PHOTO_ID_MAX_VIDEO_BYTES: String(20 * 1024 * 1024) } });
    try {
      const { account, journey, page } = await atPhotoIdPage(strict);
      expect(pageText(page)).to.contain('A JPEG or PNG image, up to 2MB');
      expect(pageText(page)).to.contain('An MP4 or WebM video, up to 10 seconds and 20MB');
      const refused = await upload(journey, page, await jpegWithMetadata(), { video: mp4(12) });
      expect(errorSummary(refused)).to.deep.equal(['The video must be 10 seconds or shorter']);
      const tooBig = await upload(journey, page, Buffer.concat([await jpegWithMetadata(), Buffer.alloc(3 * 1024 * 1024)]));
      expect(tooBig.status).to.equal(413);
      expect(pageText(tooBig)).to.contain('The photo of your ID must be 2MB or smaller, and the video 20MB or smaller');
      expect(await caseCount(strict, account.id)).to.equal(0);
    } finally {
      await strict.close();
    }
  });

  it('asks for each missing answer, with an error summary that points at the field', async () => {
    const { journey, page } = await atPhotoIdPage(test);
    const missing = await journey.browser.submitMultipart(page, {}, { photo: { bytes: new Uint8Array(0) }, video: { bytes: new Uint8Array(0) } });
    expect(missing.status).to.equal(400);
    expect(errorSummary(missing)).to.deep.equal(['Select the photo ID you are using', 'Select a photo of your ID', 'Select a video of you saying the numbers']);
    expect(missing.html).to.contain('href="#document"');
    expect(missing.html).to.contain('id="document"');
  });

  it('says a video over 30 seconds is too long, and keeps the document chosen', async () => {
    const { account, journey, page } = await atPhotoIdPage(test);
    const refused = await upload(journey, page, await jpegWithMetadata(), { video: mp4(45), document: 'citizencard' });
    expect(refused.status).to.equal(400);
    expect(errorSummary(refused)).to.deep.equal(['The video must be 30 seconds or shorter']);
    expect(refused.html).to.match(/value="citizencard" checked/);
    expect(await caseCount(test, account.id)).to.equal(0);
  });

  it('goes straight to photo ID when it is the only P9 route', async () => {
    const only = await startTestIdp({ env: { GP_ONLINE_SOURCE: 'none' } });
    try {
      const account = await createAccount(only, { proofingLevel: 'P5' });
      const { page } = await signInThroughCode(only, account, { params: { vtr: '["P9.Cp.Cd"]' } });
      expect(heading(page)).to.equal(PHOTO_PAGE);
    } finally {
      await only.close();
    }
  });

  it('takes a P0 account through P5 first, then photo ID, when the GP route is off', async () => {
    const only = await startTestIdp({ env: { GP_ONLINE_SOURCE: 'none' } });
    try {
      const account = await createAccount(only);
      const { journey, page } = await signInThroughCode(only, account, { params: { vtr: '["P9.Cp.Cd"]' } });
      expect(heading(page)).to.equal('Prove who you are');
      const next = await journey.browser.submit(page, { 'given-name': 'Priya', 'family-name': 'Sharma Lewis', 'birthdate-day': '22', 'birthdate-month': '5', 'birthdate-year': '1983', postcode: 'B1 1BB' });
      expect(heading(next)).to.equal(PHOTO_PAGE);
    } finally {
      await only.close();
    }
  });

  it('PHOTO_ID_CHECKS=false: no photo ID button on the GP page, and the action does nothing', async () => {
    const off = await startTestIdp({ env: { PHOTO_ID_CHECKS: 'false' } });
    try {
      const account = await createAccount(off, { proofingLevel: 'P5' });
      const { journey, page } = await signInThroughCode(off, account, { params: { vtr: '["P9.Cp.Cd"]' } });
      expect(heading(page)).to.equal('Enter your GP online registration details');
      expect(page.html).to.not.contain('use-photo-id');
      const uid = /\/interaction\/([^/]+)/.exec(page.url)![1]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
      const forced = await journey.browser.post(new URL(`/interaction/${uid}/enter-gp-details/use-photo-id`, page.url).toString(), { _csrf: csrf }, { origin: new URL(page.url).origin });
      expect(heading(forced)).to.equal('Enter your GP online registration details');
    } finally {
      await off.close();
    }
  });
});
