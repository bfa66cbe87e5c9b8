import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { JWK } from 'jose';
import Provider from 'oidc-provider';
import { generateKeystoreDocument, toKeystore } from '../../keys/keystore.js';
import { loadClients, upsertClient, validateClientEntry, type ClientFileEntry } from '../../src/clients/registry.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { ClientRegistrationError, ConfigError } from '../../src/errors.js';
import { DEFAULT_VTR } from '../../src/provider/vectors.js';

function rsaPublicJwk(bits = 2048, kid = `rsa-${bits}`): JWK {
  return { ...(generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as JWK), kid };
}

const RSA = rsaPublicJwk();
const RSA_1024 = rsaPublicJwk(1024);
const RSA_PRIVATE = { ...(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK), kid: 'leaked' };
const EC = { ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK), kid: 'ec-1' };
const EC_384 = { ...(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }) as JWK), kid: 'ec-384' };

function validEntry(overrides: Partial<Record<keyof ClientFileEntry, unknown>> = {}): Record<string, unknown> {
  return {
    client_id: 'good-rp',
    client_name: 'Good RP',
    redirect_uris: ['https://rp.example/callback'],
    jwks: { keys: [RSA] },
    ...overrides,
  };
}

function configFor(clientsFile: string): Config {
  return loadConfig({ CARELOGIN_ENV: 'test', CLIENTS_FILE: clientsFile });
}

function rejection(entry: unknown): ClientRegistrationError {
  try {
    validateClientEntry(entry);
  } catch (error) {
    if (error instanceof ClientRegistrationError) return error;
    throw error;
  }
  throw new Error('expected a ClientRegistrationError, but the entry was accepted');
}

