import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { ensureKeystoreFile, loadKeystore, parseKeystoreDocument, serializeKeystoreDocument, type KeystoreDocument } from '../../keys/keystore.js';
import { MAX_PREVIOUS_HMAC_SECRETS } from '../../keys/keystore-format.js';
import { PRUNE_MARGIN_SECONDS, pruneDocument, rotateHmacDocument } from '../../keys/rotation.js';
import { resealAuthenticatorSecrets } from '../../src/accounts/authenticator-app.js';
import { maxHmacInFlightLifetime, rotateHmacKeystore, runKeysCli, type CliIo } from '../../src/cli/keys.js';
import type { Database } from '../../src/db/data-source.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { createCsrf } from '../../src/security/csrf.js';
import { createSealedBox } from '../../src/security/sealed-box.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';
import { configWithKeystore, useTempDir } from './helpers.js';

const silent = createLogger({ level: 'silent' });
const HOUR = 3600 * 1000;
/** Must stay the purpose authenticator-app.ts seals account.authenticator_secret with (changing it would lose every app). */
const STORED_PURPOSE = 'carelogin authenticator secret v1';

function collect(): CliIo & { stdout: string[]; stderr: string[]; text: () => string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line), text: () => [...stdout, ...stderr].join('\n') };
}

async function readDocument(file: string): Promise<KeystoreDocument> {
  return parseKeystoreDocument(await readFile(file, 'utf8'), file);
}

const secret = (): string => randomBytes(32).toString('base64url');

