import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { ensureKeystoreFile, loadKeystore, parseKeystoreDocument, publicJwks, type Keystore } from '../../keys/keystore.js';
import { MAX_COOKIE_KEYS } from '../../keys/keystore-format.js';
import { DEFAULT_MIN_PUBLISHED_SECONDS, PRUNE_MARGIN_SECONDS } from '../../keys/rotation.js';
import { pruneKeystore, rotateKeystore, runKeysCli, type CliIo } from '../../src/cli/keys.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { configWithKeystore, useTempDir } from './helpers.js';

const silent = createLogger({ level: 'silent' });
const HOUR = 3600 * 1000;

/** The key oidc-provider signs with: the first key of the type (its keystore filter keeps order). */
function signingKid(keystore: Keystore, kty: string): string {
  return keystore.signingKeys.find((k) => k.kty === kty)!.kid!;
}

async function statuses(file: string): Promise<Record<string, string>> {
  const document = parseKeystoreDocument(await readFile(file, 'utf8'), file);
  return Object.fromEntries(document.signing.map((e) => [e.jwk.kid!, e.status]));
}

describe('keys: two-phase rotation', () => {
  const tmp = useTempDir();
  let file: string;
  let t0: Date;
  let before: Keystore;

  beforeEach(async () => {
    file = path.join(tmp.path, 'keystore.json');
    t0 = new Date('2030-01-01T00:00:00Z');
    await ensureKeystoreFile(file, t0);
    before = await loadKeystore(configWithKeystore(file), silent);
  });

  const load = (): Promise<Keystore> => loadKeystore(configWithKeystore(file), silent);

  it('phase 1 publishes a next key per type but the signing keys and the signing cookie key stay the same', async () => {
    const result = await rotateKeystore(file, new Date(t0.getTime() + HOUR));
    expect(result.phase).to.equal('published-next');
    const after = await load();

    expect(signingKid(after, 'RSA')).to.equal(signingKid(before, 'RSA'));
    expect(signingKid(after, 'EC')).to.equal(signingKid(before, 'EC'));
    const added = after.signingKeys.filter((k) => !before.signingKeys.some((b) => b.kid === k.kid));
    expect(added.map((k) => k.kty).sort()).to.deep.equal(['EC', 'RSA']);
    const published = publicJwks(after).keys.map((k) => k.kid);
    for (const key of added) expect(published).to.include(key.kid);
    for (const key of added) expect((await statuses(file))[key.kid!]).to.equal('next');

    // The new cookie key verifies (it is in the list) but is not first, so it does not sign yet.
    expect(after.cookieKeys[0]).to.equal(before.cookieKeys[0]);
    expect(after.cookieKeys).to.have.length(2);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('phase 2 is refused until the next keys have been published long enough, unless forced', async () => {
    await rotateKeystore(file, new Date(t0.getTime() + HOUR));
    const tooSoon = new Date(t0.getTime() + HOUR + (DEFAULT_MIN_PUBLISHED_SECONDS - 60) * 1000);
    const error = await rotateKeystore(file, tooSoon).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as Error).message).to.include('Not promoting yet');
    expect(signingKid(await load(), 'RSA'), 'nothing changed').to.equal(signingKid(before, 'RSA'));

    const forced = await rotateKeystore(file, tooSoon, { force: true });
    expect(forced.phase).to.equal('promoted');
  });

  it('phase 2 makes the next key sign, keeps the old one published as retired, and prepends the new cookie key', async () => {
    await rotateKeystore(file, new Date(t0.getTime() + HOUR));
    const afterPhase1 = await load();
    const newRsa = afterPhase1.signingKeys.find((k) => k.kty === 'RSA' && k.kid !== signingKid(before, 'RSA'))!.kid!;
    const newCookie = afterPhase1.cookieKeys.find((k) => !before.cookieKeys.includes(k))!;

    const promotedAt = new Date(t0.getTime() + 3 * HOUR);
    const result = await rotateKeystore(file, promotedAt);
    expect(result.phase).to.equal('promoted');
    const after = await load();

    expect(signingKid(after, 'RSA')).to.equal(newRsa);
    expect(signingKid(after, 'EC')).not.to.equal(signingKid(before, 'EC'));
    const published = publicJwks(after).keys.map((k) => k.kid);
    expect(published).to.include(signingKid(before, 'RSA'));
    expect(published).to.include(signingKid(before, 'EC'));
    const document = parseKeystoreDocument(await readFile(file, 'utf8'), file);
    const old = document.signing.find((e) => e.jwk.kid === signingKid(before, 'RSA'))!;
    expect(old.status).to.equal('retired');
    expect(old.retiredAt).to.equal(promotedAt.toISOString());
    expect(document.signing.find((e) => e.jwk.kid === newRsa)!.promotedAt).to.equal(promotedAt.toISOString());

    expect(after.cookieKeys[0]).to.equal(newCookie);
    expect(after.cookieKeys[1]).to.equal(before.cookieKeys[0]);
  });

  it(`keeps at most ${MAX_COOKIE_KEYS} cookie keys across repeated rotations`, async () => {
    let now = t0.getTime();
    const seen: string[][] = [];
    for (let i = 0; i < 8; i++) {
      now += 2 * HOUR;
      await rotateKeystore(file, new Date(now));
      const keystore = await load();
      expect(keystore.cookieKeys.length).to.be.at.most(MAX_COOKIE_KEYS);
      seen.push(keystore.cookieKeys);
    }
    expect(new Set(seen.flat()).size, 'new cookie keys were really added').to.be.greaterThan(MAX_COOKIE_KEYS);
  });

  it('prune removes only retired keys older than the longest token lifetime plus the margin', async () => {
    const lifetime = 3600;
    // Two rotations: the first current key retires at r1, the second at r2.
    await rotateKeystore(file, new Date(t0.getTime() + HOUR));
    const r1 = new Date(t0.getTime() + 3 * HOUR);
    await rotateKeystore(file, r1);
    await rotateKeystore(file, new Date(t0.getTime() + 4 * HOUR));
    const r2 = new Date(t0.getTime() + 6 * HOUR);
    await rotateKeystore(file, r2);
    const before = await statuses(file);
    const retired = Object.keys(before).filter((kid) => before[kid] === 'retired');
    expect(retired).to.have.length(4);

    const deadline1 = r1.getTime() + (lifetime + PRUNE_MARGIN_SECONDS) * 1000;
    const early = await pruneKeystore(file, new Date(Math.min(deadline1, r2.getTime()) - 1000), lifetime);
    expect(early.removed).to.have.length(0);

    const now = new Date(r2.getTime() + 1000);
    expect(now.getTime()).to.be.greaterThan(deadline1);
    const result = await pruneKeystore(file, now, lifetime);
    const after = await statuses(file);
    expect(result.removed).to.have.length(2);
    for (const kid of result.removed) expect(after).not.to.have.property(kid);
    expect(Object.values(after).filter((s) => s === 'retired'), 'the keys retired at r2 stay').to.have.length(2);
    expect(Object.values(after).filter((s) => s === 'current')).to.have.length(2);

    const later = await pruneKeystore(file, new Date(r2.getTime() + (lifetime + PRUNE_MARGIN_SECONDS) * 1000 + 1000), lifetime);
    expect(later.removed).to.have.length(2);
    const final = await statuses(file);
    expect(Object.values(final).sort()).to.deep.equal(['current', 'current']);
    // The file still loads and signs with the remaining current key.
    const loaded = await load();
    const currentRsa = Object.keys(final).find((kid) => loaded.signingKeys.some((k) => k.kid === kid && k.kty === 'RSA'));
    expect(loaded.signingKeys).to.have.length(2);
    expect(signingKid(loaded, 'RSA')).to.equal(currentRsa);
  });

  it('prune never removes current or next keys', async () => {
    await rotateKeystore(file, new Date(t0.getTime() + HOUR));
    const result = await pruneKeystore(file, new Date(t0.getTime() + 1000 * HOUR), 60);
    expect(result.removed).to.have.length(0);
    expect(Object.values(await statuses(file)).sort()).to.deep.equal(['current', 'current', 'next', 'next']);
  });
});

