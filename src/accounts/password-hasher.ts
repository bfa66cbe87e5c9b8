import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, parseOptions, type Algorithm, type Options } from '@node-rs/argon2';
import type { Config } from '../config/index.js';
import { BadRequestError } from '../errors.js';
import { createSemaphore } from './semaphore.js';

export interface PasswordHasher {
  /** argon2id with config.argon2 parameters (p=1), NFC-normalised, never truncated. */
  hash(password: string): Promise<string>;
  /** Verifies; with hash === null verifies against a fixed dummy hash and returns false, so unknown accounts take the same time (F1). */
  verify(hash: string | null, password: string): Promise<boolean>;
}

export interface HasherStats {
  readonly active: number;
  readonly waiting: number;
  readonly peak: number;
}

/** The hasher plus what callers and tests may inspect. Assignable to PasswordHasher. */
export interface MeteredPasswordHasher extends PasswordHasher {
  /** True when `hash` was made with other parameters than today's: rehash after a successful sign-in. */
  needsRehash(hash: string): boolean;
  stats(): HasherStats;
}

/**
 * Upper bound on what reaches Argon2. The policy caps new passwords at 128 code points (≤ 512 bytes
 * of UTF-8), so anything longer cannot match a stored hash; refusing it early stops someone posting
 * megabytes to burn CPU. This is a bound on input, not truncation: nothing is ever cut short.
 */
export const MAX_PASSWORD_BYTES = 1024;

// @node-rs/argon2 declares Algorithm as a `const enum`, which does not exist at run time under
// per-file transpilers (tsx, esbuild); use its numeric value. 2 is Argon2id.
const ARGON2ID = 2 satisfies Algorithm;

export function createPasswordHasher(config: Config): MeteredPasswordHasher {
  const options: Options = {
    algorithm: ARGON2ID,
    memoryCost: config.argon2.memoryCost,
    timeCost: config.argon2.timeCost,
    parallelism: 1,
  };
  const semaphore = createSemaphore(config.limits.concurrentPasswordHashes);

  // Made once, with today's parameters, from a random secret nobody knows: verifying against it
  // costs exactly what a real verification costs and can never succeed.
  let dummyHash: Promise<string> | undefined;
  const dummy = (): Promise<string> => {
    dummyHash ??= semaphore.run(() => argon2Hash(randomBytes(32).toString('base64url'), options)).catch((error: unknown) => {
      dummyHash = undefined; // try again next time rather than failing every unknown-account check
      throw error;
    });
    return dummyHash;
  };
  // Made now, so the first sign-in with an unknown email is not the one that pays for it (F1).
  dummy().catch(() => undefined);

  function prepare(password: string): string {
    // NFC so that the same characters typed on different keyboards (é as one code point or as
    // e + combining accent) are the same password. No case folding, no trimming.
    return password.normalize('NFC');
  }

  async function verifyAgainst(stored: string, password: string): Promise<boolean> {
    try {
      return await semaphore.run(() => argon2Verify(stored, password));
    } catch {
      // A malformed stored hash is a data problem, not a match.
      return false;
    }
  }

  return {
    async hash(password) {
      const prepared = prepare(password);
      if (Buffer.byteLength(prepared, 'utf8') > MAX_PASSWORD_BYTES) {
        // The policy check should have stopped this; never silently shorten a password.
        throw new BadRequestError('Password is too long');
      }
      return semaphore.run(() => argon2Hash(prepared, options));
    },

    async verify(stored, password) {
      const prepared = prepare(password);
      const tooLong = Buffer.byteLength(prepared, 'utf8') > MAX_PASSWORD_BYTES;
      if (stored === null || tooLong) {
        // Same work as a real check, so response time does not reveal whether the account exists.
        await verifyAgainst(await dummy(), tooLong ? 'x' : prepared);
        return false;
      }
      return verifyAgainst(stored, prepared);
    },

    needsRehash(stored) {
      try {
        const parsed = parseOptions(stored);
        return parsed.algorithm !== ARGON2ID || parsed.memoryCost !== options.memoryCost || parsed.timeCost !== options.timeCost || parsed.parallelism !== 1;
      } catch {
        return true;
      }
    },

    stats() {
      return { active: semaphore.active, waiting: semaphore.waiting, peak: semaphore.peak };
    },
  };
}
