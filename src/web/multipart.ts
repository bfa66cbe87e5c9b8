import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { BadRequestError, CsrfError, PayloadTooLargeError } from '../errors.js';

/**
 * multipart/form-data for the one form that sends files (photo ID). Streamed through busboy with
 * hard limits: a file is counted as it arrives and the request ends with 413 the moment a file
 * passes its limit (E4), so nothing bigger is ever held in memory. Only the parts the step expects
 * are read; a file's name and declared type are ignored (E3: the server names and types what it
 * keeps). The CSRF token must come before the first file (the page puts it first) and is checked
 * as soon as it arrives, so a forged request gets 403 before any file is read (C5).
 */
export interface MultipartSpec {
  /** Text fields besides `_csrf`. */
  readonly fields: readonly string[];
  readonly files: Readonly<Record<string, { readonly maxBytes: number }>>;
  /** Checks the form's `_csrf` value. */
  verifyCsrf(token: string): boolean;
}

export type MultipartBody = Record<string, string | { readonly kind: 'upload'; readonly bytes: Buffer }>;

/** Room for the boundaries, part headers and short text fields around the files. */
const OVERHEAD_BYTES = 64 * 1024;
const FIELD_MAX_BYTES = 1024;

export function readMultipart(req: IncomingMessage, headers: IncomingHttpHeaders, spec: MultipartSpec): Promise<MultipartBody> {
  const fileNames = Object.keys(spec.files);
  const declared = Number(headers['content-length']);
  const total = Object.values(spec.files).reduce((sum, file) => sum + file.maxBytes, OVERHEAD_BYTES);
  // A declared length over every limit together is refused before a byte of the body is read.
  if (Number.isFinite(declared) && declared > total) return Promise.reject(new PayloadTooLargeError());

  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers,
        limits: { fields: spec.fields.length + 1, fieldSize: FIELD_MAX_BYTES, files: fileNames.length, fileSize: Math.max(...Object.values(spec.files).map((f) => f.maxBytes)) + 1, parts: spec.fields.length + 1 + fileNames.length + 1, headerPairs: 10 },
      });
    } catch (error) {
      reject(new BadRequestError(`unreadable multipart form: ${error instanceof Error ? error.message : 'no boundary'}`));
      return;
    }
    const body: MultipartBody = {};
    let csrfChecked = false;
    let failed = false;

    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      // The rest of the body is read and thrown away (never buffered), so the answer reaches the browser.
      req.resume();
      reject(error);
    };

    parser.on('field', (name, value, info) => {
      if (failed) return;
      if (info.valueTruncated || info.nameTruncated) return fail(new BadRequestError('form field too long'));
      if (Object.hasOwn(body, name)) return fail(new BadRequestError(`repeated form field "${name}"`));
      if (name === '_csrf') {
        if (!spec.verifyCsrf(value)) return fail(new CsrfError());
        csrfChecked = true;
      } else if (!spec.fields.includes(name)) {
        return fail(new BadRequestError(`unexpected form field "${name}"`));
      }
      body[name] = value;
    });

    parser.on('file', (name, stream, _info) => {
      if (failed) return void stream.resume();
      if (!csrfChecked) {
        stream.resume();
        return fail(new CsrfError());
      }
      const limit = Object.hasOwn(spec.files, name) ? spec.files[name]!.maxBytes : undefined;
      if (limit === undefined || Object.hasOwn(body, name)) {
        stream.resume();
        return fail(new BadRequestError(`unexpected file field "${name}"`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > limit) {
          stream.resume();
          return fail(new PayloadTooLargeError(name));
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        // An empty file input still sends a part, with no bytes: the method says "Select a file".
        if (!failed && size > 0) body[name] = { kind: 'upload', bytes: Buffer.concat(chunks, size) };
      });
    });

    // busboy reports reaching the limit after that part; one part more than expected is the refusal.
    parser.on('partsLimit', () => fail(new BadRequestError('too many form parts')));
    parser.on('filesLimit', () => fail(new BadRequestError('too many files')));
    parser.on('fieldsLimit', () => fail(new BadRequestError('too many form fields')));
    parser.on('error', (error: Error) => fail(new BadRequestError(`unreadable multipart form: ${error.message}`)));
    parser.on('close', () => {
      if (failed) return;
      if (!csrfChecked) return fail(new CsrfError());
      resolve(body);
    });
    req.on('error', (error) => fail(new BadRequestError(`the upload was interrupted: ${error.message}`)));
    req.pipe(parser);
  });
}
