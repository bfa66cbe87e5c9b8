import { Worker } from 'node:worker_threads';
import { PHOTO_MAX_BYTES, restrictLoaders } from './image-limits.js';
import type { WorkerAnswer } from './image-worker.js';

export { PHOTO_MAX_BYTES, PHOTO_MAX_PIXELS } from './image-limits.js';

/**
 * The photo of an ID document (security-bar E3-E6): JPEG or PNG by its first bytes (never the
 * type or name the browser declared), decoded by sharp in a worker thread with a time limit and a
 * memory cap, auto-oriented and re-encoded to a fresh JPEG without metadata. Only that JPEG is
 * ever stored; the bytes uploaded are dropped, with whatever was hidden in or after them.
 */

// At start: loaders the photo does not need are blocked before any upload is seen (E6).
restrictLoaders();

/** How long one photo may take to decode and re-encode before it is refused (E4). */
export const DECODE_TIME_LIMIT_MS = 5000;

export type ImageFormat = 'jpeg' | 'png';

export type PhotoResult = { readonly kind: 'ok'; readonly jpeg: Buffer } | { readonly kind: 'refused'; readonly reason: 'empty' | 'too-large' | 'not-jpeg-or-png' | 'unreadable' | 'too-many-pixels' | 'too-slow' };

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
function decodeInWorker(bytes: Buffer, timeLimitMs: number): Promise<WorkerAnswer | 'too-slow'> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      workerData: bytes,
      // The JavaScript heap of the worker; libvips' own memory is bounded by the pixel limit.
      resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
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

/** Checks and re-encodes an uploaded photo; only a `kind: 'ok'` JPEG may be stored. */
export async function reencodePhoto(bytes: Buffer, options: { timeLimitMs?: number } = {}): Promise<PhotoResult> {
  if (bytes.length === 0) return { kind: 'refused', reason: 'empty' };
  if (bytes.length > PHOTO_MAX_BYTES) return { kind: 'refused', reason: 'too-large' };
  if (!imageFormat(bytes)) return { kind: 'refused', reason: 'not-jpeg-or-png' };
  const answer = await decodeInWorker(bytes, options.timeLimitMs ?? DECODE_TIME_LIMIT_MS);
  if (answer === 'too-slow') return { kind: 'refused', reason: 'too-slow' };
  if (!answer.ok) return { kind: 'refused', reason: answer.reason };
  const jpeg = Buffer.from(answer.jpeg.buffer, answer.jpeg.byteOffset, answer.jpeg.byteLength);
  // Belt and braces: what the worker made must itself be a JPEG.
  return imageFormat(jpeg) === 'jpeg' ? { kind: 'ok', jpeg } : { kind: 'refused', reason: 'unreadable' };
}
