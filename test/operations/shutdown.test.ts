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

  it('answers requests on connections it had already accepted (discovery 200, readiness 503), not resetting them', async () => {
    const product = await startProduct();
    // A load balancer's pooled connections: open and idle when the signal arrives.
    const connections = await Promise.all(Array.from({ length: 10 }, () => new Promise<{ socket: net.Socket; outcome: Promise<string> }>((resolve, reject) => {
      const socket = net.connect(product.port, '127.0.0.1');
      let text = '';
      const outcome = new Promise<string>((settle) => {
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message));
        socket.on('close', () => settle(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'closed without an answer'));
        setTimeout(() => settle('no answer within 10 s'), 10000).unref();
      });
      socket.once('connect', () => resolve({ socket, outcome }));
      socket.once('error', reject);
    })));
    await pause(200); // the server has accepted them
    product.child.kill('SIGTERM');
    await pause(100); // the balancer has not polled readiness yet and sends one more request on each
    connections.forEach(({ socket }, index) => {
      const path = index % 2 === 0 ? '/.well-known/openid-configuration' : '/health/ready';
      if (!socket.destroyed) socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${product.port}\r\nConnection: close\r\n\r\n`);
    });
    const outcomes = await Promise.all(connections.map((c) => c.outcome));
    // security-bar G6 ("zero resets at the proxy"): a balancer's open connection still gets answers
    // while the instance drains: discovery is served (200) and readiness says 503.
    const tally: Record<string, number> = {};
    for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
    expect(tally).to.deep.equal({ 200: 5, 503: 5 });
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
