import sharp from 'sharp';

/** Upload thresholds of security-bar line 21 and E4. */
export const PHOTO_MAX_BYTES = 10 * 1024 * 1024;
export const PHOTO_MAX_PIXELS = 50_000_000;

/**
 * Every libvips loader is blocked except JPEG and PNG from a buffer (E6): libvips picks a loader by
 * the bytes, not the declared type, so a loader that is not blocked is one an attacker can reach
 * (SVG, TIFF, PDF, HEIF, WebP, GIF and the unfuzzed ones). The block is process-wide.
 */
export function restrictLoaders(): void {
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ['VipsForeignLoadJpegBuffer', 'VipsForeignLoadPngBuffer'] });
}
