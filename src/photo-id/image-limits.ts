import sharp from 'sharp';

/**
 * The stored photo's longest side (E4, D22): enough for a reviewer to read a document's small print
 * (a passport page photographed whole is about 2000 px wide at that size), while a 50 Mpx upload is
 * not kept at 50 Mpx. Smaller photos are never enlarged.
 */
export const STORED_PHOTO_LONG_SIDE = 3000;
export const STORED_PHOTO_QUALITY = 85;

/**
 * Every libvips loader is blocked except JPEG and PNG from a buffer (E6): libvips picks a loader by
 * the bytes, not the declared type, so a loader that is not blocked is one an attacker can reach
 * (SVG, TIFF, PDF, HEIF, WebP, GIF and the unfuzzed ones). The block is process-wide.
 */
export function restrictLoaders(): void {
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ['VipsForeignLoadJpegBuffer', 'VipsForeignLoadPngBuffer'] });
}

/**
 * libvips' own memory is native, outside any JavaScript heap limit, so it is bounded by settings:
 * no operation cache (a decoded image is never kept after its answer) and one libvips thread per
 * image (process-wide: the worker threads share one libvips). The pixel limit and the queue in
 * images.ts bound the rest.
 */
export function boundLibvipsMemory(): void {
  sharp.cache(false);
  sharp.concurrency(1);
}
