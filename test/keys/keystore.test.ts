import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { SignJWT, importJWK, jwtVerify, type JWK } from 'jose';
import { ensureKeystoreFile, loadKeystore, publicJwks, type Keystore, type KeystoreDocument } from '../../keys/keystore.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { capturingLogger, configWithKeystore, useTempDir } from './helpers.js';

const silent = createLogger({ level: 'silent' });
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv', 'k'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function signAndVerify(keystore: Keystore, kty: string, alg: string): Promise<void> {
  const privateJwk = keystore.signingKeys.find((k) => k.kty === kty)!;
  const publicJwk = publicJwks(keystore).keys.find((k) => k.kid === privateJwk.kid)!;
  const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg, kid: privateJwk.kid }).sign(await importJWK(privateJwk, alg));
  const { protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, alg));
  expect(protectedHeader.alg).to.equal(alg);
}

describe('keystore: loadKeystore', () => {
  const tmp = useTempDir();

  it('generates a keystore on first use (0600, parent dir created, logged) and reuses it on the next load', async () => {
    const file = path.join(tmp.path, 'nested', 'dir', 'keystore.json');
    const capture = capturingLogger();
    const first = await loadKeystore(configWithKeystore(file), capture.logger);

    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const generated = capture.lines().filter((l) => String(l.msg).includes('Generated a new keystore'));
    expect(generated).to.have.length(1);
    expect(generated[0]!.file).to.equal(file);

    const rsa = first.signingKeys.filter((k) => k.kty === 'RSA');
    const ec = first.signingKeys.filter((k) => k.kty === 'EC');
    expect(rsa).to.have.length(1);
    expect(ec).to.have.length(1);
    expect(rsa[0]!.alg, 'alg must not be pinned so RS512 and PS256 both work').to.equal(undefined);
    expect(rsa[0]!.use).to.equal('sig');
    expect(Buffer.from(rsa[0]!.n!, 'base64url').length * 8).to.equal(2048);
    expect(ec[0]!.crv).to.equal('P-256');
    for (const key of first.signingKeys) expect(key.kid).to.match(UUID);
    expect(first.cookieKeys).to.have.length(1);
    expect(Buffer.from(first.hmacSecret, 'base64url').length).to.equal(32);

    const capture2 = capturingLogger();
    const second = await loadKeystore(configWithKeystore(file), capture2.logger);
    expect(second.signingKeys.map((k) => k.kid)).to.deep.equal(first.signingKeys.map((k) => k.kid));
    expect(second.cookieKeys).to.deep.equal(first.cookieKeys);
    expect(second.hmacSecret).to.equal(first.hmacSecret);
    expect(capture2.lines().filter((l) => String(l.msg).includes('Generated'))).to.have.length(0);
  });

  it('generates keys that sign RS512, PS256 and ES256 tokens verifiable with the published JWKS', async () => {
    const keystore = await loadKeystore(configWithKeystore(path.join(tmp.path, 'ks.json')), silent);
    await signAndVerify(keystore, 'RSA', 'RS512');
    await signAndVerify(keystore, 'RSA', 'PS256');
    await signAndVerify(keystore, 'EC', 'ES256');
  });

  it('concurrent first loads in one process agree on one keystore and generate it once', async () => {
    const file = path.join(tmp.path, 'ks.json');
    const capture = capturingLogger();
    const loads = await Promise.all(Array.from({ length: 6 }, () => loadKeystore(configWithKeystore(file), capture.logger)));
    const onDisk = await loadKeystore(configWithKeystore(file), silent);
    for (const keystore of loads) {
      expect(keystore.signingKeys.map((k) => k.kid)).to.deep.equal(onDisk.signingKeys.map((k) => k.kid));
      expect(keystore.hmacSecret).to.equal(onDisk.hmacSecret);
    }
    expect(capture.lines().filter((l) => String(l.msg).includes('Generated'))).to.have.length(1);
  });

  it('concurrent first loads in separate processes agree on one keystore', async function () {
    this.timeout(60_000);
    const file = path.join(tmp.path, 'ks.json');
    const script = path.join(tmp.path, 'load.ts');
    const keystoreModule = path.join(PROJECT_ROOT, 'keys', 'keystore.ts');
    const configModule = path.join(PROJECT_ROOT, 'src', 'config', 'index.ts');
    const loggerModule = path.join(PROJECT_ROOT, 'src', 'logger.ts');
    await writeFile(script, [
      `import { loadKeystore } from ${JSON.stringify(keystoreModule)};`,
      `import { loadConfig } from ${JSON.stringify(configModule)};`,
      `import { createLogger } from ${JSON.stringify(loggerModule)};`,
      `const config = loadConfig({ CARELOGIN_ENV: 'test', KEYSTORE_FILE: ${JSON.stringify(file)} });`,
      'loadKeystore(config, createLogger({ level: "silent" })).then((k) => console.log(JSON.stringify({ kids: k.signingKeys.map((j) => j.kid), hmac: k.hmacSecret })));',
    ].join('\n'));
    const run = promisify(execFile);
    const results = await Promise.all(Array.from({ length: 3 }, () => run(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT })));
    const outputs = results.map((r) => JSON.parse(r.stdout.trim()) as { kids: string[]; hmac: string });
    const onDisk = await loadKeystore(configWithKeystore(file), silent);
    for (const output of outputs) {
      expect(output.kids).to.deep.equal(onDisk.signingKeys.map((k) => k.kid));
      expect(output.hmac).to.equal(onDisk.hmacSecret);
    }
  });

  it('refuses to generate in production: ConfigError naming the file, and nothing is written', async () => {
    const file = path.join(tmp.path, 'missing', 'keystore.json');
    const config = loadConfig({
      CARELOGIN_ENV: 'production', ISSUER: 'https://login.example', DATABASE_URL: 'postgres://db.example/carelogin',
      NOTIFY_API_KEY: 'test-key', KEYSTORE_FILE: file,
    });
    expect(config.keystore.generateIfMissing).to.equal(false);
    const error = await loadKeystore(config, silent).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as Error).message).to.include(file).and.include('npm run keys -- generate');
    expect(await stat(file).then(() => true, () => false)).to.equal(false);
  });

  it('uses KEYSTORE_JSON when given and never touches the file system', async () => {
    const file = path.join(tmp.path, 'source.json');
    await loadKeystore(configWithKeystore(file), silent);
    const json = await readFile(file, 'utf8');
    const config = loadConfig({ CARELOGIN_ENV: 'test', KEYSTORE_JSON: json });
    expect(config.keystore.file).to.equal(undefined);
    const fromJson = await loadKeystore(config, silent);
    expect(fromJson.signingKeys.map((k) => k.kid)).to.deep.equal((JSON.parse(json) as KeystoreDocument).signing.map((e) => e.jwk.kid));
  });

  describe('rejects a bad keystore with a ConfigError naming the problem', () => {
    let valid: KeystoreDocument;
    let goodFile: string;
    beforeEach(async () => {
      goodFile = path.join(tmp.path, 'good.json');
      valid = (await ensureKeystoreFile(goodFile, new Date())).document;
    });

    const weakRsa = (): JWK => ({ ...(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' }) as JWK), kid: 'weak', use: 'sig' });
    const cases: Array<{ name: string; edit: (doc: KeystoreDocument) => unknown; expect: string }> = [
      { name: 'wrong version', edit: (doc) => ({ ...doc, version: 2 }), expect: 'version' },
      { name: 'missing hmacSecret', edit: ({ hmacSecret: _h, ...doc }) => doc, expect: 'hmacSecret' },
      { name: 'short hmacSecret', edit: (doc) => ({ ...doc, hmacSecret: randomBytes(16).toString('base64url') }), expect: '256 bits' },
      { name: 'no cookie keys', edit: (doc) => ({ ...doc, cookieKeys: [] }), expect: 'cookieKeys' },
      { name: 'unknown status', edit: (doc) => ({ ...doc, signing: doc.signing.map((e) => ({ ...e, status: 'active' })) }), expect: 'status' },
      { name: '1024-bit RSA key', edit: (doc) => ({ ...doc, signing: [{ status: 'current', createdAt: doc.signing[0]!.createdAt, jwk: weakRsa() }, ...doc.signing.slice(1)] }), expect: '1024-bit' },
      { name: 'public key only (no d)', edit: (doc) => ({ ...doc, signing: doc.signing.map(({ jwk: { d: _d, ...jwk }, ...e }) => ({ ...e, jwk })) }), expect: 'jwk.d' },
      { name: 'two current RSA keys', edit: (doc) => ({ ...doc, signing: [...doc.signing, { ...doc.signing[0]!, jwk: { ...doc.signing[0]!.jwk, kid: 'other' } }] }), expect: 'exactly one must be "current"' },
      { name: 'duplicate kid', edit: (doc) => ({ ...doc, signing: [...doc.signing, { ...doc.signing[0]!, status: 'retired', retiredAt: doc.signing[0]!.createdAt }] }), expect: 'kids must be unique' },
      { name: 'retired without retiredAt', edit: (doc) => ({ ...doc, signing: [...doc.signing, { ...doc.signing[0]!, status: 'retired', jwk: { ...doc.signing[0]!.jwk, kid: 'r' } }] }), expect: 'no retiredAt' },
      { name: 'mismatched public and private parts', edit: (doc) => ({ ...doc, signing: doc.signing.map((e) => (e.jwk.kty === 'RSA' ? { ...e, jwk: { ...e.jwk, n: otherRsaModulus() } } : e)) }), expect: 'do not match' },
      { name: 'no RSA key', edit: (doc) => ({ ...doc, signing: doc.signing.filter((e) => e.jwk.kty !== 'RSA') }), expect: 'no RSA signing key' },
    ];
    for (const testCase of cases) {
      it(testCase.name, async () => {
        const file = path.join(tmp.path, 'bad.json');
        await writeFile(file, JSON.stringify(testCase.edit(structuredClone(valid))), { mode: 0o600 });
        const error = await loadKeystore(configWithKeystore(file), silent).then(() => undefined, (e: unknown) => e);
        expect(error, testCase.name).to.be.instanceOf(ConfigError);
        expect((error as Error).message).to.include(file).and.include(testCase.expect);
      });
    }

    it('not JSON, without echoing the content', async () => {
      const file = path.join(tmp.path, 'bad.json');
      await writeFile(file, '{"hmacSecret": "SUPERSECRETVALUE", oops', { mode: 0o600 });
      const error = await loadKeystore(configWithKeystore(file), silent).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.include('not valid JSON').and.not.include('SUPERSECRETVALUE');
    });

    it('the unedited file loads (so the cases above fail for their own reason)', async () => {
      const keystore = await loadKeystore(configWithKeystore(goodFile), silent);
      expect(keystore.signingKeys).to.have.length(2);
    });
  });
});

function otherRsaModulus(): string {
  return (generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as JWK).n!;
}

describe('keystore: publicJwks', () => {
  const tmp = useTempDir();

  it('publishes every signing key with public members only, and they verify what the private keys sign', async () => {
    const file = path.join(tmp.path, 'ks.json');
    const { document } = await ensureKeystoreFile(file, new Date());
    // Stray members in the file (key_ops, x5c) must not reach the JWKS either.
    const withExtras = { ...document, signing: document.signing.map((e) => ({ ...e, jwk: { ...e.jwk, key_ops: ['sign'], x5c: ['AAAA'] } })) };
    await writeFile(file, JSON.stringify(withExtras), { mode: 0o600 });
    const keystore = await loadKeystore(configWithKeystore(file), silent);
    const jwks = publicJwks(keystore);

    expect(jwks.keys.map((k) => k.kid)).to.deep.equal(keystore.signingKeys.map((k) => k.kid));
    expect(keystore.signingKeys.some((k) => typeof k.d === 'string'), 'the private keys do hold d').to.equal(true);
    for (const key of jwks.keys) {
      for (const member of PRIVATE_MEMBERS) expect(key, `${key.kid} ${member}`).not.to.have.property(member);
      expect(Object.keys(key)).to.satisfy((members: string[]) => members.every((m) => ['kty', 'kid', 'use', 'alg', 'n', 'e', 'crv', 'x', 'y'].includes(m)));
    }
    const serialized = JSON.stringify(jwks);
    for (const key of keystore.signingKeys) expect(serialized).not.to.include(key.d!);
    await signAndVerify(keystore, 'RSA', 'RS512');
    await signAndVerify(keystore, 'EC', 'ES256');
  });
});

