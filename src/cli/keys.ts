/**
 * `npm run keys -- <show|rotate|rotate-hmac|reseal|prune|generate> [--file path] [--print] [--force]`
 * Manages the keystore file; see docs/operations.md "Keys" for when to run each step.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readIfExists, writeFileAtomic } from '../../keys/atomic-file.js';
import {
  ensureKeystoreFile, generateKeystoreDocument, parseKeystoreDocument, serializeKeystoreDocument, toKeystore, type KeystoreDocument,
} from '../../keys/keystore.js';
import {
  PRUNE_MARGIN_SECONDS, describeDocument, hmacSecretsDueForPruning, pruneDocument, rotateDocument, rotateHmacDocument,
  type PruneOptions, type PruneResult, type RotationOptions, type RotationResult,
} from '../../keys/rotation.js';
import { SETUP_SECONDS, authenticatorSecretsPerHmacSecret, resealAuthenticatorSecrets } from '../accounts/authenticator-app.js';
import { accountsWithRecoveryCodesUnder } from '../accounts/recovery-codes.js';
import { CHALLENGE_SECONDS } from '../accounts/passkeys.js';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase, type Database } from '../db/data-source.js';
import { CareloginError, ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';

async function readDocument(file: string): Promise<KeystoreDocument> {
  const text = await readIfExists(file);
  if (text === undefined) throw new ConfigError(`Keystore file ${file} does not exist; create it with "npm run keys -- generate"`);
  return parseKeystoreDocument(text, file);
}

/** One rotation step on a keystore file (see rotateDocument), written atomically with mode 0600. */
export async function rotateKeystore(file: string, now: Date, options: RotationOptions = {}): Promise<RotationResult> {
  const result = await rotateDocument(await readDocument(file), now, options);
  await writeFileAtomic(file, serializeKeystoreDocument(result.document));
  return result;
}

/** One rotate-hmac step on a keystore file (see rotateHmacDocument), written atomically with mode 0600. */
export async function rotateHmacKeystore(file: string, now: Date): Promise<RotationResult> {
  const result = rotateHmacDocument(await readDocument(file), now);
  await writeFileAtomic(file, serializeKeystoreDocument(result.document));
  return result;
}

/** Removes retired keys older than the longest token lifetime (see pruneDocument) from a keystore file. */
export async function pruneKeystore(file: string, now: Date, maxTokenLifetimeSeconds: number, options: PruneOptions = {}): Promise<PruneResult> {
  const result = pruneDocument(await readDocument(file), now, maxTokenLifetimeSeconds, options);
  if (result.removed.length > 0 || result.removedHmacSecrets.length > 0) await writeFileAtomic(file, serializeKeystoreDocument(result.document));
  return result;
}

/**
 * The longest a value made with the HMAC secret lives in flight: an ID token's sealed jti (read back
 * for asserted_login_identity), a form's CSRF token within its interaction, a security code, an
 * authenticator setup or passkey registration token. Stored authenticator secrets are handled by reseal.
 */
export function maxHmacInFlightLifetime(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.interaction, config.ttl.securityCode, SETUP_SECONDS, CHALLENGE_SECONDS);
}

/**
 * The longest lifetime of a token signed with our keys. ID tokens and JWT access tokens are signed;
 * refresh tokens and authorization codes are opaque database records, so they outlive key changes.
 */
export function maxSignedTokenLifetime(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken);
}

const USAGE = `Usage: npm run keys -- <command> [options]

Commands:
  show         List keys: kids, statuses, dates (never private material)
  rotate       One step of the two-phase rotation (run twice, restarting every instance in between)
  rotate-hmac  One step of the two-phase HMAC secret rotation (run twice, restarting every instance in between)
  reseal       Re-seal stored authenticator app secrets under the current HMAC secret (needs DATABASE_URL)
  prune        Remove retired keys whose tokens have all expired, and previous HMAC secrets
               nothing in flight or stored still needs (checks the database when one is due)
  generate     Create the keystore file if it does not exist

Options:
  --file <path>  Keystore file (default: KEYSTORE_FILE, else .data/keystore.json)
  --print        Do not write a file: print the resulting keystore JSON to stdout (for KEYSTORE_JSON)
  --force        rotate: promote even if the next keys were published less than an hour ago
`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: CliIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };

