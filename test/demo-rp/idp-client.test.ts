import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdpClient } from '../../src/demo-rp/idp-client.js';
import { createDemoRp } from '../../src/demo-rp/app.js';
import { ensureDemoRpRegistered, type DemoRpCredentials } from '../../src/demo-rp/registration.js';
import { CareloginError, ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/database.js';
import { Browser, findForm } from '../helpers/browser.js';

const silent = createLogger({ level: 'silent' });

describe('demo relying party: reaching the IdP', () => {
  let dir: string;
  let credentials: DemoRpCredentials;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-demo-rp-idp-'));
    credentials = await ensureDemoRpRegistered(testConfig({ DATA_DIR: dir, CLIENTS_FILE: path.join(dir, 'clients.json') }), silent);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a plain-http issuer that is not on this machine', () => {
    expect(() => createIdpClient({ issuer: 'http://idp.example', credentials, logger: silent })).to.throw(ConfigError, /must use https/);
  });

  it('discovers lazily, and tries again on the next use when the IdP was not up yet', async () => {
    // Stands in for an IdP that is still starting: the first three discovery requests fail.
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests += 1;
      if (requests <= 3) {
        res.writeHead(503).end();
        return;
      }
      const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: ['code'],
        id_token_signing_alg_values_supported: ['RS512'],
      }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = createIdpClient({ issuer: `http://localhost:${(server.address() as AddressInfo).port}`, credentials, logger: silent });
      expect(requests, 'nothing is fetched before first use').to.equal(0);
      const failure = await client.configuration().then(() => undefined, (error: unknown) => error);
      expect(failure).to.be.instanceOf(CareloginError).with.property('code', 'idp_unavailable');
      expect(requests).to.equal(3);
      const configuration = await client.configuration();
      expect(configuration.serverMetadata().token_endpoint).to.match(/\/token$/);
      await client.configuration();
      expect(requests, 'a successful discovery is kept').to.equal(4);
    } finally {
      server.close();
    }
  });

  it('shows a 503 page with Retry-After when carelogin cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadIssuer = `http://localhost:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const demo = await createDemoRp({ config: testConfig({ DATA_DIR: dir }), logger: silent, credentials, issuer: deadIssuer });
    const server = http.createServer(demo.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const rpUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
      const browser = new Browser();
      const home = await browser.get(`${rpUrl}/`);
      expect(home.status, 'the start page does not need the IdP').to.equal(200);
      const response = await fetch(`${rpUrl}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: home.setCookies.map((c) => c.split(';')[0]).join('; ') },
        body: new URLSearchParams({ _csrf: findForm(home, '/login').fields._csrf!, vtr: 'P9.Cp.Cd' }).toString(),
      });
      expect(response.status).to.equal(503);
      expect(response.headers.get('retry-after')).to.equal('5');
      expect(await response.text()).to.include('carelogin cannot be reached at the moment');
    } finally {
      server.close();
      await demo.close();
    }
  });
});
