import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { votMatches } from '../../src/demo-rp/app.js';
import { DEMO_RP_CLIENT_ID, demoRpKeyFile, ensureDemoRpRegistered } from '../../src/demo-rp/registration.js';
import { parseClientsFile, upsertClient, type ClientFileEntry } from '../../src/clients/registry.js';
import { createLogger } from '../../src/logger.js';
import type { Config } from '../../src/config/index.js';
import { NHS_LOGIN_PROFILES } from '../../src/provider/vectors.js';
import { testConfig } from '../helpers/database.js';

const silent = createLogger({ level: 'silent' });

function demoConfig(dir: string, rpUrl = 'http://localhost:3001'): Config {
  return testConfig({ DATA_DIR: dir, CLIENTS_FILE: path.join(dir, 'clients.json'), DEMO_RP_URL: rpUrl });
}

function demoEntry(config: Config): ClientFileEntry | undefined {
  return parseClientsFile(readFileSync(config.clientsFile, 'utf8'), config.clientsFile).file.clients.find((c) => c.client_id === DEMO_RP_CLIENT_ID);
}

describe('demo relying party: registration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-demo-rp-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a private RS512 key (mode 0600) and registers the public half with every NHS login vector and scope', async () => {
    const config = demoConfig(dir);
    const credentials = await ensureDemoRpRegistered(config, silent);

    expect(credentials.clientId).to.equal('carelogin-demo-rp');
    expect(credentials.redirectUri).to.equal('http://localhost:3001/callback');
    expect(credentials.privateJwk).to.include({ kty: 'RSA', alg: 'RS512' });
    expect(credentials.privateJwk.kid).to.be.a('string').with.length.greaterThan(20);
    expect(Buffer.from(credentials.privateJwk.n, 'base64url').length * 8).to.equal(2048);
    expect(statSync(demoRpKeyFile(config)).mode & 0o777).to.equal(0o600);

    const entry = demoEntry(config)!;
    expect(entry.redirect_uris).to.deep.equal(['http://localhost:3001/callback']);
    expect(entry.token_endpoint_auth_signing_alg).to.equal('RS512');
    expect(entry.id_token_signed_response_alg).to.equal('RS512');
    expect(entry.jwks?.keys).to.have.length(1);
    expect(entry.jwks?.keys[0]).to.deep.equal({ kty: 'RSA', n: credentials.privateJwk.n, e: credentials.privateJwk.e, kid: credentials.privateJwk.kid, alg: 'RS512', use: 'sig' });
    expect(entry.carelogin?.allowed_vectors).to.have.members([...NHS_LOGIN_PROFILES]).and.have.length(12);
    expect(entry.carelogin?.allowed_scopes).to.have.members([
      'openid', 'profile', 'basic_demographics', 'profile_extended', 'email', 'phone', 'landline',
      'gp_registration_details', 'gp_integration_credentials', 'client_metadata', 'offline_access',
    ]);
    expect(entry.carelogin).to.include({ pkce: 'required', refresh_tokens: true });
  });

  it('is idempotent: the second call reuses the key and leaves the clients file untouched', async () => {
    const config = demoConfig(dir);
    const first = await ensureDemoRpRegistered(config, silent);
    const clientsBefore = readFileSync(config.clientsFile, 'utf8');
    const mtimeBefore = statSync(config.clientsFile).mtimeMs;

    const second = await ensureDemoRpRegistered(config, silent);
    expect(second).to.deep.equal(first);
    expect(readFileSync(config.clientsFile, 'utf8')).to.equal(clientsBefore);
    expect(statSync(config.clientsFile).mtimeMs).to.equal(mtimeBefore);
  });

  it('keeps the key but updates the redirect URI when DEMO_RP_URL changes, and leaves other clients alone', async () => {
    const first = await ensureDemoRpRegistered(demoConfig(dir), silent);
    await upsertClient(demoConfig(dir).clientsFile, { ...demoEntry(demoConfig(dir))!, client_id: 'another-service', client_name: 'Another service' });

    const moved = demoConfig(dir, 'http://127.0.0.1:4001');
    const second = await ensureDemoRpRegistered(moved, silent);
    expect(second.privateJwk).to.deep.equal(first.privateJwk);
    expect(second.redirectUri).to.equal('http://127.0.0.1:4001/callback');
    expect(demoEntry(moved)?.redirect_uris).to.deep.equal(['http://127.0.0.1:4001/callback']);
    const ids = parseClientsFile(readFileSync(moved.clientsFile, 'utf8'), moved.clientsFile).clients.map((c) => c.metadata.client_id);
    expect(ids).to.have.members(['carelogin-demo-rp', 'another-service']);
  });
});

describe('demo relying party: checking vot', () => {
  it('accepts a vot that is one of the requested vectors, in any component order', () => {
    expect(votMatches('P9.Cp.Cd', ['P9.Cp.Cd'])).to.equal(true);
    expect(votMatches('P9.Cd.Cp', ['P5.Cp.Cd', 'P9.Cp.Cd'])).to.equal(true);
  });
  it('rejects a vot that was not requested, a missing one, or nonsense', () => {
    expect(votMatches('P5.Cp.Cd', ['P9.Cp.Cd'])).to.equal(false);
    expect(votMatches('P9.Cp', ['P9.Cp.Cd'])).to.equal(false);
    expect(votMatches(undefined, ['P9.Cp.Cd'])).to.equal(false);
    expect(votMatches('P9.Xx', ['P9.Cp.Cd'])).to.equal(false);
  });
});