describe('clients: validateClientEntry', () => {
  it('builds oidc-provider metadata and settings with NHS-login defaults', () => {
    const { metadata, settings } = validateClientEntry(validEntry());
    expect(metadata).to.deep.equal({
      client_id: 'good-rp',
      client_name: 'Good RP',
      redirect_uris: ['https://rp.example/callback'],
      jwks: { keys: [{ kty: 'RSA', kid: 'rsa-2048', n: RSA.n, e: RSA.e }] },
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS512',
      id_token_signed_response_alg: 'RS512',
      response_types: ['code'],
      grant_types: ['authorization_code'],
    });
    expect(settings).to.deep.equal({ allowedVectors: [...DEFAULT_VTR], allowedScopes: ['openid'], requirePkce: true, refreshTokens: false, ssoPartners: [] });
  });

  it('stores vectors canonically, honours the carelogin settings and adds refresh_token when enabled', () => {
    const { metadata, settings } = validateClientEntry(validEntry({
      jwks_uri: 'https://rp.example/jwks',
      jwks: undefined,
      token_endpoint_auth_signing_alg: 'ES256',
      id_token_signed_response_alg: 'PS256',
      carelogin: { allowed_vectors: ['Cd.Cp.P9', 'P5.Cp.Cd'], allowed_scopes: ['openid', 'profile', 'basic_demographics', 'offline_access'], pkce: 'not-required', refresh_tokens: true },
    }));
    expect(metadata.jwks_uri).to.equal('https://rp.example/jwks');
    expect(metadata).not.to.have.property('jwks');
    expect(metadata.token_endpoint_auth_signing_alg).to.equal('ES256');
    expect(metadata.id_token_signed_response_alg).to.equal('PS256');
    expect(metadata.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
    expect(settings.allowedVectors).to.deep.equal(['P9.Cp.Cd', 'P5.Cp.Cd']);
    expect(settings.allowedScopes).to.deep.equal(['openid', 'profile', 'basic_demographics', 'offline_access']);
    expect(settings.requirePkce).to.equal(false);
    expect(settings.refreshTokens).to.equal(true);
  });

  it('accepts plain http redirect URIs on loopback hosts only', () => {
    for (const uri of ['http://localhost:3001/callback', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb']) {
      expect(validateClientEntry(validEntry({ redirect_uris: [uri] })).metadata.redirect_uris).to.deep.equal([uri]);
    }
  });

  it('accepts an EC P-256 key for ES256 client assertions', () => {
    expect(validateClientEntry(validEntry({ jwks: { keys: [EC] }, token_endpoint_auth_signing_alg: 'ES256' })).metadata.jwks?.keys).to.have.length(1);
  });

  const eleven = Array.from({ length: 11 }, (_, i) => `https://rp.example/cb${i}`);
  const rules: Array<{ name: string; entry: Record<string, unknown>; field: string; detail: string; clientId?: string }> = [
    { name: 'http on a non-localhost host', entry: validEntry({ redirect_uris: ['http://rp.example/callback'] }), field: 'redirect_uris[0]', detail: 'must use https' },
    { name: 'a query string', entry: validEntry({ redirect_uris: ['https://rp.example/callback', 'https://rp.example/cb?x=1'] }), field: 'redirect_uris[1]', detail: 'query string' },
    { name: 'an empty query string', entry: validEntry({ redirect_uris: ['https://rp.example/cb?'] }), field: 'redirect_uris[0]', detail: 'query string' },
    { name: 'a fragment', entry: validEntry({ redirect_uris: ['https://rp.example/cb#top'] }), field: 'redirect_uris[0]', detail: 'fragment' },
    { name: 'a wildcard', entry: validEntry({ redirect_uris: ['https://*.rp.example/cb'] }), field: 'redirect_uris[0]', detail: 'wildcard' },
    { name: 'userinfo', entry: validEntry({ redirect_uris: ['https://user:pw@rp.example/cb'] }), field: 'redirect_uris[0]', detail: 'user name or password' },
    { name: 'a relative URI', entry: validEntry({ redirect_uris: ['/callback'] }), field: 'redirect_uris[0]', detail: 'absolute URL' },
    { name: 'a custom scheme', entry: validEntry({ redirect_uris: ['com.example.app:/cb'] }), field: 'redirect_uris[0]', detail: 'must use https' },
    { name: '11 redirect URIs', entry: validEntry({ redirect_uris: eleven }), field: 'redirect_uris', detail: '1 to 10' },
    { name: 'no redirect URIs', entry: validEntry({ redirect_uris: [] }), field: 'redirect_uris', detail: '1 to 10' },
    { name: 'a repeated redirect URI', entry: validEntry({ redirect_uris: ['https://rp.example/cb', 'https://rp.example/cb'] }), field: 'redirect_uris', detail: 'more than once' },
    { name: 'a private key in jwks', entry: validEntry({ jwks: { keys: [RSA_PRIVATE] } }), field: 'jwks.keys[0]', detail: 'private key material' },
    { name: 'a symmetric key in jwks', entry: validEntry({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), field: 'jwks.keys[0]', detail: 'private key material' },
    { name: 'a 1024-bit RSA key', entry: validEntry({ jwks: { keys: [RSA_1024] } }), field: 'jwks.keys[0]', detail: '1024-bit' },
    { name: 'an unsupported kty', entry: validEntry({ jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }] } }), field: 'jwks.keys[0]', detail: 'unsupported kty' },
    { name: 'an EC key on P-384', entry: validEntry({ jwks: { keys: [EC_384] }, token_endpoint_auth_signing_alg: 'ES256' }), field: 'jwks.keys[0]', detail: 'P-256' },
    { name: 'a damaged RSA key', entry: validEntry({ jwks: { keys: [{ kty: 'RSA', n: 'AAAA', e: 'AQAB', kid: 'x' }] } }), field: 'jwks.keys[0]', detail: 'bits' },
    { name: 'both jwks and jwks_uri', entry: validEntry({ jwks_uri: 'https://rp.example/jwks' }), field: 'jwks', detail: 'exactly one of jwks and jwks_uri' },
    { name: 'neither jwks nor jwks_uri', entry: validEntry({ jwks: undefined }), field: 'jwks', detail: 'exactly one of jwks and jwks_uri' },
    { name: 'a plain-http jwks_uri', entry: validEntry({ jwks: undefined, jwks_uri: 'http://rp.example/jwks' }), field: 'jwks_uri', detail: 'must use https' },
    { name: 'an unsupported client assertion alg', entry: validEntry({ token_endpoint_auth_signing_alg: 'RS256' }), field: 'token_endpoint_auth_signing_alg', detail: 'RS512, PS256, ES256' },
    { name: 'alg none for ID tokens', entry: validEntry({ id_token_signed_response_alg: 'none' }), field: 'id_token_signed_response_alg', detail: 'must be one of' },
    { name: 'ES256 with only an RSA key', entry: validEntry({ token_endpoint_auth_signing_alg: 'ES256' }), field: 'token_endpoint_auth_signing_alg', detail: 'no EC P-256 key' },
    { name: 'a key whose alg contradicts its kty', entry: validEntry({ jwks: { keys: [{ ...RSA, alg: 'ES256' }] } }), field: 'jwks.keys[0]', detail: 'does not match' },
    { name: 'a bad vector', entry: validEntry({ carelogin: { allowed_vectors: ['P9.Cx'] } }), field: 'carelogin.allowed_vectors', detail: 'unknown component "Cx"' },
    { name: 'an empty vector list', entry: validEntry({ carelogin: { allowed_vectors: [] } }), field: 'carelogin.allowed_vectors', detail: 'non-empty' },
    { name: 'an unknown scope', entry: validEntry({ carelogin: { allowed_scopes: ['openid', 'nhs_app_credentials'] } }), field: 'carelogin.allowed_scopes', detail: 'unknown scope(s) nhs_app_credentials' },
    { name: 'scopes without openid', entry: validEntry({ carelogin: { allowed_scopes: ['profile'] } }), field: 'carelogin.allowed_scopes', detail: 'must include openid' },
    { name: 'offline_access without refresh tokens', entry: validEntry({ carelogin: { allowed_scopes: ['openid', 'offline_access'] } }), field: 'carelogin.allowed_scopes', detail: 'offline_access' },
    { name: 'a bad pkce value', entry: validEntry({ carelogin: { pkce: 'optional' } }), field: 'carelogin.pkce', detail: 'not-required' },
    { name: 'an unknown carelogin field', entry: validEntry({ carelogin: { refresh_token: true } }), field: 'carelogin.refresh_token', detail: 'not a recognised field' },
    { name: 'an unknown top-level field', entry: { ...validEntry(), redirect_uri: 'https://rp.example/cb' }, field: 'redirect_uri', detail: 'not a recognised field' },
    { name: 'a bad client_id', entry: validEntry({ client_id: 'a b' }), field: 'client_id', detail: '3-100 characters', clientId: 'a b' },
    { name: 'a missing client_id', entry: validEntry({ client_id: undefined }), field: 'client_id', detail: '3-100 characters', clientId: '(missing client_id)' },
    { name: 'an empty client_name', entry: validEntry({ client_name: ' ' }), field: 'client_name', detail: 'non-empty' },
  ];

  for (const rule of rules) {
    it(`rejects ${rule.name}, naming the client and the field`, () => {
      const entry = JSON.parse(JSON.stringify(rule.entry)) as Record<string, unknown>;
      const error = rejection(entry);
      const clientId = rule.clientId ?? 'good-rp';
      expect(error.clientId).to.equal(clientId);
      expect(error.field).to.equal(rule.field);
      expect(error.message).to.include(`Client "${clientId}"`).and.include(rule.field).and.include(rule.detail);
    });
  }
});

