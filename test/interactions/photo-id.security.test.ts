import http from 'node:http';
import { expect } from 'chai';
import sharp from 'sharp';
import { PHOTO_ID_MESSAGES, videoLimitMessages } from '../../interactions/methods/photo-id/index.js';
import { reencodePhoto } from '../../src/photo-id/images.js';
import { pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { testConfig } from '../helpers/database.js';
import { PDF_FILE, SVG_WITH_SCRIPT, TEXT_FILE, ZIP_FILE, gifImage, jpegWithMetadata, mp4, tiffImage, webm } from '../photo-id/fixtures.js';
import { PENDING_PAGE, PHOTO_PAGE, atPhotoIdPage, caseCount, upload } from './photo-id-support.js';
import { createAccount, errorSummary, heading, signInThroughCode, type Journey } from './support.js';

const MB = 1024 * 1024;
/** The default limits (the security bar's), as the test IdP has them. */
const LIMITS = testConfig({}).identityChecks.photoIdLimits;

/** Sends a multipart body by hand: headers and the CSRF field, then `chunks` of a photo, and never ends it unless told. */
function rawUpload(journey: Journey, page: Page, options: { photoBytes: number; end: boolean; contentLength?: number }): Promise<{ status: number; bodySent: boolean }> {
  const url = new URL(/action="([^"]+)" enctype/.exec(page.html)![1]!, page.url);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
  const boundary = 'carelogin-test-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  return new Promise((resolve, reject) => {
    let bodySent = false;
    const request = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        origin: url.origin,
        cookie: journey.browser.cookiesFor(url.toString()),
        'x-forwarded-for': '198.51.100.201',
        ...(options.contentLength ? { 'content-length': String(options.contentLength) } : {}),
      },
    });
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, bodySent });
      request.destroy();
    });
    request.on('error', (error) => (bodySent ? undefined : reject(error)));
    if (options.contentLength) {
      request.flushHeaders();
      return;
    }
    request.write(head);
    const chunk = Buffer.alloc(MB, 0xff);
    let sent = 0;
    const pump = (): void => {
      while (sent < options.photoBytes) {
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once('drain', pump);
      }
      if (options.end) {
        bodySent = true;
        request.end(`\r\n--${boundary}--\r\n`);
      }
    };
    pump();
  });
}

