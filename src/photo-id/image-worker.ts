import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { STORED_PHOTO_LONG_SIDE, STORED_PHOTO_QUALITY, boundLibvipsMemory, restrictLoaders } from './image-limits.js';

/**
 * Decodes one uploaded photo and re-encodes it (E4-E6), in a worker thread so a hostile file can
 * cost at most the worker's time limit and memory, never the server's event loop. The answer is a
 * fresh JPEG (sharp removes all metadata unless told otherwise) or the reason it was refused.
 */
export type WorkerAnswer = { readonly ok: true; readonly jpeg: Uint8Array<ArrayBuffer> } | { readonly ok: false; readonly reason: 'unreadable' | 'too-many-pixels' };

export interface WorkerJob {
  readonly bytes: Uint8Array;
  /** sharp's limitInputPixels: checked against the header before any pixel is decoded. */
  readonly maxPixels: number;
}

async function reencode({ bytes, maxPixels }: WorkerJob): Promise<WorkerAnswer> {
  restrictLoaders();
  boundLibvipsMemory();
  try {
    // First page or frame only (an animated PNG is its first frame); unlimited stays false.
    const jpeg = await sharp(bytes, { failOn: 'warning', limitInputPixels: maxPixels, pages: 1, animated: false, autoOrient: true, sequentialRead: true })
      // Shrunk while decoding where the format allows (JPEG), so a big photo never exists at full size.
      .resize({ width: STORED_PHOTO_LONG_SIDE, height: STORED_PHOTO_LONG_SIDE, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: STORED_PHOTO_QUALITY })
      .toBuffer();
    return { ok: true, jpeg: new Uint8Array(jpeg) };
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    return { ok: false, reason: /pixel limit/i.test(message) ? 'too-many-pixels' : 'unreadable' };
  }
}

const answer = await reencode(workerData as WorkerJob);
parentPort?.postMessage(answer, answer.ok ? [answer.jpeg.buffer] : []);
