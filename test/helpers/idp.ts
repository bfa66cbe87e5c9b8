import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdp, type Idp } from '../../src/app.js';
import type { Logger } from '../../src/logger.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { createTestDatabase, testConfig, type TestDatabase } from './database.js';
import { createTestRp, type TestRp, type TestRpOptions } from './relying-party.js';

export interface TestIdp {
  /** The issuer, e.g. http://localhost:41234 */
  readonly url: string;
  readonly idp: Idp;
  readonly db: TestDatabase;
  /** A registered relying party (openid-client, private_key_jwt RS512, PKCE). */
  readonly rp: TestRp;
  /** Further relying parties registered via options.extraClients, by client id. */
  readonly rps: ReadonlyMap<string, TestRp>;
  readonly dataDir: string;
  close(): Promise<void>;
}

export interface StartTestIdpOptions {
  readonly env?: Record<string, string>;
  readonly rp?: TestRpOptions;
  readonly extraClients?: TestRpOptions[];
  /** Reuse a database (e.g. a second instance sharing the first one's). */
  readonly db?: TestDatabase;
  /** Reuse a data dir (keystore and clients file) from another instance. */
  readonly dataDir?: string;
  /** Start the outbox worker and purge timer (default false: tests drive them explicitly). */
  readonly background?: boolean;
  /** A logger of the test's own (e.g. capturing lines to assert on); default silent. */
  readonly logger?: Logger;
}

/** A shared keystore so tests do not generate RSA keys per file (same as several instances sharing one). */
const TEST_KEYSTORE = path.join(PROJECT_ROOT, '.cache', 'test-keystore.json');

/**
 * A real carelogin IdP on an ephemeral port: its own migrated database (PGlite or a private
 * PostgreSQL schema), personas seeded, and a registered openid-client relying party.
 */
export async function startTestIdp(options: StartTestIdpOptions = {}): Promise<TestIdp> {
  const db = options.db ?? (await createTestDatabase());
  const ownsDb = !options.db;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'carelogin-test-'));
  const issuerRef: { url?: string } = {};
  const rp = await createTestRp(issuerRef, options.rp);
  const extras = await Promise.all((options.extraClients ?? []).map((o) => createTestRp(issuerRef, o)));
  const clientsFile = path.join(dataDir, 'clients.json');
  if (!options.dataDir) writeFileSync(clientsFile, JSON.stringify({ clients: [rp.entry, ...extras.map((e) => e.entry)] }, null, 2));
  mkdirSync(path.dirname(TEST_KEYSTORE), { recursive: true });

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  issuerRef.url = url;
  const config = testConfig({
    ...db.env,
    ISSUER: url,
    DATA_DIR: dataDir,
    CLIENTS_FILE: clientsFile,
    KEYSTORE_FILE: TEST_KEYSTORE,
    SEED_PERSONAS: 'true',
    ...options.env,
  });
  let idp: Idp;
  try {
    idp = await createIdp(config, { pglite: db.pglite, background: options.background ?? false, logger: options.logger });
  } catch (error) {
    server.close();
    if (ownsDb) await db.drop();
    throw error;
  }
  server.on('request', idp.callback);
  return {
    url,
    idp,
    db,
    rp,
    rps: new Map(extras.map((e) => [e.clientId, e])),
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      if (ownsDb) await db.drop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