describe('photo ID uploads (security-bar E3-E6, E8)', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function refusedPhoto(photo: Uint8Array, options: { photoType?: string } = {}): Promise<string[]> {
    const { account, journey, page } = await atPhotoIdPage(test);
    const refused = await upload(journey, page, photo, options);
    expect(refused.status, pageText(refused).slice(0, 200)).to.equal(400);
    expect(heading(refused)).to.equal(PHOTO_PAGE);
    expect(await caseCount(test, account.id)).to.equal(0);
    return errorSummary(refused);
  }

  describe('E3: JPEG and PNG only, by their bytes', () => {
    const notImages: [string, () => Promise<Buffer> | Buffer][] = [
      ['an SVG with a script', () => SVG_WITH_SCRIPT],
      ['a TIFF', tiffImage],
      ['a GIF', gifImage],
      ['a PDF', () => PDF_FILE],
      ['a ZIP named .jpg', () => ZIP_FILE],
      ['a text file sent as image/jpeg', () => TEXT_FILE],
    ];
    for (const [what, make] of notImages) {
      it(`E3: refuses ${what} declared as image/jpeg, and stores nothing`, async () => {
        expect(await refusedPhoto(await make(), { photoType: 'image/jpeg' })).to.deep.equal([PHOTO_ID_MESSAGES.photoType]);
      });
    }

    it('E3: neutralises a JPEG with HTML appended (polyglot): only a fresh JPEG is stored, never the bytes sent', async () => {
      const original = Buffer.concat([await jpegWithMetadata(), Buffer.from('<html><script>alert(1)</script></html>')]);
      const { account, journey, page } = await atPhotoIdPage(test);
      expect(heading(await upload(journey, page, original))).to.equal(PENDING_PAGE);
      const open = (await test.idp.services.photoIdCases.openCaseFor(account.id))!;
      const stored = Buffer.from((await test.idp.services.photoIdCases.evidence(open.id, 'photo_id'))!.content);
      expect(stored.includes('<html')).to.equal(false);
      expect(stored.equals(original)).to.equal(false);
      expect(stored.subarray(-2).equals(Buffer.from([0xff, 0xd9])), 'ends at the JPEG end marker').to.equal(true);
    });

    it('E3: ignores the file name sent (path traversal, 300 characters): nothing of it is kept', async () => {
      const { account, journey, page } = await atPhotoIdPage(test);
      expect(heading(await upload(journey, page, await jpegWithMetadata(), { filename: '../../etc/passwd%00.jpg' }))).to.equal(PENDING_PAGE);
      const rows: unknown[] = await test.idp.db.dataSource.query(`SELECT e.*, c.* FROM identity_evidence e JOIN identity_check_case c ON c.id = e.case_id WHERE c.account_id = $1`, [account.id]);
      const audits: unknown[] = await test.idp.db.dataSource.query('SELECT detail FROM audit_event WHERE account_id = $1', [account.id]);
      expect(JSON.stringify([rows, audits])).to.not.contain('passwd');
    });

    it(`E3: at most ${LIMITS.uploadsPerDay} uploads a day per account (PHOTO_ID_UPLOADS_PER_DAY); the next gets 429`, async () => {
      const { journey, page } = await atPhotoIdPage(test);
      for (let i = 0; i < LIMITS.uploadsPerDay; i++) expect((await upload(journey, page, TEXT_FILE)).status).to.equal(400);
      const stopped = await upload(journey, page, await jpegWithMetadata());
      expect(stopped.status).to.equal(429);
      expect(heading(stopped)).to.equal('Sorry, you have sent your photo ID too many times today');
      expect(pageText(stopped)).to.contain('CL1031');
    });
  });

  describe('E4: size and pixel limits', () => {
    it('E4: a 12 MB photo gets 413 before the rest of the body is sent', async () => {
      const { journey, page } = await atPhotoIdPage(test);
      // The body is never finished: only an answer made before reading it all can arrive.
      const answer = await rawUpload(journey, page, { photoBytes: 12 * MB, end: false });
      expect(answer).to.deep.equal({ status: 413, bodySent: false });
    });

    it('E4: a request declaring more than the limits together gets 413 before any of it is read', async () => {
      const { journey, page } = await atPhotoIdPage(test);
      expect(await rawUpload(journey, page, { photoBytes: 0, end: false, contentLength: 200 * MB })).to.deep.equal({ status: 413, bodySent: false });
    });

    it('E4: a 12 MB photo from a browser gets the "too large" page (413) with a way back', async () => {
      const { journey, page } = await atPhotoIdPage(test);
      const big = Buffer.concat([await jpegWithMetadata(), Buffer.alloc(12 * MB)]);
      const refused = await upload(journey, page, big);
      expect(refused.status).to.equal(413);
      expect(heading(refused)).to.equal('The file you chose is too large');
      expect(refused.html).to.contain('/provide-photo-id">send your photo ID again</a>');
    });

    it('E4: a decode that takes too long is stopped at the time limit', async () => {
      const result = await reencodePhoto(await jpegWithMetadata(), { maxBytes: LIMITS.photoMaxBytes, maxPixels: LIMITS.photoMaxPixels, timeLimitMs: 1 });
      expect(result).to.deep.equal({ kind: 'refused', reason: 'too-slow' });
    });
  });

  it('E5: the stored photo has no EXIF, GPS, XMP or ICC and is upright', async () => {
    const result = await reencodePhoto(await jpegWithMetadata(), { maxBytes: LIMITS.photoMaxBytes, maxPixels: LIMITS.photoMaxPixels });
    expect(result.kind).to.equal('ok');
    const jpeg = (result as { jpeg: Buffer }).jpeg;
    const meta = await sharp(jpeg).metadata();
    expect(meta).to.include({ format: 'jpeg', width: 20, height: 40 });
    for (const key of ['exif', 'xmp', 'icc', 'iptc', 'orientation'] as const) expect(meta[key], key).to.equal(undefined);
    expect(jpeg.includes('CareloginTestCam')).to.equal(false);
  });

  it('E6: the loaders a photo does not need are blocked in this process (GIF, TIFF, SVG)', async () => {
    for (const input of [await gifImage(), await tiffImage(), SVG_WITH_SCRIPT]) {
      let error: unknown;
      await sharp(input).toBuffer().catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/blocked|unsupported image format/i);
    }
  });

  it('E6: an SVG behind JPEG magic bytes is refused by the decoder, never rendered', async () => {
    const disguised = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), SVG_WITH_SCRIPT]);
    expect(await refusedPhoto(disguised)).to.deep.equal([PHOTO_ID_MESSAGES.photoUnreadable]);
  });

  describe('E8: the video', () => {
    const bad: [string, () => Buffer, string][] = [
      ['a truncated MP4', () => mp4(5).subarray(0, 60), PHOTO_ID_MESSAGES.videoUnreadable],
      ['an MP4 with no movie header', () => mp4(5, { moov: false }), PHOTO_ID_MESSAGES.videoUnreadable],
      ['a truncated WebM', () => webm(5).subarray(0, 30), PHOTO_ID_MESSAGES.videoUnreadable],
      ['an MP4 of 45 seconds', () => mp4(45), videoLimitMessages(LIMITS).videoTooLong],
      ['a WebM of 40 seconds', () => webm(40), videoLimitMessages(LIMITS).videoTooLong],
      ['a text file', () => TEXT_FILE, PHOTO_ID_MESSAGES.videoType],
      ['a zero-length file', () => Buffer.alloc(0), PHOTO_ID_MESSAGES.videoMissing],
    ];
    for (const [what, make, message] of bad) {
      it(`E8: ${what} gets a clean 400 with the error on the video field`, async () => {
        const { account, journey, page } = await atPhotoIdPage(test);
        const refused = await upload(journey, page, await jpegWithMetadata(), { video: make() });
        expect(refused.status).to.equal(400);
        expect(errorSummary(refused)).to.deep.equal([message]);
        expect(refused.html).to.contain('href="#video"');
        expect(await caseCount(test, account.id)).to.equal(0);
      });
    }

    it('E8: a video over 50 MB gets 413', async () => {
      const { journey, page } = await atPhotoIdPage(test);
      const refused = await upload(journey, page, await jpegWithMetadata(), { video: Buffer.concat([mp4(5), Buffer.alloc(51 * MB)]) });
      expect(refused.status).to.equal(413);
    });

    it('E8: the same upload sent twice at once makes one case', async () => {
      const { account, journey, page } = await atPhotoIdPage(test);
      const photo = await jpegWithMetadata();
      const answers = await Promise.all([upload(journey, page, photo), upload(journey, page, photo)]);
      for (const answer of answers) expect([200, 303]).to.include(answer.status);
      expect(await caseCount(test, account.id)).to.equal(1);
    });
  });

  describe('C5: the multipart form is a form like any other', () => {
    it('refuses a missing or wrong CSRF token, or another site, with 403 and no case', async () => {
      const { account, journey, page } = await atPhotoIdPage(test);
      const photo = await jpegWithMetadata();
      const files = { photo: { bytes: photo, type: 'image/jpeg' }, video: { bytes: mp4(5), type: 'video/mp4' } };
      expect((await journey.browser.submitMultipart(page, { document: 'passport' }, files, { omit: ['_csrf'] })).status).to.equal(403);
      expect((await journey.browser.submitMultipart(page, { document: 'passport', _csrf: 'forged' }, files)).status).to.equal(403);
      expect((await journey.browser.submitMultipart(page, { document: 'passport' }, files, { headers: { origin: 'https://evil.example' } })).status).to.equal(403);
      expect(await caseCount(test, account.id)).to.equal(0);
    });

    it('refuses a part the step does not expect', async () => {
      const { journey, page } = await atPhotoIdPage(test);
      const answer = await journey.browser.submitMultipart(page, { document: 'passport' }, { photo: { bytes: await jpegWithMetadata() }, video: { bytes: mp4(5) }, extra: { bytes: TEXT_FILE } });
      expect(answer.status).to.equal(400);
    });

    it('refuses files sent to a step that takes none', async () => {
      const account = await createAccount(test, { proofingLevel: 'P5' });
      const { journey, page } = await signInThroughCode(test, account, { params: { vtr: '["P9.Cp.Cd"]' } });
      expect(heading(page)).to.equal('Enter your GP online registration details');
      const answer = await journey.browser.submitMultipart(page, {}, { photo: { bytes: await jpegWithMetadata() } });
      expect(answer.status).to.equal(400);
      expect(await caseCount(test, account.id)).to.equal(0);
    });
  });
});
