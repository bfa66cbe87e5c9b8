import { Worker } from 'node:worker_threads';
import { createSemaphore } from '../accounts/semaphore.js';
import type { PhotoIdLimits } from '../config/index.js';
import { restrictLoaders } from './image-limits.js';
import type { WorkerAnswer, WorkerJob } from './image-worker.js';

export { STORED_PHOTO_LONG_SIDE } from './image-limits.js';

/**
 * The photo of an ID document (security-bar E3-E6): JPEG or PNG by its first bytes (never the
 * type or name the browser declared), decoded by sharp in a worker thread with a time limit and a
 * memory cap, auto-oriented, shrunk to at most STORED_PHOTO_LONG_SIDE and re-encoded to a fresh
 * JPEG without metadata. Only that JPEG is ever stored; the bytes uploaded are dropped, with
 * whatever was hidden in or after them.
 */

// At start: loaders the photo does not need are blocked before any upload is seen (E6).
restrictLoaders();

/** How long one photo may take to decode and re-encode before it is refused (E4). */
export const DECODE_TIME_LIMIT_MS = 5000;
/** How long a photo may wait for a decoder before it is refused as busy (within the 30 s request limit). */
export const DECODE_QUEUE_LIMIT_MS = 15_000;
/** Photos waiting for a decoder beyond which the next is refused as busy at once. */
export const DECODE_QUEUE_MAX_WAITING = 40;

/**
 * The worker's JavaScript heap (V8's limits): it holds the upload and the answer, never the pixels,
 * which are libvips' native memory and bounded by the pixel limit, the stored size and the queue.
 */
const WORKER_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 } as const;

export type ImageFormat = 'jpeg' | 'png';

export type PhotoRefusal = 'empty' | 'too-large' | 'not-jpeg-or-png' | 'unreadable' | 'too-many-pixels' | 'too-slow' | 'busy';
export type PhotoResult = { readonly kind: 'ok'; readonly jpeg: Buffer } | { readonly kind: 'refused'; readonly reason: PhotoRefusal };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** JPEG (FF D8 FF) or PNG (its 8-byte signature) by magic bytes; anything else is undefined. */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= PNG_SIGNATURE.length && Buffer.from(bytes.subarray(0, PNG_SIGNATURE.length)).equals(PNG_SIGNATURE)) return 'png';
  return undefined;
}

// The worker is TypeScript under tsx (tests, scripts) and JavaScript once built.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './image-worker.ts' : './image-worker.js', import.meta.url);

/** Runs the decode in a fresh worker; a worker past its time limit is terminated. */
function decodeInWorker(job: WorkerJob, timeLimitMs: number): Promise<WorkerAnswer | 'too-slow'> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job, resourceLimits: WORKER_RESOURCE_LIMITS, stdout: false, stderr: false });
    let settled = false;
    const finish = (value: WorkerAnswer | 'too-slow' | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      finish('too-slow');
      void worker.terminate();
    }, timeLimitMs);
    worker.once('message', (answer: WorkerAnswer) => finish(answer));
    // A worker that runs out of memory is a photo too big to handle, not a fault of the server.
    worker.once('error', (error) => finish(error.name === 'Error' && /memory/i.test(error.message) ? { ok: false, reason: 'too-many-pixels' } : error));
    worker.once('exit', () => finish({ ok: false, reason: 'unreadable' }));
  });
}

export interface ReencodeOptions {
  readonly maxBytes: number;
  readonly maxPixels: number;
  readonly timeLimitMs?: number;
}

/** Checks and re-encodes one uploaded photo in a worker of its own; only a `kind: 'ok'` JPEG may be stored. */
export async function reencodePhoto(bytes: Buffer, options: ReencodeOptions): Promise<PhotoResult> {
  const early = precheck(bytes, options.maxBytes);
  if (early) return early;
  const answer = await decodeInWorker({ bytes, maxPixels: options.maxPixels }, options.timeLimitMs ?? DECODE_TIME_LIMIT_MS);
  return fromAnswer(answer);
}

/** What can be refused without decoding: nothing, too many bytes, not JPEG or PNG. */
function precheck(bytes: Buffer, maxBytes: number): PhotoResult | undefined {
  if (bytes.length === 0) return { kind: 'refused', reason: 'empty' };
  if (bytes.length > maxBytes) return { kind: 'refused', reason: 'too-large' };
  if (!imageFormat(bytes)) return { kind: 'refused', reason: 'not-jpeg-or-png' };
  return undefined;
}

function fromAnswer(answer: WorkerAnswer | 'too-slow'): PhotoResult {
  if (answer === 'too-slow') return { kind: 'refused', reason: 'too-slow' };
  if (!answer.ok) return { kind: 'refused', reason: answer.reason };
  const jpeg = Buffer.from(answer.jpeg.buffer, answer.jpeg.byteOffset, answer.jpeg.byteLength);
  // Belt and braces: what the worker made must itself be a JPEG.
  return imageFormat(jpeg) === 'jpeg' ? { kind: 'ok', jpeg } : { kind: 'refused', reason: 'unreadable' };
}

/**
 * The process's photo decoder (E4): at most `concurrentDecodes` workers decode at once, so twenty
 * bombs sent together are twenty turns in a queue, not twenty libvips decodes competing for memory.
 * A photo that waits too long, or arrives when the queue is full, is refused as busy.
 */
export interface PhotoDecoder {
  reencode(bytes: Buffer): Promise<PhotoResult>;
  /** Decodes running and waiting now. */
  load(): { readonly running: number; readonly waiting: number; readonly mostRunning: number };
}

export function createPhotoDecoder(limits: Pick<PhotoIdLimits, 'photoMaxBytes' | 'photoMaxPixels' | 'concurrentDecodes'>, options: { timeLimitMs?: number; queueLimitMs?: number } = {}): PhotoDecoder {
  const timeLimitMs = options.timeLimitMs ?? DECODE_TIME_LIMIT_MS;
  const queueLimitMs = options.queueLimitMs ?? DECODE_QUEUE_LIMIT_MS;
  const decodes = createSemaphore(limits.concurrentDecodes);

  return {
    async reencode(bytes) {
      const early = precheck(bytes, limits.photoMaxBytes);
      if (early) return early;
      const done = await decodes.runWithin(() => decodeInWorker({ bytes, maxPixels: limits.photoMaxPixels }, timeLimitMs), { maxWaiting: DECODE_QUEUE_MAX_WAITING, maxWaitMs: queueLimitMs });
      return done.ran ? fromAnswer(done.value) : { kind: 'refused', reason: 'busy' };
    },
    load: () => ({ running: decodes.active, waiting: decodes.waiting, mostRunning: decodes.peak }),
  };
}