/** Runs the command; returns the process exit code. */
export interface KeysCliDeps {
  /** Opens the database for reseal and prune (tests pass their in-memory one). Default: DATABASE_URL, as carelogin does. */
  openDatabase?(config: Config): Promise<Database>;
}

const COMMANDS = ['show', 'rotate', 'rotate-hmac', 'reseal', 'prune', 'generate'];

export async function runKeysCli(argv: readonly string[], io: CliIo = consoleIo, env?: Record<string, string | undefined>, deps: KeysCliDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { file: { type: 'string' }, print: { type: 'boolean', default: false }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command || positionals.length > 1 || !COMMANDS.includes(command)) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }

  try {
    // Operators may run this on a host without the full production settings: only prune (token
    // lifetimes) and the default keystore location need the configuration.
    const needsConfig = command === 'prune' || command === 'reseal' || (values.file === undefined && !(command === 'generate' && values.print));
    const config = needsConfig ? (env ? loadConfig(env) : loadConfig()) : undefined;
    const now = new Date();
    const file = values.file ?? config?.keystore.file;
    const print = values.print;
    // With --print, stdout carries only the JSON so it can be redirected; messages go to stderr.
    const say = print ? io.err : io.out;
    // With KEYSTORE_JSON there is no file to change: work on the JSON and print the result.
    const fromJson = !values.file && Boolean(config?.keystore.json);
    // reseal changes the database, not the keystore.
    if (fromJson && !print && command !== 'show' && command !== 'reseal') {
      io.err(`The keystore comes from KEYSTORE_JSON, so there is no file to ${command}. Run:\n`
        + `  npm run keys -- ${command} --print > keystore.json\n`
        + 'then store the printed JSON as the new KEYSTORE_JSON value in your secret store, restart instances one at a time, and delete keystore.json.');
      return 1;
    }
    const keystoreFile = (): string => {
      if (!file) throw new ConfigError('No keystore file configured; pass --file');
      return file;
    };
    const load = async (): Promise<KeystoreDocument> => (fromJson ? parseKeystoreDocument(config!.keystore.json!, 'KEYSTORE_JSON') : readDocument(keystoreFile()));
    const withDatabase = async <T>(work: (db: Database) => Promise<T>): Promise<T> => {
      const db = deps.openDatabase ? await deps.openDatabase(config!) : await openDatabase(config!, createLogger({ level: 'warn' }));
      try {
        return await work(db);
      } finally {
        await db.close();
      }
    };

    switch (command) {
      case 'show': {
        const document = await load();
        io.out(`Keystore: ${fromJson ? 'KEYSTORE_JSON' : file}`);
        for (const line of describeDocument(document)) io.out(line);
        return 0;
      }
      case 'generate': {
        if (print) {
          io.out(serializeKeystoreDocument(await generateKeystoreDocument(now)).trimEnd());
          io.err('Printed a new keystore. Store it as KEYSTORE_JSON in your secret store (or as the keystore file, mode 0600); do not commit it.');
          return 0;
        }
        const { document, created } = await ensureKeystoreFile(keystoreFile(), now);
        io.out(created ? `Created keystore ${file} (mode 0600).` : `Keystore ${file} already exists; nothing changed.`);
        for (const line of describeDocument(document)) io.out(line);
        return 0;
      }
      case 'rotate': {
        const result = print ? await rotateDocument(await load(), now, { force: values.force }) : await rotateKeystore(keystoreFile(), now, { force: values.force });
        report(io, print, result.changes, result.document);
        if (result.phase === 'published-next') {
          say('Step 1 of 2 done: the new keys are published but nothing signs with them yet.');
          say('Now restart every instance, one at a time. Then wait at least 1 hour plus the longest time any relying party caches the JWKS,');
          say('and run "npm run keys -- rotate" again to start signing with the new keys.');
        } else {
          say('Step 2 of 2 done: the new keys sign; the old ones stay published as "retired".');
          say('Now restart every instance, one at a time (finish within 10 minutes).');
          const wait = config ? `${maxSignedTokenLifetime(config) + PRUNE_MARGIN_SECONDS} s` : `the longest of ID_TOKEN_TTL_SECONDS and ACCESS_TOKEN_TTL_SECONDS plus ${PRUNE_MARGIN_SECONDS} s`;
          say(`Run "npm run keys -- prune" after ${wait} to stop publishing the retired keys, then restart again.`);
        }
        return 0;
      }
      case 'rotate-hmac': {
        const result = print ? rotateHmacDocument(await load(), now) : await rotateHmacKeystore(keystoreFile(), now);
        report(io, print, result.changes, result.document);
        if (result.phase === 'published-next') {
          say('Step 1 of 2 done: every instance will check with the new HMAC secret, none makes anything with it yet.');
          say('Now restart every instance, one at a time, and then run "npm run keys -- rotate-hmac" again.');
        } else {
          say('Step 2 of 2 done: the new HMAC secret makes new tokens, codes and sealed values; the previous one still checks and opens.');
          say('Now restart every instance, one at a time, then run "npm run keys -- reseal" (authenticator apps stay on either way;');
          say('prune keeps the previous secret until reseal has run).');
          const wait = config ? `${maxHmacInFlightLifetime(config) + PRUNE_MARGIN_SECONDS} s` : `the longest of ID_TOKEN_TTL_SECONDS and INTERACTION_TTL_SECONDS plus ${PRUNE_MARGIN_SECONDS} s`;
          say(`Run "npm run keys -- prune" after ${wait} to drop the previous secret, then restart again.`);
        }
        return 0;
      }
      case 'reseal': {
        const ring = toKeystore(await load()).hmacKeys;
        const result = await withDatabase((db) => resealAuthenticatorSecrets(db.dataSource, ring));
        io.out(`Re-sealed ${result.resealed} authenticator app secret(s) under the current HMAC secret; ${result.current} already were.`);
        if (result.changedMeanwhile > 0) io.out(`${result.changedMeanwhile} changed while this ran (already under the current secret).`);
        if (result.unreadable > 0) io.err(`${result.unreadable} open under no HMAC secret in the keystore (sealed under one already pruned, or damaged); they were left unchanged.`);
        return 0;
      }
      case 'prune': {
        const max = maxSignedTokenLifetime(config!);
        const document = await load();
        const hmacInFlightSeconds = maxHmacInFlightLifetime(config!);
        let options: PruneOptions = { hmacInFlightSeconds };
        // Only when a previous HMAC secret is old enough to go is the database asked whether it still seals anything.
        const due = hmacSecretsDueForPruning(document, now, hmacInFlightSeconds);
        if (due.length > 0) {
          const { perSecret, unreadable } = await withDatabase((db) => authenticatorSecretsPerHmacSecret(db.dataSource, toKeystore(document).hmacKeys));
          if (unreadable > 0) say(`${unreadable} stored authenticator app secret(s) open under no HMAC secret in the keystore (already lost).`);
          // Recovery codes cannot be re-hashed (only their hashes are kept): say whom a prune affects.
          const withCodes = await withDatabase((db) => accountsWithRecoveryCodesUnder(db.dataSource, due.map((p) => p.secret)));
          if (withCodes > 0) say(`${withCodes} account(s) have unused recovery codes made under a previous HMAC secret due for pruning: once it is removed those codes stop working, and the people need a new set (decisions D21).`);
          options = { ...options, hmacSecretsInUse: perSecret };
        }
        const result = print ? pruneDocument(document, now, max, options) : await pruneKeystore(keystoreFile(), now, max, options);
        report(io, print, [
          ...result.removed.map((kid) => `removed retired key ${kid}`),
          ...result.removedHmacSecrets.map((name) => `removed previous HMAC secret ${name}`),
        ], result.document);
        for (const k of result.kept) say(`kept retired key ${k.kid} until ${k.removableAfter} (tokens it signed may still be in use)`);
        for (const k of result.keptHmacSecrets) say(`kept previous HMAC secret ${k.name}: ${k.reason}`);
        if (result.removed.length === 0 && result.removedHmacSecrets.length === 0) say('Nothing to prune.');
        else say('Restart every instance, one at a time, so they stop using the removed keys.');
        return 0;
      }
      default:
        return 2;
    }
  } catch (error) {
    if (error instanceof CareloginError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
}

function report(io: CliIo, print: boolean, changes: readonly string[], document: KeystoreDocument): void {
  for (const change of changes) (print ? io.err : io.out)(change);
  if (print) io.out(serializeKeystoreDocument(document).trimEnd());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runKeysCli(process.argv.slice(2));
}
