import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { environmentSchema } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { PROJECT_ROOT } from '../../src/project-root.js';

describe('configuration', () => {
  it('documents every variable in docs/configuration.md', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8');
    const missing = Object.keys(environmentSchema.shape).filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).to.deep.equal([]);
  });

  it('has safe development defaults', () => {
    const config = loadConfig({});
    expect(config.mode).to.equal('development');
    expect(config.issuer).to.equal('http://localhost:3000');
    expect(config.ttl.authorizationCode).to.equal(60);
    expect(config.ttl.accessToken).to.equal(300);
    expect(config.notifications.devOutbox).to.equal(true);
    expect(Object.isFrozen(config.ttl)).to.equal(true);
  });

  it('refuses development conveniences in production, naming each problem', () => {
    expect(() => loadConfig({ CARELOGIN_ENV: 'production', ISSUER: 'http://idp.example', DEV_OUTBOX: 'true', SEED_PERSONAS: 'true' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.matches(/DEV_OUTBOX/)
      .and.matches(/SEED_PERSONAS/)
      .and.matches(/DATABASE_URL/)
      .and.matches(/KEYSTORE_FILE or KEYSTORE_JSON/)
      .and.matches(/https/);
  });

  it('accepts a complete production configuration without development features', () => {
    const config = loadConfig({ CARELOGIN_ENV: 'production', ISSUER: 'https://auth.example.org', DATABASE_URL: 'postgres://db/idp', KEYSTORE_FILE: '/run/secrets/keystore.json', NOTIFY_API_KEY: 'key' });
    expect(config.notifications.devOutbox).to.equal(false);
    expect(config.personas.seed).to.equal(false);
    expect(config.personas.securityCode).to.equal(undefined);
    expect(config.keystore.generateIfMissing).to.equal(false);
    expect(config.identityChecks.demographics.source, 'no made-up patients in production').to.equal('none');
  });

  it('checks identities against the fake register by default outside production, and never in it', () => {
    expect(loadConfig({}).identityChecks).to.deep.include({ demographics: { source: 'fake-pds', fakePdsFile: undefined }, maxAttempts: 3, targetAttempts: 5, timeoutMs: 10000 });
    const production = { CARELOGIN_ENV: 'production', ISSUER: 'https://auth.example.org', DATABASE_URL: 'postgres://db/idp', KEYSTORE_FILE: '/k.json', NOTIFY_API_KEY: 'key' };
    expect(() => loadConfig({ ...production, DEMOGRAPHICS_SOURCE: 'fake-pds' })).to.throw(ConfigError, /DEMOGRAPHICS_SOURCE=fake-pds is for development and testing only/);
    expect(() => loadConfig({ DEMOGRAPHICS_SOURCE: 'none', FAKE_PDS_FILE: 'patients.json' })).to.throw(ConfigError, /FAKE_PDS_FILE needs DEMOGRAPHICS_SOURCE=fake-pds/);
    expect(loadConfig({ DEMOGRAPHICS_SOURCE: 'unavailable' }).identityChecks.demographics.source).to.equal('unavailable');
    expect(loadConfig({}).identityChecks.gpOnline.source).to.equal('fake-im1');
    expect(loadConfig(production).identityChecks.gpOnline.source).to.equal('none');
    expect(() => loadConfig({ ...production, GP_ONLINE_SOURCE: 'fake-im1' })).to.throw(ConfigError, /GP_ONLINE_SOURCE=fake-im1 is for development and testing only/);
  });

  it('rejects an authorization code lifetime beyond NHS login parity (10 minutes)', () => {
    expect(() => loadConfig({ AUTHORIZATION_CODE_TTL_SECONDS: '601' })).to.throw(ConfigError, /AUTHORIZATION_CODE_TTL_SECONDS/);
  });
});
