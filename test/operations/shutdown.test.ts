import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { waitFor } from './support.js';

/** Grace period given to the product; the process must be gone well within grace + the force timer. */
const GRACE_MS = 4000;

/**
 * security-bar G6 against the real `npm start` process (src/main.ts): SIGTERM drains in-flight
 * requests, stops taking new ones, and exits 0 within the grace period; a second signal forces exit 1.
 * Runs what `npm start` runs: dist/src/main.js when the tests run compiled, src/main.ts through tsx
 * when they run under tsx.
 */
describe('graceful shutdown of the carelogin process (SIGTERM)', function () {
  this.timeout(90000);

  let db: TestDatabase | undefined;
  let dataDir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-shutdown-'));
    // With PostgreSQL, a private schema; with PGlite the process opens its own in-memory database.
    if (process.env.DATABASE_URL) db = await createTestDatabase();
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  interface Running {
    readonly child: ChildProcess;
    readonly url: string;
    readonly port: number;
    readonly output: () => string;
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  }

  async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  async function startProduct(extraEnv: Record<string, string> = {}): Promise<Running> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const underTsx = import.meta.url.endsWith('.ts');
    const args = underTsx ? ['--import', 'tsx', path.join('src', 'main.ts')] : ['--enable-source-maps', path.join('dist', 'src', 'main.js')];
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'DATABASE_URL' && key !== 'DATABASE_SCHEMA') env[key] = value;
    Object.assign(env, {
      CARELOGIN_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: url,
      DEMO_RP_ENABLED: 'false',
      DATA_DIR: dataDir,
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_ITERATIONS: '1',
      ...(db?.env ?? {}),
      ...extraEnv,
    });
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() }));
    });
    let gone = false;
    void exited.then(() => (gone = true));
    try {
      await waitFor(async () => {
        if (gone) throw new Error('exited');
        return (await fetch(`${url}/health/ready`)).status === 200;
      }, 60000, 200);
    } catch {
      child.kill('SIGKILL');
      throw new Error(`carelogin did not become ready (exit ${child.exitCode}):\n${output.slice(-4000)}`);
    }
    if (gone) throw new Error(`carelogin exited during start:\n${output.slice(-4000)}`);
    return { child, url, port, output: () => output, exited };
  }

  /**
   * A request the server has started on but cannot finish yet: the headers and half of a form body
   * are sent, the rest only when `finish()` is called. Resolves with the complete answer (or the
   * socket error that ended it).
   */
  function slowRequest(port: number): { finish: () => void; response: Promise<{ status: number; body: string } | { error: string }> } {
    const body = `_csrf=${'x'.repeat(40)}&password=${'y'.repeat(40)}`;
    const half = Math.floor(body.length / 2);
    const request = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/interaction/in-flight-request/password',
      agent: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), accept: 'text/html' },
    });
    const response = new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
      request.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (error) => resolve({ error: `response: ${error.message}` }));
      });
      request.on('error', (error) => resolve({ error: error.message }));
    });
    request.flushHeaders();
    request.write(body.slice(0, half));
    return { finish: () => request.end(body.slice(half)), response };
  }

  /** One GET on a fresh connection: a status, or the connection error that replaced it. */
  function freshGet(url: string): Promise<{ status: number; body: string } | { error: string }> {
    return new Promise((resolve) => {
      const request = http.get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (error) => resolve({ error: `response: ${error.message}` }));
      });
      request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
  }

  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  it('drains an in-flight request, stops taking new ones, and exits 0 within the grace period', async () => {
    const product = await startProduct();
    const inFlight = slowRequest(product.port);
    await pause(300); // the server has the headers and is reading the body

    const signalledAt = performance.now();
    product.child.kill('SIGTERM');

    // New requests are turned away (readiness 503 or the connection refused) within a second.
    await waitFor(async () => {
      const answer = await freshGet(`${product.url}/health/ready`);
      return 'error' in answer ? answer.error === 'ECONNREFUSED' : answer.status === 503;
    }, 1000, 50);

    expect(product.child.exitCode, 'the process exited with a request still in flight').to.equal(null);
    inFlight.finish();
    const answer = await inFlight.response;
    expect(answer, 'the in-flight request was cut off').to.have.property('status');
    // The request completes with a real answer (the form is forged, so 403), not a reset or a 5xx.
    expect((answer as { status: number }).status).to.be.within(200, 499);
    expect((answer as { body: string }).body).to.match(/<\/html>\s*$/);

    const exit = await product.exited;
    expect(exit.code, product.output().slice(-2000)).to.equal(0);
    expect(exit.atMs - signalledAt).to.be.below(GRACE_MS);
    expect(product.output()).to.match(/"msg":"stopped"/);
  });

  it('answers every request already sent when SIGTERM arrives (readiness flips first, the listener closes later)', async () => {
    const product = await startProduct();
    // 40 requests on fresh connections, sent just before the signal: the kernel has accepted them.
    const burst = Array.from({ length: 40 }, () => freshGet(`${product.url}/.well-known/openid-configuration`));
    await pause(20);
    product.child.kill('SIGTERM');
    const results = await Promise.all(burst);
    const outcomes = results.map((r) => ('status' in r ? String(r.status) : r.error));
    for (const result of results) {
      if ('status' in result) expect(() => JSON.parse(result.body), 'a truncated discovery document').not.to.throw();
    }
    // security-bar §5 / G6: "flip readiness to 503 first, wait for the load balancer, stop accepting,
    // drain": a connection the server's socket already accepted is served, never reset.
    expect(outcomes.filter((o) => o !== '200'), `outcomes: ${outcomes.join(',')}`).to.deep.equal([]);
    expect((await product.exited).code).to.equal(0);
  });

  it('exits 0 at the grace deadline when a request never finishes, saying so in the log', async () => {
    const product = await startProduct();
    const stuck = slowRequest(product.port);
    await pause(300);
    const signalledAt = performance.now();
    product.child.kill('SIGTERM');
    const exit = await product.exited;
    expect(exit.code, product.output().slice(-2000)).to.equal(0);
    expect(exit.atMs - signalledAt).to.be.within(GRACE_MS - 500, GRACE_MS + 3000);
    expect(product.output()).to.match(/shutdown deadline reached/);
    const answer = await stuck.response;
    expect(answer, 'the stuck request should have been cut at the deadline').to.have.property('error');
  });

  it('a second SIGTERM forces an immediate exit 1', async () => {
    const product = await startProduct();
    const stuck = slowRequest(product.port);
    await pause(300);
    product.child.kill('SIGTERM');
    await pause(300);
    expect(product.child.exitCode, 'still draining after the first signal').to.equal(null);
    const secondAt = performance.now();
    product.child.kill('SIGTERM');
    const exit = await product.exited;
    expect(exit.code, product.output().slice(-2000)).to.equal(1);
    expect(exit.atMs - secondAt).to.be.below(1500);
    expect(product.output()).to.match(/second signal/);
    await stuck.response;
  });
});
