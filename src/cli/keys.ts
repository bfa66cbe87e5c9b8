/**
 * `npm run keys -- <show|rotate|prune|generate> [--file path] [--print] [--force]`
 * Manages the keystore file; see docs/operations.md "Keys" for when to run each step.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readIfExists, writeFileAtomic } from '../../keys/atomic-file.js';
import {
  ensureKeystoreFile, generateKeystoreDocument, parseKeystoreDocument, serializeKeystoreDocument, type KeystoreDocument,
} from '../../keys/keystore.js';
import {
  PRUNE_MARGIN_SECONDS, describeDocument, pruneDocument, rotateDocument, type PruneResult, type RotationOptions, type RotationResult,
} from '../../keys/rotation.js';
import { loadConfig, type Config } from '../config/index.js';
import { CareloginError, ConfigError } from '../errors.js';

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

/** Removes retired keys older than the longest token lifetime (see pruneDocument) from a keystore file. */
export async function pruneKeystore(file: string, now: Date, maxTokenLifetimeSeconds: number): Promise<PruneResult> {
  const result = pruneDocument(await readDocument(file), now, maxTokenLifetimeSeconds);
  if (result.removed.length > 0) await writeFileAtomic(file, serializeKeystoreDocument(result.document));
  return result;
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
  show       List keys: kids, statuses, dates (never private material)
  rotate     One step of the two-phase rotation (run twice, restarting every instance in between)
  prune      Remove retired keys whose tokens have all expired
  generate   Create the keystore file if it does not exist

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
export async function runKeysCli(argv: readonly string[], io: CliIo = consoleIo, env?: Record<string, string | undefined>): Promise<number> {
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
  if (values.help || !command || positionals.length > 1 || !['show', 'rotate', 'prune', 'generate'].includes(command)) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }

  try {
    // Operators may run this on a host without the full production settings: only prune (token
    // lifetimes) and the default keystore location need the configuration.
    const needsConfig = command === 'prune' || (values.file === undefined && !(command === 'generate' && values.print));
    const config = needsConfig ? (env ? loadConfig(env) : loadConfig()) : undefined;
    const now = new Date();
    const file = values.file ?? config?.keystore.file;
    const print = values.print;
    // With --print, stdout carries only the JSON so it can be redirected; messages go to stderr.
    const say = print ? io.err : io.out;
    // With KEYSTORE_JSON there is no file to change: work on the JSON and print the result.
    const fromJson = !values.file && Boolean(config?.keystore.json);
    if (fromJson && !print && command !== 'show') {
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
      case 'prune': {
        const max = maxSignedTokenLifetime(config!);
        const result = print ? pruneDocument(await load(), now, max) : await pruneKeystore(keystoreFile(), now, max);
        report(io, print, result.removed.map((kid) => `removed retired key ${kid}`), result.document);
        for (const k of result.kept) say(`kept retired key ${k.kid} until ${k.removableAfter} (tokens it signed may still be in use)`);
        if (result.removed.length === 0) say('Nothing to prune.');
        else say('Restart every instance, one at a time, so they stop publishing the removed keys.');
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
