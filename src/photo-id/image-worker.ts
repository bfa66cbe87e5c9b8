import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { PHOTO_MAX_PIXELS, restrictLoaders } from './image-limits.js';

/**
 * Decodes one uploaded photo and re-encodes it (E4-E6), in a worker thread so a hostile file can
 * cost at most the worker's time limit and memory, never the server's event loop. The answer is a
 * fresh JPEG (sharp removes all metadata unless told otherwise) or the reason it was refused.
 */
export type WorkerAnswer = { readonly ok: true; readonly jpeg: Uint8Array<ArrayBuffer> } | { readonly ok: false; readonly reason: 'unreadable' | 'too-many-pixels' };

async function reencode(input: Uint8Array): Promise<WorkerAnswer> {
  restrictLoaders();
  // One worker, one image: libvips' own threads need not compete with the server's.
  sharp.concurrency(1);
  sharp.cache(false);
  try {
    const jpeg = await sharp(input, { failOn: 'warning', limitInputPixels: PHOTO_MAX_PIXELS, pages: 1, animated: false, autoOrient: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 85 })
      .toBuffer();
    return { ok: true, jpeg: new Uint8Array(jpeg) };
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    return { ok: false, reason: /pixel limit/i.test(message) ? 'too-many-pixels' : 'unreadable' };
  }
}

const answer = await reencode(workerData as Uint8Array);
parentPort?.postMessage(answer, answer.ok ? [answer.jpeg.buffer] : []);
