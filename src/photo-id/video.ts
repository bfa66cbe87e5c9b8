/**
 * The short video of the person saying their four numbers (security-bar E8): MP4 or WebM by its
 * first bytes, not empty, at most PHOTO_ID_MAX_VIDEO_BYTES and, where the container says, at most
 * PHOTO_ID_MAX_VIDEO_SECONDS. It is only read here, never decoded or transcoded: a reviewer's
 * browser plays it from a download.
 * The boxes and elements read are bounds-checked, so a truncated file is refused, never a crash.
 */

/** The limits a video is checked against (PHOTO_ID_MAX_VIDEO_BYTES, PHOTO_ID_MAX_VIDEO_SECONDS). */
export interface VideoLimits {
  readonly videoMaxBytes: number;
  readonly videoMaxSeconds: number;
}

export type VideoResult =
  | { readonly kind: 'ok'; readonly contentType: 'video/mp4' | 'video/webm'; readonly seconds?: number }
  | { readonly kind: 'refused'; readonly reason: 'empty' | 'too-large' | 'not-mp4-or-webm' | 'malformed' | 'too-long' };

const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];

export function checkVideo(bytes: Buffer, limits: VideoLimits): VideoResult {
  if (bytes.length === 0) return { kind: 'refused', reason: 'empty' };
  if (bytes.length > limits.videoMaxBytes) return { kind: 'refused', reason: 'too-large' };
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') return withDuration('video/mp4', mp4Seconds(bytes), limits.videoMaxSeconds);
  if (EBML_MAGIC.every((byte, i) => bytes[i] === byte)) return withDuration('video/webm', webmSeconds(bytes), limits.videoMaxSeconds);
  return { kind: 'refused', reason: 'not-mp4-or-webm' };
}

function withDuration(contentType: 'video/mp4' | 'video/webm', seconds: number | 'malformed' | undefined, maxSeconds: number): VideoResult {
  if (seconds === 'malformed') return { kind: 'refused', reason: 'malformed' };
  if (seconds !== undefined && seconds > maxSeconds) return { kind: 'refused', reason: 'too-long' };
  return { kind: 'ok', contentType, ...(seconds === undefined ? {} : { seconds }) };
}

/**
 * Walks the top-level boxes: each must fit in the file (a truncated upload does not), and `moov`
 * must be there with its `mvhd` (timescale and duration), or the file is not a playable MP4.
 */
function mp4Seconds(bytes: Buffer): number | 'malformed' {
  let seconds: number | 'malformed' = 'malformed';
  for (const box of boxes(bytes, 0, bytes.length)) {
    if (box === 'malformed') return 'malformed';
    if (box.type !== 'moov') continue;
    for (const inner of boxes(bytes, box.start, box.end)) {
      if (inner === 'malformed') return 'malformed';
      if (inner.type === 'mvhd') seconds = mvhdSeconds(bytes, inner.start, inner.end);
    }
  }
  return seconds;
}

function* boxes(bytes: Buffer, from: number, to: number): Generator<{ type: string; start: number; end: number } | 'malformed'> {
  let offset = from;
  while (offset < to) {
    if (to - offset < 8) return yield 'malformed';
    let size = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (to - offset < 16) return yield 'malformed';
      size = Number(bytes.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = to - offset; // to the end of the file
    }
    if (size < header || offset + size > to) return yield 'malformed';
    yield { type, start: offset + header, end: offset + size };
    offset += size;
  }
}

function mvhdSeconds(bytes: Buffer, start: number, end: number): number | 'malformed' {
  const version = bytes[start];
  const need = version === 1 ? 32 : 20;
  if (end - start < need) return 'malformed';
  const timescale = version === 1 ? bytes.readUInt32BE(start + 20) : bytes.readUInt32BE(start + 12);
  const duration = version === 1 ? Number(bytes.readBigUInt64BE(start + 24)) : bytes.readUInt32BE(start + 16);
  if (timescale === 0) return 'malformed';
  return duration / timescale;
}

const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMECODE_SCALE = 0x2ad7b1;
const DURATION = 0x4489;

/** An EBML variable-length integer at `offset`: its value (marker bit removed for sizes) and length. */
function vint(bytes: Buffer, offset: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } | undefined {
  const first = bytes[offset];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (offset + length > bytes.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[offset + i]!;
    if (bytes[offset + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/**
 * WebM: the EBML header must fit; the duration is read from Segment > Info when it is there.
 * Browsers' MediaRecorder often writes no duration (a live recording), so a missing one is allowed.
 */
function webmSeconds(bytes: Buffer): number | 'malformed' | undefined {
  const header = vint(bytes, 4, false);
  if (!header || header.unknown || 4 + header.length + header.value > bytes.length) return 'malformed';
  let offset = 4 + header.length + header.value;
  const segmentId = vint(bytes, offset, true);
  if (!segmentId || segmentId.value !== SEGMENT) return 'malformed';
  const segmentSize = vint(bytes, offset + segmentId.length, false);
  if (!segmentSize) return 'malformed';
  offset += segmentId.length + segmentSize.length;
  // A recording still being written has an unknown size; a known one must fit (else it was cut short).
  if (!segmentSize.unknown && offset + segmentSize.value > bytes.length) return 'malformed';
  // Look only through the first elements of the segment for Info; clusters come after it.
  for (let seen = 0; seen < 16 && offset < bytes.length; seen++) {
    const id = vint(bytes, offset, true);
    const size = id && vint(bytes, offset + id.length, false);
    if (!id || !size || size.unknown) return undefined;
    const start = offset + id.length + size.length;
    if (start + size.value > bytes.length) return 'malformed';
    if (id.value === INFO) return infoSeconds(bytes, start, start + size.value);
    offset = start + size.value;
  }
  return undefined;
}

function infoSeconds(bytes: Buffer, from: number, to: number): number | 'malformed' | undefined {
  let scale = 1_000_000; // nanoseconds per tick, the default
  let ticks: number | undefined;
  let offset = from;
  while (offset < to) {
    const id = vint(bytes, offset, true);
    const size = id && vint(bytes, offset + id.length, false);
    if (!id || !size) return 'malformed';
    const start = offset + id.length + size.length;
    if (start + size.value > to) return 'malformed';
    if (id.value === TIMECODE_SCALE && size.value >= 1 && size.value <= 6) scale = bytes.readUIntBE(start, size.value);
    if (id.value === DURATION) ticks = size.value === 4 ? bytes.readFloatBE(start) : size.value === 8 ? bytes.readDoubleBE(start) : undefined;
    offset = start + size.value;
  }
  return ticks === undefined || !Number.isFinite(ticks) ? undefined : (ticks * scale) / 1e9;
}
