import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { UsageError, addClient, parseAddClientArgs, pemToJwk } from '../../src/cli/add-client.js';
import { loadClients } from '../../src/clients/registry.js';
import { loadConfig } from '../../src/config/index.js';
import { ClientRegistrationError } from '../../src/errors.js';
import { PROJECT_ROOT } from '../../src/project-root.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SPKI_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PKCS1_PEM = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const PRIVATE_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('clients: add-client', () => {
  let dir: string;
  let clientsFile: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'carelogin-add-client-'));
    clientsFile = path.join(dir, 'clients.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const load = () => loadClients(loadConfig({ CARELOGIN_ENV: 'test', CLIENTS_FILE: clientsFile }));

  it('converts SPKI and PKCS#1 PEM public keys to the same JWK, with the RFC 7638 thumbprint as kid', async () => {
    const fromSpki = await pemToJwk(SPKI_PEM);
    const fromPkcs1 = await pemToJwk(PKCS1_PEM);
    expect(fromSpki).to.deep.equal(fromPkcs1);
    const expected = rsa.publicKey.export({ format: 'jwk' }) as JWK;
    expect(fromSpki.n).to.equal(expected.n);
    expect(fromSpki.kid).to.equal(await calculateJwkThumbprint({ kty: 'RSA', n: expected.n, e: expected.e }, 'sha256'));
    expect(fromSpki).not.to.have.property('d');
  });

  it('refuses a private key PEM', async () => {
    const pem = path.join(dir, 'private.pem');
    await writeFile(pem, PRIVATE_PEM);
    const error = await addClient({ id: 'my-rp', name: 'My RP', redirectUris: ['https://rp.example/cb'], publicKeyPem: pem, file: clientsFile })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.include('private key');
    expect(await stat(clientsFile).then(() => true, () => false)).to.equal(false);
  });

  it('adds a client from a PEM, and re-adding it is idempotent and replaces it', async () => {
    const pem = path.join(dir, 'rp.pem');
    await writeFile(pem, SPKI_PEM);
    const options = {
      id: 'my-rp', name: 'My RP', redirectUris: ['https://rp.example/callback', 'http://localhost:3001/callback'], publicKeyPem: pem,
      vectors: ['Cd.Cp.P9', 'P5.Cp.Cd'], scopes: ['openid', 'profile', 'email'], pkce: false, file: clientsFile,
    };
    const first = await addClient(options);
    expect(first.replaced).to.equal(false);
    const content = await readFile(clientsFile, 'utf8');

    const clients = await load();
    expect(clients).to.have.length(1);
    const [client] = clients;
    expect(client!.metadata.jwks?.keys[0]?.kid).to.equal((await pemToJwk(SPKI_PEM)).kid);
    expect(client!.metadata.redirect_uris).to.deep.equal(options.redirectUris);
    expect(client!.settings).to.deep.equal({ allowedVectors: ['P9.Cp.Cd', 'P5.Cp.Cd'], allowedScopes: ['openid', 'profile', 'email'], requirePkce: false, refreshTokens: false, ssoPartners: [] });

    const again = await addClient(options);
    expect(again.replaced).to.equal(true);
    expect(await readFile(clientsFile, 'utf8'), 'same input, same file').to.equal(content);

    await addClient({ ...options, name: 'My RP (renamed)', refreshTokens: true });
    const after = await load();
    expect(after).to.have.length(1);
    expect(after[0]!.metadata.client_name).to.equal('My RP (renamed)');
    expect(after[0]!.metadata.grant_types).to.include('refresh_token');
  });

  it('adds a client from a JWKS file next to existing clients', async () => {
    const pem = path.join(dir, 'rp.pem');
    await writeFile(pem, SPKI_PEM);
    await addClient({ id: 'first-rp', name: 'First', redirectUris: ['https://first.example/cb'], publicKeyPem: pem, file: clientsFile });

    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    const jwksFile = path.join(dir, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [{ ...ec, kid: 'ec-1', use: 'sig' }] }));
    const result = await addClient({ id: 'second-rp', name: 'Second', redirectUris: ['https://second.example/cb'], jwks: jwksFile, alg: 'ES256', file: clientsFile });
    expect(result.client.metadata.token_endpoint_auth_signing_alg).to.equal('ES256');

    const clients = await load();
    expect(clients.map((c) => c.metadata.client_id)).to.deep.equal(['first-rp', 'second-rp']);
    expect(clients[1]!.metadata.jwks?.keys[0]?.kid).to.equal('ec-1');
  });

  it('rejects bad input with the validation message and leaves the file alone', async () => {
    const pem = path.join(dir, 'rp.pem');
    await writeFile(pem, SPKI_PEM);
    await addClient({ id: 'my-rp', name: 'My RP', redirectUris: ['https://rp.example/cb'], publicKeyPem: pem, file: clientsFile });
    const before = await readFile(clientsFile, 'utf8');

    const error = await addClient({ id: 'my-rp', name: 'My RP', redirectUris: ['http://rp.example/cb'], publicKeyPem: pem, file: clientsFile })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ClientRegistrationError);
    expect((error as Error).message).to.include('my-rp').and.include('redirect_uris[0]');
    expect(await readFile(clientsFile, 'utf8')).to.equal(before);

    const twoSources = await addClient({ id: 'x-rp', name: 'X', redirectUris: ['https://x.example/cb'], publicKeyPem: pem, jwksUri: 'https://x.example/jwks', file: clientsFile })
      .then(() => undefined, (e: unknown) => e);
    expect(twoSources).to.be.instanceOf(UsageError);
  });

  it('parses the command line', () => {
    const options = parseAddClientArgs([
      '--id', 'my-rp', '--name', 'My RP', '--redirect-uri', 'https://a.example/cb', '--redirect-uri', 'https://b.example/cb',
      '--jwks-uri', 'https://a.example/jwks', '--vectors', 'P9.Cp.Cd, P5.Cp.Cd', '--scopes', 'openid,profile', '--no-pkce', '--refresh-tokens', '--alg', 'PS256',
    ]);
    expect(options).to.deep.include({
      id: 'my-rp', name: 'My RP', redirectUris: ['https://a.example/cb', 'https://b.example/cb'], jwksUri: 'https://a.example/jwks',
      vectors: ['P9.Cp.Cd', 'P5.Cp.Cd'], scopes: ['openid', 'profile'], pkce: false, refreshTokens: true, alg: 'PS256',
    });
    expect(parseAddClientArgs(['--id', 'a-rp', '--name', 'A', '--redirect-uri', 'https://a.example/cb']).pkce).to.equal(true);
    expect(() => parseAddClientArgs(['--id', 'a-rp', '--name', 'A'])).to.throw(UsageError, 'redirect-uri');
    expect(() => parseAddClientArgs(['--id', 'a-rp', '--bogus'])).to.throw(UsageError);
  });

  it('registers logout URIs from --post-logout-redirect-uri and --backchannel-logout-uri (X13)', async () => {
    const options = parseAddClientArgs([
      '--id', 'out-rp', '--name', 'Out', '--redirect-uri', 'https://out.example/cb', '--jwks-uri', 'https://out.example/jwks',
      '--post-logout-redirect-uri', 'https://out.example/bye', '--post-logout-redirect-uri', 'https://out.example/bye2',
      '--backchannel-logout-uri', 'https://out.example/bc', '--backchannel-logout-session-required', '--file', clientsFile,
    ]);
    await addClient(options);
    const [client] = await load();
    expect(client!.metadata).to.deep.include({
      post_logout_redirect_uris: ['https://out.example/bye', 'https://out.example/bye2'],
      backchannel_logout_uri: 'https://out.example/bc',
      backchannel_logout_session_required: true,
    });
    const error = await addClient({ ...options, backchannelLogoutUri: 'http://out.example/bc' }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ClientRegistrationError);
    expect((error as Error).message).to.include('backchannel_logout_uri');
  });

  it('as a command, exits non-zero and prints the validation message on bad input', async function () {
    this.timeout(30_000);
    const pem = path.join(dir, 'rp.pem');
    await writeFile(pem, SPKI_PEM);
    const run = promisify(execFile);
    const script = path.join(PROJECT_ROOT, 'src', 'cli', 'add-client.ts');
    const failure = await run(process.execPath, ['--import', 'tsx', script, '--id', 'my-rp', '--name', 'My RP', '--redirect-uri', 'https://rp.example/cb?x=1', '--public-key-pem', pem, '--file', clientsFile], { cwd: PROJECT_ROOT })
      .then(() => undefined, (e: { code?: number; stderr?: string }) => e);
    expect(failure?.code).to.equal(1);
    expect(failure?.stderr).to.include('Client "my-rp": redirect_uris[0]').and.include('query string');

    const success = await run(process.execPath, ['--import', 'tsx', script, '--id', 'my-rp', '--name', 'My RP', '--redirect-uri', 'https://rp.example/cb', '--public-key-pem', pem, '--file', clientsFile], { cwd: PROJECT_ROOT });
    expect(success.stdout).to.include('Added client "my-rp"');
    expect(await load()).to.have.length(1);
  });
});