describe('clients: loadClients and upsertClient', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'carelogin-clients-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a valid file, and oidc-provider accepts every client it produces', async () => {
    const file = path.join(dir, 'clients.json');
    await writeFile(file, JSON.stringify({ clients: [
      validEntry(),
      validEntry({ client_id: 'rp.two', jwks: { keys: [EC, RSA] }, token_endpoint_auth_signing_alg: 'ES256', carelogin: { refresh_tokens: true, pkce: 'not-required' } }),
    ] }));
    const clients = await loadClients(configFor(file));
    expect(clients.map((c) => c.metadata.client_id)).to.deep.equal(['good-rp', 'rp.two']);

    // Our own generated keystore, so every ID-token alg the registry allows has a key.
    const keystore = toKeystore(await generateKeystoreDocument(new Date()));
    const provider = new Provider('https://login.example', {
      jwks: { keys: keystore.signingKeys },
      clients: clients.map((c) => c.metadata),
      clientAuthMethods: ['private_key_jwt'],
      enabledJWA: { clientAuthSigningAlgValues: ['RS512', 'PS256', 'ES256'], idTokenSigningAlgValues: ['RS512', 'PS256', 'ES256'] },
    });
    for (const client of clients) {
      const found = await provider.Client.find(client.metadata.client_id).catch((e: { error_description?: string }) => { throw new Error(String(e.error_description)); });
      expect(found?.clientId).to.equal(client.metadata.client_id);
      expect(found?.grantTypes).to.deep.equal(client.metadata.grant_types);
    }
  });

  it('returns no clients when the file does not exist', async () => {
    expect(await loadClients(configFor(path.join(dir, 'absent.json')))).to.deep.equal([]);
  });

  it('rejects a client_id registered twice', async () => {
    const file = path.join(dir, 'clients.json');
    await writeFile(file, JSON.stringify({ clients: [validEntry(), validEntry({ client_name: 'Again' })] }));
    const error = await loadClients(configFor(file)).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ClientRegistrationError);
    expect((error as ClientRegistrationError).field).to.equal('client_id');
    expect((error as Error).message).to.include('good-rp').and.include('more than once');
  });

  it('rejects carelogin.sso_partners that names a client not in the file (a typo would turn single sign-on off unseen)', async () => {
    const file = path.join(dir, 'clients.json');
    await writeFile(file, JSON.stringify({ clients: [validEntry({ carelogin: { sso_partners: ['rp.two'] } }), validEntry({ client_id: 'rp.too' })] }));
    const error = await loadClients(configFor(file)).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ClientRegistrationError);
    expect((error as ClientRegistrationError).field).to.equal('carelogin.sso_partners');
    expect((error as Error).message).to.include('good-rp').and.include('rp.two');
    await writeFile(file, JSON.stringify({ clients: [validEntry({ carelogin: { sso_partners: ['rp.too'] } }), validEntry({ client_id: 'rp.too' })] }));
    expect((await loadClients(configFor(file)))[0]!.settings.ssoPartners).to.deep.equal(['rp.too']);
  });

  it('rejects a file that is not JSON or has the wrong shape with a ConfigError naming the file', async () => {
    const file = path.join(dir, 'clients.json');
    for (const content of ['{', '[]', '{"client": []}', '{"clients": [], "extra": 1}']) {
      await writeFile(file, content);
      const error = await loadClients(configFor(file)).then(() => undefined, (e: unknown) => e);
      expect(error, content).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.include(file);
    }
  });

  it('upsert adds, replaces by client_id and keeps other clients', async () => {
    const file = path.join(dir, 'sub', 'clients.json');
    const first = validEntry() as unknown as ClientFileEntry;
    const second = validEntry({ client_id: 'other-rp' }) as unknown as ClientFileEntry;
    await upsertClient(file, first);
    await upsertClient(file, second);
    await upsertClient(file, { ...first, client_name: 'Renamed' });
    const clients = await loadClients(configFor(file));
    expect(clients.map((c) => [c.metadata.client_id, c.metadata.client_name])).to.deep.equal([['good-rp', 'Renamed'], ['other-rp', 'Good RP']]);
  });

  it('upsert refuses an invalid client and leaves the file as it was', async () => {
    const file = path.join(dir, 'clients.json');
    await upsertClient(file, validEntry() as unknown as ClientFileEntry);
    const before = await readFile(file, 'utf8');
    const error = await upsertClient(file, validEntry({ client_id: 'bad-rp', redirect_uris: ['http://rp.example/cb'] }) as unknown as ClientFileEntry)
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ClientRegistrationError);
    expect(await readFile(file, 'utf8')).to.equal(before);
  });
});
