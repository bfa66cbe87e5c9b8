import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/logger.js';

/** A fresh temp directory per test, removed afterwards. */
export function useTempDir(): { readonly path: string } {
  const holder = { path: '' };
  beforeEach(async () => {
    holder.path = await mkdtemp(path.join(os.tmpdir(), 'carelogin-keys-'));
  });
  afterEach(async () => {
    await rm(holder.path, { recursive: true, force: true });
  });
  return holder;
}

/** Test-mode configuration whose keystore lives at `file`. */
export function configWithKeystore(file: string, env: Record<string, string> = {}): Config {
  return loadConfig({ CARELOGIN_ENV: 'test', LOG_LEVEL: 'silent', KEYSTORE_FILE: file, ...env });
}

/** A real pino logger whose lines are collected for assertions. */
export function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ level: 'info' }, destination);
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
