import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Upload fixtures, made at test time (nothing binary is kept in the repository). */

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A tiny PNG whose header claims width × height pixels (a "pixel flood" bomb, E4). */
export function pixelBombPng(width = 50_000, height = 50_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A small photo-like JPEG, 40 × 20, with EXIF (orientation 6, GPS-like camera data), XMP and an ICC profile. */
export async function jpegWithMetadata(): Promise<Buffer> {
  return sharp({ create: { width: 40, height: 20, channels: 3, background: '#336699' } })
    .withExif({ IFD0: { Make: 'CareloginTestCam', Model: 'Serial 12345', Copyright: 'secret place' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
    .withMetadata({ orientation: 6 })
    .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Somebody</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>')
    .withIccProfile('p3')
    .jpeg()
    .toBuffer();
}

export async function plainPng(): Promise<Buffer> {
  return sharp({ create: { width: 30, height: 30, channels: 4, background: { r: 0, g: 128, b: 0, alpha: 0.5 } } }).png().toBuffer();
}

export async function tiffImage(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } }).tiff().toBuffer();
}

export async function gifImage(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } }).gif().toBuffer();
}

export const SVG_WITH_SCRIPT = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>');
export const PDF_FILE = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
export const ZIP_FILE = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)]);
export const TEXT_FILE = Buffer.from('this is not a photo, whatever the browser says');

/** A minimal MP4: ftyp, then moov with an mvhd (version 0) whose duration is `seconds`. */
export function mp4(seconds: number, options: { moov?: boolean } = {}): Buffer {
  const box = (type: string, body: Buffer): Buffer => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(8 + body.length, 0);
    header.write(type, 4, 'latin1');
    return Buffer.concat([header, body]);
  };
  const ftyp = box('ftyp', Buffer.concat([Buffer.from('isom', 'latin1'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2mp41', 'latin1')]));
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale
  mvhd.writeUInt32BE(Math.round(seconds * 1000), 16); // duration
  const moov = box('moov', box('mvhd', mvhd));
  const mdat = box('mdat', Buffer.alloc(2048, 7));
  return Buffer.concat(options.moov === false ? [ftyp, mdat] : [ftyp, moov, mdat]);
}

/** A minimal WebM (EBML header then a Segment with Info: TimecodeScale 1 ms, Duration in ms as a float). */
export function webm(seconds?: number): Buffer {
  const element = (id: number[], body: Buffer): Buffer => {
    // Sizes as 8-byte vints (0x01 then 7 bytes), which every EBML reader accepts.
    const size = Buffer.alloc(8);
    size[0] = 0x01;
    size.writeUIntBE(body.length, 2, 6);
    return Buffer.concat([Buffer.from(id), size, body]);
  };
  const ebml = element([0x1a, 0x45, 0xdf, 0xa3], element([0x42, 0x82], Buffer.from('webm', 'latin1')));
  const scale = element([0x2a, 0xd7, 0xb1], Buffer.from([0x0f, 0x42, 0x40]));
  const duration = Buffer.alloc(8);
  duration.writeDoubleBE((seconds ?? 0) * 1000);
  const info = element([0x15, 0x49, 0xa9, 0x66], Buffer.concat([scale, ...(seconds === undefined ? [] : [element([0x44, 0x89], duration)])]));
  const cluster = element([0x1f, 0x43, 0xb6, 0x75], Buffer.alloc(1024, 3));
  return Buffer.concat([ebml, element([0x18, 0x53, 0x80, 0x67], Buffer.concat([info, cluster]))]);
}

/**
 * A "JPEG bomb" (E4): a real, tiny baseline JPEG whose frame header (SOF0) is rewritten to claim
 * width × height, so the file is a few hundred bytes and the picture it declares gigapixels.
 */
export async function jpegBomb(width = 65_000, height = 65_000): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).jpeg({ quality: 50 }).toBuffer());
  for (let i = 2; i + 9 < jpeg.length; ) {
    if (jpeg[i] !== 0xff) throw new Error('unexpected JPEG layout');
    const marker = jpeg[i + 1]!;
    const length = jpeg.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
    i += 2 + length;
  }
  throw new Error('no frame header');
}

/**
 * A small PNG that inflates to `width` × `height` greyscale pixels (a decompression bomb within the
 * pixel limit): every row is zeros, which deflate squeezes about a thousandfold.
 */
export function zerosPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc((width + 1) * height), { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * An animated PNG (APNG) of `frames` frames, each width × height RGB: the first red (it is also the
 * default image), every later one blue.
 */
export function animatedPng(width: number, height: number, frames: number): Buffer {
  const frameData = (rgb: [number, number, number]): Buffer => {
    const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3).map((_, i) => rgb[i % 3]!)]);
    return deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  };
  const fctl = (sequence: number): Buffer => {
    const data = Buffer.alloc(26);
    data.writeUInt32BE(sequence, 0);
    data.writeUInt32BE(width, 4);
    data.writeUInt32BE(height, 8);
    data.writeUInt16BE(1, 20); // delay 1/10 s
    data.writeUInt16BE(10, 22);
    return pngChunk('fcTL', data);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2; // RGB
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(frames, 0);
  const chunks = [pngChunk('IHDR', ihdr), pngChunk('acTL', actl), fctl(0), pngChunk('IDAT', frameData([255, 0, 0]))];
  let sequence = 1;
  for (let f = 1; f < frames; f++) {
    chunks.push(fctl(sequence++));
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(sequence++);
    chunks.push(pngChunk('fdAT', Buffer.concat([seq, frameData([0, 0, 255])])));
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks, pngChunk('IEND', Buffer.alloc(0))]);
}
