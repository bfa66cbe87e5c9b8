import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDemoRp, type DemoRp } from '../../../src/demo-rp/app.js';
import { ensureDemoRpRegistered } from '../../../src/demo-rp/registration.js';
import { createLogger } from '../../../src/logger.js';
import { testConfig } from '../../helpers/database.js';
import { startTestIdp, type TestIdp } from '../../helpers/idp.js';

export interface IdpWithDemoRp {
  /** The demo relying party's origin, e.g. http://localhost:41235 */
  readonly rpUrl: string;
  readonly idp: TestIdp;
  readonly demo: DemoRp;
  close(): Promise<void>;
}

const silent = createLogger({ level: 'silent' });

/**
 * A real IdP and the demo relying party, each on an ephemeral port (as test/demo-rp does): the
 * demo RP is registered in the clients file first, then the IdP starts reading that file.
 */
export async function startIdpWithDemoRp(options: { env?: Record<string, string> } = {}): Promise<IdpWithDemoRp> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-browser-'));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rpUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  const config = testConfig({ DATA_DIR: dir, CLIENTS_FILE: path.join(dir, 'clients.json'), DEMO_RP_URL: rpUrl });
  let idp: TestIdp | undefined;
  try {
    const credentials = await ensureDemoRpRegistered(config, silent);
    idp = await startTestIdp({ env: { CLIENTS_FILE: config.clientsFile, DATA_DIR: dir, ...options.env } });
    const demo = await createDemoRp({ config, logger: silent, credentials, issuer: idp.url });
    server.on('request', demo.app.callback());
    const started = idp;
    return {
      rpUrl,
      idp: started,
      demo,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await demo.close();
        await started.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    server.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
