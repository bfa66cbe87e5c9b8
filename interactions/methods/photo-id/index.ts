import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { PHOTO_ID_DOCUMENTS, type PhotoIdDocument } from '../../../src/photo-id/cases.js';
import type { PhotoIdLimits } from '../../../src/config/index.js';
import type { PhotoResult } from '../../../src/photo-id/images.js';
import { checkVideo, type VideoResult } from '../../../src/photo-id/video.js';
import { lockoutKeys, photoIdUploadPolicy } from '../../../src/security/attempt-counters.js';
import { JourneyInvariantError } from '../../engine/errors.js';
import { IDENTITY_CHECK_ACTIONS, identityCheckPageData } from '../identity-check-step.js';
import { tooManyRequestsView } from '../pages.js';
import { defineMethod, type Outcome, type StepContext, type Upload } from '../types.js';

/**
 * P9 by photo ID and a short video (NHS login's "prove your identity", nhs-login.md §5.3; D19): a P5
 * account sends a photo of an accepted ID document and a video of themselves saying four random
 * digits shown on the page. Nothing is proven here, so the method has no `proofs`: the files become
 * a case for a reviewer (src/photo-id/cases.ts), who approves or declines later, and the person is
 * emailed. The journey ends on "we are checking your photo ID" whether the case is new or was
 * already waiting (one open case per account; a retried upload never makes a second).
 */

export type PhotoIdEvent = 'submitted';

const DOCUMENT_CODES = Object.keys(PHOTO_ID_DOCUMENTS) as [PhotoIdDocument, ...PhotoIdDocument[]];

export const PHOTO_ID_MESSAGES = {
  document: 'Select the photo ID you are using',
  photoMissing: 'Select a photo of your ID',
  photoType: 'The photo of your ID must be a JPEG or PNG image',
  photoUnreadable: 'The photo of your ID could not be read. Take the photo again and select it',
  photoTooBig: 'The photo of your ID must be smaller. Take it again at a lower resolution',
  videoMissing: 'Select a video of you saying the numbers',
  videoType: 'The video must be an MP4 or WebM file',
  videoUnreadable: 'The video could not be read. It may not have finished saving. Record it again and select it',
  photoBusy: 'We could not check the photo of your ID just now. Wait a minute, then select it again',
} as const;

/** The limits as the pages say them ("10MB", "30 seconds"): the same numbers the checks use. */
export function photoIdLimitsText(limits: PhotoIdLimits): { photoMax: string; videoMax: string; videoSeconds: number } {
  const mb = (bytes: number): string => `${Math.floor(bytes / (1024 * 1024) * 10) / 10}MB`;
  return { photoMax: mb(limits.photoMaxBytes), videoMax: mb(limits.videoMaxBytes), videoSeconds: limits.videoMaxSeconds };
}

/** The messages that name a limit. */
export function videoLimitMessages(limits: PhotoIdLimits): { videoTooLong: string; videoTooBig: string } {
  const text = photoIdLimitsText(limits);
  return { videoTooLong: `The video must be ${text.videoSeconds} seconds or shorter`, videoTooBig: `The video must be ${text.videoMax} or smaller` };
}

const upload = (missing: string) =>
  z.custom<Upload>((value) => typeof value === 'object' && value !== null && (value as Upload).kind === 'upload' && Buffer.isBuffer((value as Upload).bytes) && (value as Upload).bytes.length > 0, { message: missing });

const schema = z.object({
  document: z.enum(DOCUMENT_CODES, { error: PHOTO_ID_MESSAGES.document }),
  photo: upload(PHOTO_ID_MESSAGES.photoMissing),
  video: upload(PHOTO_ID_MESSAGES.videoMissing),
});

/** Four digits from the CSPRNG, so a video recorded earlier (or of someone else) does not say them. */
export function spokenDigits(): string {
  return Array.from({ length: 4 }, () => String(randomInt(10))).join('');
}

function photoProblem(result: Exclude<PhotoResult, { kind: 'ok' }>): string {
  switch (result.reason) {
    case 'empty':
      return PHOTO_ID_MESSAGES.photoMissing;
    case 'not-jpeg-or-png':
      return PHOTO_ID_MESSAGES.photoType;
    case 'too-large':
    case 'too-many-pixels':
      return PHOTO_ID_MESSAGES.photoTooBig;
    case 'unreadable':
    case 'too-slow':
      return PHOTO_ID_MESSAGES.photoUnreadable;
    case 'busy':
      return PHOTO_ID_MESSAGES.photoBusy;
  }
}

