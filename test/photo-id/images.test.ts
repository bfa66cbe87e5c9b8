import { expect } from 'chai';
import sharp, { type Metadata } from 'sharp';
import { STORED_PHOTO_LONG_SIDE, createPhotoDecoder } from '../../src/photo-id/images.js';

describe('the stored photo', function () {
  this.timeout(60_000);
  const decoder = createPhotoDecoder({ photoMaxBytes: 10 * 1024 * 1024, photoMaxPixels: 50_000_000, concurrentDecodes: 1 });

  async function stored(width: number, height: number, format: 'jpeg' | 'png'): Promise<Metadata> {
    const image = sharp({ create: { width, height, channels: 3, background: '#5a7d9a' } });
    const result = await decoder.reencode(await (format === 'jpeg' ? image.jpeg() : image.png()).toBuffer());
    if (result.kind !== 'ok') throw new Error(`refused: ${result.reason}`);
    return sharp(result.jpeg).metadata();
  }

  it(`is shrunk to a long side of ${STORED_PHOTO_LONG_SIDE} px, keeping its proportions (landscape JPEG)`, async () => {
    expect(await stored(6000, 4000, 'jpeg')).to.include({ format: 'jpeg', width: 3000, height: 2000 });
  });

  it('is shrunk by its long side when that is the height (portrait PNG)', async () => {
    expect(await stored(2000, 4500, 'png')).to.include({ format: 'jpeg', width: 1333, height: 3000 });
  });

  it('is never enlarged', async () => {
    expect(await stored(1200, 800, 'jpeg')).to.include({ width: 1200, height: 800 });
    expect(await stored(3000, 10, 'png')).to.include({ width: 3000, height: 10 });
  });
});