function collect(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line) };
}

describe('keys CLI', () => {
  const tmp = useTempDir();

  it('show lists kids and statuses but no private material', async () => {
    const file = path.join(tmp.path, 'ks.json');
    const { document } = await ensureKeystoreFile(file, new Date());
    const io = collect();
    expect(await runKeysCli(['show', '--file', file], io, { CARELOGIN_ENV: 'test' })).to.equal(0);
    const output = [...io.stdout, ...io.stderr].join('\n');
    for (const entry of document.signing) {
      expect(output).to.include(entry.jwk.kid!);
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
        if (entry.jwk[member]) expect(output).not.to.include(entry.jwk[member]);
      }
    }
    expect(output).not.to.include(document.hmacSecret);
    for (const cookie of document.cookieKeys) expect(output).not.to.include(cookie.key);
  });

  it('refuses to rotate a KEYSTORE_JSON keystore in place and prints an updated one with --print', async () => {
    const file = path.join(tmp.path, 'ks.json');
    await ensureKeystoreFile(file, new Date());
    const json = await readFile(file, 'utf8');
    const env = { CARELOGIN_ENV: 'test', KEYSTORE_JSON: json };

    const refused = collect();
    expect(await runKeysCli(['rotate'], refused, env)).to.equal(1);
    expect(refused.stderr.join('\n')).to.include('KEYSTORE_JSON').and.include('--print');

    const printed = collect();
    expect(await runKeysCli(['rotate', '--print'], printed, env)).to.equal(0);
    const updated = parseKeystoreDocument(printed.stdout.join('\n'), 'stdout');
    expect(updated.signing.filter((e) => e.status === 'next')).to.have.length(2);
    expect(await readFile(file, 'utf8'), 'the source file is untouched').to.equal(json);
  });

  it('generate creates a missing keystore file and leaves an existing one alone', async () => {
    const file = path.join(tmp.path, 'new', 'ks.json');
    const first = collect();
    expect(await runKeysCli(['generate', '--file', file], first, { CARELOGIN_ENV: 'production', ISSUER: 'https://login.example', DATABASE_URL: 'postgres://db/x', NOTIFY_API_KEY: 'k', KEYSTORE_FILE: file })).to.equal(0);
    const content = await readFile(file, 'utf8');
    const second = collect();
    expect(await runKeysCli(['generate', '--file', file], second, { CARELOGIN_ENV: 'test' })).to.equal(0);
    expect(second.stdout.join('\n')).to.include('already exists');
    expect(await readFile(file, 'utf8')).to.equal(content);
  });

  it('generate --print and rotate --file work without a complete production configuration', async () => {
    const incomplete = { CARELOGIN_ENV: 'production' };
    const printed = collect();
    expect(await runKeysCli(['generate', '--print'], printed, incomplete)).to.equal(0);
    const document = parseKeystoreDocument(printed.stdout.join('\n'), 'stdout');
    expect(document.signing.map((e) => e.status)).to.deep.equal(['current', 'current']);

    const file = path.join(tmp.path, 'ks.json');
    await ensureKeystoreFile(file, new Date());
    const rotated = collect();
    expect(await runKeysCli(['rotate', '--file', file], rotated, incomplete), rotated.stderr.join('\n')).to.equal(0);
    expect(Object.values(await statuses(file))).to.include('next');

    const prune = collect();
    expect(await runKeysCli(['prune', '--file', file], prune, incomplete), 'prune needs the token lifetimes').to.equal(1);
    expect(prune.stderr.join('\n')).to.include('Invalid configuration');
  });

  it('rejects an unknown command with usage', async () => {
    const io = collect();
    expect(await runKeysCli(['spin'], io, { CARELOGIN_ENV: 'test' })).to.equal(2);
    expect(io.stderr.join('\n')).to.include('Usage');
  });
});