describe('keys: HMAC secret rotation', () => {
  const tmp = useTempDir();
  let file: string;
  let t0: Date;

  beforeEach(async () => {
    file = path.join(tmp.path, 'keystore.json');
    t0 = new Date('2030-01-01T00:00:00Z');
    await ensureKeystoreFile(file, t0);
  });

  describe('keystore format', () => {
    it('a version-1 document with only hmacSecret still parses, and serialises without the new members', async () => {
      const text = await readFile(file, 'utf8');
      expect(text).to.not.include('previousHmacSecrets').and.not.include('nextHmacSecret');
      const document = parseKeystoreDocument(text, file);
      expect(document.previousHmacSecrets).to.equal(undefined);
      expect(serializeKeystoreDocument(document)).to.not.include('previousHmacSecrets').and.not.include('nextHmacSecret');
      const keystore = await loadKeystore(configWithKeystore(file), silent);
      expect(keystore.hmacKeys).to.deep.equal({ current: document.hmacSecret, previous: [] });
    });

    const cases: Array<{ name: string; edit: (doc: KeystoreDocument) => unknown; expect: string }> = [
      { name: 'a short previous secret', edit: (doc) => ({ ...doc, previousHmacSecrets: [{ secret: randomBytes(16).toString('base64url'), retiredAt: t0.toISOString() }] }), expect: '256 bits' },
      { name: 'a previous secret without retiredAt', edit: (doc) => ({ ...doc, previousHmacSecrets: [{ secret: secret() }] }), expect: 'retiredAt' },
      { name: 'a previous secret equal to the current one', edit: (doc) => ({ ...doc, previousHmacSecrets: [{ secret: doc.hmacSecret, retiredAt: t0.toISOString() }] }), expect: 'must be unique' },
      { name: 'a next secret equal to a previous one', edit: (doc) => { const s = secret(); return { ...doc, nextHmacSecret: { secret: s, createdAt: t0.toISOString() }, previousHmacSecrets: [{ secret: s, retiredAt: t0.toISOString() }] }; }, expect: 'must be unique' },
      { name: 'previous secrets oldest first', edit: (doc) => ({ ...doc, previousHmacSecrets: [{ secret: secret(), retiredAt: t0.toISOString() }, { secret: secret(), retiredAt: new Date(t0.getTime() + HOUR).toISOString() }] }), expect: 'newest first' },
      { name: 'too many previous secrets', edit: (doc) => ({ ...doc, previousHmacSecrets: Array.from({ length: MAX_PREVIOUS_HMAC_SECRETS + 1 }, () => ({ secret: secret(), retiredAt: t0.toISOString() })) }), expect: 'previousHmacSecrets' },
      { name: 'an unknown member in a previous secret', edit: (doc) => ({ ...doc, previousHmacSecrets: [{ secret: secret(), retiredAt: t0.toISOString(), note: 'x' }] }), expect: 'note' },
    ];
    for (const testCase of cases) {
      it(`rejects ${testCase.name}`, async () => {
        const document = await readDocument(file);
        const error = (() => {
          try {
            parseKeystoreDocument(JSON.stringify(testCase.edit(structuredClone(document) as KeystoreDocument)), 'edited');
            return undefined;
          } catch (e) {
            return e;
          }
        })();
        expect(error, testCase.name).to.be.instanceOf(ConfigError);
        expect((error as Error).message).to.include(testCase.expect);
      });
    }

    it('accepts a well-formed next and previous secrets (so the cases above fail for their own reason)', async () => {
      const document = await readDocument(file);
      const edited = { ...document, nextHmacSecret: { secret: secret(), createdAt: t0.toISOString() }, previousHmacSecrets: [{ secret: secret(), retiredAt: t0.toISOString() }] };
      expect(parseKeystoreDocument(JSON.stringify(edited), 'edited')).to.deep.equal(edited);
    });
  });

  it('rotate-hmac in two phases: every instance knows the next secret before any makes something with it', async () => {
    const old = (await readDocument(file)).hmacSecret;
    const sealedBefore = createSealedBox((await loadKeystore(configWithKeystore(file), silent)).hmacKeys, 'purpose').seal('kept', 'owner');
    const csrfBefore = createCsrf(old).token('interaction');

    const phase1 = await rotateHmacKeystore(file, new Date(t0.getTime() + HOUR));
    expect(phase1.phase).to.equal('published-next');
    const next = (await readDocument(file)).nextHmacSecret!.secret;
    const during = await loadKeystore(configWithKeystore(file), silent);
    expect(during.hmacKeys).to.deep.equal({ current: old, previous: [next] });
    expect(during.hmacSecret).to.equal(old);
    // An instance still on phase 1 checks what an instance already on phase 2 makes.
    expect(createCsrf(during.hmacKeys).verify('interaction', createCsrf(next).token('interaction'))).to.equal(true);

    const phase2 = await rotateHmacKeystore(file, new Date(t0.getTime() + 2 * HOUR));
    expect(phase2.phase).to.equal('promoted');
    const document = await readDocument(file);
    expect(document.hmacSecret).to.equal(next);
    expect(document.nextHmacSecret).to.equal(undefined);
    expect(document.previousHmacSecrets).to.deep.equal([{ secret: old, retiredAt: new Date(t0.getTime() + 2 * HOUR).toISOString() }]);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);

    const after = await loadKeystore(configWithKeystore(file), silent);
    expect(after.hmacKeys).to.deep.equal({ current: next, previous: [old] });
    expect(createSealedBox(after.hmacKeys, 'purpose').open(sealedBefore, 'owner')?.toString()).to.equal('kept');
    expect(createCsrf(after.hmacKeys).verify('interaction', csrfBefore)).to.equal(true);
  });

  it('rotate-hmac keeps at most MAX_PREVIOUS_HMAC_SECRETS and never drops one itself', async () => {
    let document = await readDocument(file);
    for (let i = 0; i < MAX_PREVIOUS_HMAC_SECRETS; i++) {
      document = rotateHmacDocument(rotateHmacDocument(document, t0).document, t0).document;
    }
    expect(document.previousHmacSecrets).to.have.length(MAX_PREVIOUS_HMAC_SECRETS);
    expect(() => rotateHmacDocument(document, t0)).to.throw(ConfigError, /reseal/);
  });

  it('prune drops a previous secret only after the in-flight lifetime, and only once told nothing stored needs it', async () => {
    let document = await readDocument(file);
    const old = document.hmacSecret;
    document = rotateHmacDocument(rotateHmacDocument(document, t0).document, t0).document;
    const inFlight = 3600;
    const due = new Date(t0.getTime() + (inFlight + PRUNE_MARGIN_SECONDS) * 1000 + 1000);
    const early = pruneDocument(document, new Date(due.getTime() - 2000), inFlight, { hmacInFlightSeconds: inFlight, hmacSecretsInUse: new Map() });
    expect(early.removedHmacSecrets).to.have.length(0);
    expect(early.keptHmacSecrets[0]!.reason).to.include('in flight');
    expect(pruneDocument(document, due, inFlight, { hmacInFlightSeconds: inFlight }).removedHmacSecrets, 'not checked').to.have.length(0);
    const inUse = pruneDocument(document, due, inFlight, { hmacInFlightSeconds: inFlight, hmacSecretsInUse: new Map([[old, 2]]) });
    expect(inUse.removedHmacSecrets).to.have.length(0);
    expect(inUse.keptHmacSecrets[0]!.reason).to.include('2 stored authenticator secret(s)');
    const free = pruneDocument(document, due, inFlight, { hmacInFlightSeconds: inFlight, hmacSecretsInUse: new Map() });
    expect(free.removedHmacSecrets).to.have.length(1);
    expect(free.document.previousHmacSecrets).to.equal(undefined);
    expect(free.document.hmacSecret).to.equal(document.hmacSecret);
  });

  it('the CLI: rotate-hmac twice, show names secrets without revealing them, and --print for KEYSTORE_JSON', async () => {
    const env = { CARELOGIN_ENV: 'test' };
    const first = collect();
    expect(await runKeysCli(['rotate-hmac', '--file', file], first, env), first.text()).to.equal(0);
    expect(first.text()).to.include('Step 1 of 2');
    const second = collect();
    expect(await runKeysCli(['rotate-hmac', '--file', file], second, env), second.text()).to.equal(0);
    expect(second.text()).to.include('Step 2 of 2').and.include('reseal');
    const document = await readDocument(file);
    expect(document.previousHmacSecrets).to.have.length(1);

    const show = collect();
    expect(await runKeysCli(['show', '--file', file], show, env)).to.equal(0);
    expect(show.text()).to.include('previous').and.not.include(document.hmacSecret).and.not.include(document.previousHmacSecrets![0]!.secret);

    const json = await readFile(file, 'utf8');
    const refused = collect();
    expect(await runKeysCli(['rotate-hmac'], refused, { ...env, KEYSTORE_JSON: json })).to.equal(1);
    const printed = collect();
    expect(await runKeysCli(['rotate-hmac', '--print'], printed, { ...env, KEYSTORE_JSON: json })).to.equal(0);
    expect(parseKeystoreDocument(printed.stdout.join('\n'), 'stdout').nextHmacSecret).to.not.equal(undefined);
    expect(await readFile(file, 'utf8')).to.equal(json);
  });
});