function videoProblem(result: Exclude<VideoResult, { kind: 'ok' }>, limits: PhotoIdLimits): string {
  switch (result.reason) {
    case 'empty':
      return PHOTO_ID_MESSAGES.videoMissing;
    case 'not-mp4-or-webm':
      return PHOTO_ID_MESSAGES.videoType;
    case 'malformed':
      return PHOTO_ID_MESSAGES.videoUnreadable;
    case 'too-long':
      return videoLimitMessages(limits).videoTooLong;
    case 'too-large':
      return videoLimitMessages(limits).videoTooBig;
  }
}

function accountOf(ctx: StepContext): NonNullable<StepContext['account']> {
  if (!ctx.account) throw new JourneyInvariantError('photo-id: a photo ID case needs the session\'s account');
  return ctx.account;
}

export const photoIdMethod = defineMethod({
  id: 'photo-id',
  events: ['submitted'] as PhotoIdEvent[],
  schema,
  redisplay: ['document'],
  uploads: (config) => ({ fields: ['document'], files: { photo: { maxBytes: config.identityChecks.photoIdLimits.photoMaxBytes }, video: { maxBytes: config.identityChecks.photoIdLimits.videoMaxBytes } } }),

  async enter() {
    return { photoIdDigits: spokenDigits() };
  },

  // A case already awaiting review: the honest "we are checking" page, not a second upload.
  async arrive(ctx): Promise<Outcome<PhotoIdEvent> | undefined> {
    const open = await ctx.services.photoIdCases.openCaseFor(accountOf(ctx).id);
    return open ? { kind: 'event', event: 'submitted' } : undefined;
  },

  async present(ctx, presentation) {
    const digits = ctx.facts.photoIdDigits;
    if (!digits) throw new JourneyInvariantError('photo-id: the step was not entered (no digits)');
    return {
      template: 'provide-photo-id.njk',
      data: {
        errors: presentation.errors,
        values: presentation.values ?? {},
        digits: [...digits],
        documents: Object.entries(PHOTO_ID_DOCUMENTS).map(([value, text]) => ({ value, text })),
        limits: photoIdLimitsText(ctx.services.config.identityChecks.photoIdLimits),
        ...identityCheckPageData(ctx),
      },
    };
  },

  async submit(ctx, body): Promise<Outcome<PhotoIdEvent>> {
    const { counters, photoIdCases, photoDecoder, config } = ctx.services;
    const limits = config.identityChecks.photoIdLimits;
    const account = accountOf(ctx);
    const digits = ctx.facts.photoIdDigits;
    if (!digits) throw new JourneyInvariantError('photo-id: the step was not entered (no digits)');

    // E3 quota: every upload that gets this far counts, before any decoding is paid for.
    const quota = await counters.reserveAttempt(lockoutKeys.photoIdUpload(account.id), photoIdUploadPolicy(config));
    if (!quota.allowed) {
      ctx.log.warn({ event: 'photo_id.quota' }, 'photo ID uploads over the daily quota');
      return { kind: 'page', view: tooManyRequestsView(quota.retryAfterSeconds, 'uploads', { maxUploads: limits.uploadsPerDay }) };
    }

    const [photo, video] = await Promise.all([photoDecoder.reencode(body.photo.bytes), Promise.resolve(checkVideo(body.video.bytes, limits))]);
    // Refused for our capacity, not for the files: the upload is not counted against the person's day.
    if (photo.kind === 'refused' && photo.reason === 'busy') await counters.releaseAttempt(lockoutKeys.photoIdUpload(account.id), photoIdUploadPolicy(config));
    const errors = [...(photo.kind === 'refused' ? [{ field: 'photo', text: photoProblem(photo) }] : []), ...(video.kind === 'refused' ? [{ field: 'video', text: videoProblem(video, limits) }] : [])];
    if (photo.kind === 'refused' || video.kind === 'refused') {
      // Why, for operations; never the files, their names or the digits.
      ctx.log.info({ event: 'photo_id.refused', photo: photo.kind === 'refused' ? photo.reason : 'ok', video: video.kind === 'refused' ? video.reason : 'ok' }, 'photo ID upload refused');
      return { kind: 'retry', errors, values: { document: body.document } };
    }

    const result = await photoIdCases.submit({
      accountId: account.id,
      documentType: body.document,
      spokenDigits: digits,
      photo: { contentType: 'image/jpeg', content: photo.jpeg },
      video: { contentType: video.contentType, content: body.video.bytes },
      ...(ctx.clientId ? { clientId: ctx.clientId } : {}),
      ip: ctx.ip,
    });
    ctx.log.info({ event: result.kind === 'submitted' ? 'photo_id.submitted' : 'photo_id.already_open' }, 'photo ID case');
    return { kind: 'event', event: 'submitted' };
  },

  actions: IDENTITY_CHECK_ACTIONS,
});