describe('keys: reseal and prune against the database', () => {
  const tmp = useTempDir();
  let testDb: TestDatabase;
  let db: Database;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  async function newAccount(): Promise<string> {
    const email = `${randomUUID()}@example.com`;
    const [row] = await db.dataSource.query<{ id: string }[]>(`INSERT INTO account (email, email_normalised) VALUES ($1, $1) RETURNING id`, [email]);
    return row!.id;
  }

  async function setAuthenticator(accountId: string, sealed: string): Promise<void> {
    await db.dataSource.query(`UPDATE account SET authenticator_secret = $2, authenticator_added_at = now() WHERE id = $1`, [accountId, sealed]);
  }

  async function storedSecret(accountId: string): Promise<string> {
    const [row] = await db.dataSource.query<{ authenticator_secret: string }[]>(`SELECT authenticator_secret FROM account WHERE id = $1`, [accountId]);
    return row!.authenticator_secret;
  }

  it('rotate-hmac → reseal → prune: authenticator secrets move to the new secret, and the old one goes only after that', async () => {
    const file = path.join(tmp.path, 'keystore.json');
    const longAgo = new Date(Date.now() - 24 * HOUR);
    await ensureKeystoreFile(file, longAgo);
    const old = (await readDocument(file)).hmacSecret;
    const oldBox = createSealedBox(old, STORED_PURPOSE);
    const a = await newAccount();
    const b = await newAccount();
    const lost = await newAccount();
    await setAuthenticator(a, oldBox.seal('SECRETA', a));
    await setAuthenticator(b, oldBox.seal('SECRETB', b));
    // Sealed under a secret the keystore never had: reported, left alone, and it does not block prune.
    await setAuthenticator(lost, createSealedBox(secret(), STORED_PURPOSE).seal('LOST', lost));

    await rotateHmacKeystore(file, longAgo);
    await rotateHmacKeystore(file, longAgo);
    const current = (await readDocument(file)).hmacSecret;
    const env = { ...testDb.env, CARELOGIN_ENV: 'test', KEYSTORE_FILE: file };
    const deps = { openDatabase: () => testDb.open(testConfig(env)) };

    const blocked = collect();
    expect(await runKeysCli(['prune'], blocked, env, deps), blocked.text()).to.equal(0);
    expect(blocked.text()).to.include('2 stored authenticator secret(s) are still sealed under it').and.include('1 stored authenticator app secret(s) open under no HMAC secret');
    expect((await readDocument(file)).previousHmacSecrets, 'not pruned while apps are sealed under it').to.have.length(1);

    const reseal = collect();
    expect(await runKeysCli(['reseal'], reseal, env, deps), reseal.text()).to.equal(0);
    expect(reseal.text()).to.include('Re-sealed 2 authenticator app secret(s)').and.include('1 open under no HMAC secret');
    const newOnly = createSealedBox(current, STORED_PURPOSE);
    expect(newOnly.open(await storedSecret(a), a)?.toString()).to.equal('SECRETA');
    expect(newOnly.open(await storedSecret(b), b)?.toString()).to.equal('SECRETB');
    expect(newOnly.needsReseal(await storedSecret(a))).to.equal(false);

    const again = collect();
    expect(await runKeysCli(['reseal'], again, env, deps)).to.equal(0);
    expect(again.text()).to.include('Re-sealed 0').and.include('2 already were');

    const pruned = collect();
    expect(await runKeysCli(['prune'], pruned, env, deps), pruned.text()).to.equal(0);
    expect(pruned.text()).to.include('removed previous HMAC secret');
    const document = await readDocument(file);
    expect(document.previousHmacSecrets).to.equal(undefined);
    expect(document.hmacSecret).to.equal(current);
    expect(maxHmacInFlightLifetime(testConfig({}))).to.be.at.least(3600);
  });

  it('reseal leaves a value that changed since it was read (the concurrent change wins)', async () => {
    const old = secret();
    const current = secret();
    const accountId = await newAccount();
    await setAuthenticator(accountId, createSealedBox(old, STORED_PURPOSE).seal('BEFORE', accountId));
    const replaced = createSealedBox(current, STORED_PURPOSE).seal('REPLACED', accountId);
    // The person replaces their app between reseal's read and its update.
    const racing = new Proxy(db.dataSource, {
      get(target, property, receiver) {
        if (property !== 'transaction') return Reflect.get(target, property, receiver) as unknown;
        return async (work: (manager: unknown) => Promise<unknown>) => {
          await setAuthenticator(accountId, replaced);
          return target.transaction(work as never);
        };
      },
    });
    const result = await resealAuthenticatorSecrets(racing, { current, previous: [old] }, { batchSize: 1000 });
    expect(result.changedMeanwhile).to.be.at.least(1);
    expect(await storedSecret(accountId)).to.equal(replaced);
  });
});
