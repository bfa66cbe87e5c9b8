/**
 * `npm run bench`: starts carelogin on PostgreSQL in a child process and measures, on this machine:
 *  - authorization code exchanges per second at /token with private_key_jwt (median and p99 latency),
 *    beside the RS512 signing-bound limit measured in the same run (two RS512 signatures per exchange:
 *    the client assertion and the ID token);
 *  - complete persona sign-ins per second (authorize → pages → tokens), beside the argon2id
 *    hashing-bound limit measured in the same run;
 *  - account creations per second (every create-account page, codes read from the outbox, tokens),
 *    beside the same argon2id limit (one hash per creation);
 *  - the server's peak resident memory.
 * The load generator runs on the same two cores, as the targets assume. It is a benchmark, not a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign as signAsync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Koa from 'koa';
import pg from 'pg';
import { hash as argon2Hash, Algorithm } from '@node-rs/argon2';
import { PROJECT_ROOT } from '../src/project-root.js';
import { PERSONAS } from '../src/accounts/personas.js';
import { nhsNumberCheckDigit } from '../src/accounts/nhs-number.js';
import { Browser, pageText } from '../test/helpers/browser.js';
import { createTestRp, type AuthorizationRequest } from '../test/helpers/relying-party.js';
import { signIn } from '../test/helpers/journeys.js';
import { createAccountThroughPages, newestCodeFrom } from '../test/helpers/create-account-pages.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SCHEMA = 'carelogin_bench';
const p9 = PERSONAS.find((p) => p.key === 'p9')!;

async function main(): Promise<void> {
  console.log(`carelogin benchmark: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${redact(DATABASE_URL)}`);
  const signingLimit = await measureRs512Signatures(3);
  const hashingLimit = await measureArgon2Hashes(3);
  const floor = await measureRoundTrips(2);

  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`);
  await admin.end();

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-bench-'));
  const port = await freePort();
  const issuerRef: { url?: string } = { url: `http://localhost:${port}` };
  const rp = await createTestRp(issuerRef, { clientId: 'bench-rp' });
  writeFileSync(path.join(dataDir, 'clients.json'), JSON.stringify({ clients: [rp.entry] }));
  // BENCH_SERVER_ARGS adds Node flags to the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const serverArgs = [...startScriptHeapFlags(), ...(process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean)];
  const server = spawn(process.execPath, [...serverArgs, '--enable-source-maps', path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
    env: {
      ...process.env,
      CARELOGIN_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      ISSUER: issuerRef.url,
      DATABASE_URL,
      DATABASE_SCHEMA: SCHEMA,
      DATA_DIR: dataDir,
      DEMO_RP_ENABLED: 'false',
      AUTHORIZATION_CODE_TTL_SECONDS: '600',
      // The bench signs in from one address, to numbers in one block, many times a second: keep the
      // per-IP and per-number-block throttles and the daily SMS budget alarm out of the way.
      IP_FAILURE_LIMIT: '100000',
      SMS_SENDS_PER_IP_PER_HOUR: '1000000',
      SMS_SENDS_PER_PREFIX_PER_HOUR: '1000000',
      SMS_DAILY_BUDGET: '10000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    serverPid = server.pid;
    await waitForReady(issuerRef.url!, server);
    const peak = watchPeakRss(server.pid!);

    // One account per concurrent worker: a real person does not run eight sign-ins at once, and the
    // per-account limit on security-code attempts in flight (security-bar B3) would rightly stop it.
    const workers = Math.min(CONCURRENCY, 8);
    const accounts = await cloneP9Persona(workers);
    const persona = { email: p9.email, password: p9.password, code: '190696' };
    for (const account of accounts) await signIn({ rp }, account);

    let next = 0;
    const signIns = await measure('sign-in', SECONDS, workers, async () => {
      const account = accounts[next++ % accounts.length]!;
      const { request, callbackUrl } = await signIn({ rp }, account);
      await rp.exchange(callbackUrl, request);
    });

    // Account creations through every page (create-account journey), codes read from the outbox.
    // A pool: the workers read codes at the same time.
    const outbox = new pg.Pool({ connectionString: DATABASE_URL, max: 4, options: `-c search_path=${SCHEMA}` });
    let created = 0;
    const creations = await measure('account creation', SECONDS, workers, async () => {
      created += 1;
      await createAccountThroughPages(rp, newestCodeFrom(outbox), created);
    });
    await outbox.end();

    // Mint codes through single sign-on (no pages), then measure only the exchanges.
    const browser = new Browser({ stopAt: rp.redirectUri });
    await signIn({ rp }, persona, { browser, params: { scope: 'openid profile' } });
    const pending: { request: AuthorizationRequest; callbackUrl: string }[] = [];
    const target = Math.ceil(450 * SECONDS);
    await runPool(CONCURRENCY, target, async () => {
      const request = await rp.authorize({ scope: 'openid profile' });
      const page = await browser.get(request.url);
      if (!page.callbackUrl) throw new Error(`single sign-on did not return a code: ${page.status} ${page.url} ${pageText(page).slice(0, 300)}`);
      pending.push({ request, callbackUrl: page.callbackUrl });
    });
    const exchanges = await measure('code exchange', SECONDS * 3, CONCURRENCY, async () => {
      const next = pending.pop();
      if (!next) return 'done';
      await rp.exchange(next.callbackUrl, next.request);
      return undefined;
    });

    const rssMb = peak.stop() / 1024;
    const exchangeLimit = signingLimit / 2;
    console.log('');
    console.log('| measure | this machine | limit measured in this run | ratio | target |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| code exchanges/s (private_key_jwt, RS512) | ${exchanges.rate.toFixed(0)} (median ${exchanges.median.toFixed(1)} ms, p99 ${exchanges.p99.toFixed(1)} ms) | ${exchangeLimit.toFixed(0)}/s (${signingLimit.toFixed(0)} RS512 signatures/s ÷ 2) | ${pct(exchanges.rate / exchangeLimit)} | ≥ 35% ${exchanges.rate / exchangeLimit >= 0.35 ? 'met' : 'NOT met'} |`);
    console.log(`| persona sign-ins/s (authorize → tokens) | ${signIns.rate.toFixed(1)} (median ${signIns.median.toFixed(0)} ms, p99 ${signIns.p99.toFixed(0)} ms) | ${hashingLimit.toFixed(1)} argon2id hashes/s | ${pct(signIns.rate / hashingLimit)} | ≥ 60% ${signIns.rate / hashingLimit >= 0.6 ? 'met' : 'NOT met'} |`);
    console.log(`| account creations/s (all steps, codes read from the outbox) | ${creations.rate.toFixed(1)} (median ${creations.median.toFixed(0)} ms, p99 ${creations.p99.toFixed(0)} ms) | ${hashingLimit.toFixed(1)} argon2id hashes/s | ${pct(creations.rate / hashingLimit)} | ≥ 50% ${creations.rate / hashingLimit >= 0.5 ? 'met' : 'NOT met'} |`);
    console.log(`| server peak RSS | ${rssMb.toFixed(0)} MB | 300 MB | | < 300 MB ${rssMb < 300 ? 'met' : 'NOT met'} |`);
    console.log('');
    console.log(`Round trips on this machine (core-time, both ends): an empty HTTP request ${floor.httpMs.toFixed(2)} ms, a one-row SQL statement ${floor.sqlMs.toFixed(2)} ms.`);
    console.log(`One argon2id hash ${(os.cpus().length * 1000 / hashingLimit).toFixed(1)} ms and one RS512 signature ${(os.cpus().length * 1000 / signingLimit).toFixed(2)} ms of core-time; \`npm run bench:trace\` counts the requests and statements of each journey.`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * A distinct, checksum-valid NHS number for the n-th bench account, from the 998 range (neither the
 * personas' nor the fake register's): one account per NHS number is a database rule.
 */
function benchNhsNumber(n: number): string {
  for (let candidate = n * 10; ; candidate++) {
    const firstNine = `998${String(candidate).padStart(6, '0')}`;
    const check = nhsNumberCheckDigit(firstNine);
    if (check !== null) return `${firstNine}${check}`;
  }
}

/** Bench-only accounts: copies of the P9 persona (same password hash, persona code allowed outside production), each with an NHS number of its own. */
async function cloneP9Persona(count: number): Promise<{ email: string; password: string; code: string }[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${SCHEMA}`);
    const accounts = [];
    for (let i = 1; i <= count; i++) {
      const email = `bench-${i}@carelogin.test`;
      await client.query(
        `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at, proofing_level, nhs_number,
           given_name, family_name, birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key, test_persona)
         SELECT $1, $1, email_verified_at, password_hash, mobile_number, mobile_verified_at, proofing_level, $3,
           given_name, family_name, birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key, $2
         FROM account WHERE test_persona = 'p9'`,
        [email, `bench-${i}`, benchNhsNumber(i)],
      );
      accounts.push({ email, password: p9.password, code: '190696' });
    }
    return accounts;
  } finally {
    await client.end();
  }
}

interface Measurement { rate: number; median: number; p99: number; count: number; cpuMs: { server: number; generator: number; postgres: number } }

/** The V8 heap flags `npm start` uses, so the benchmark measures the server as it is run. */
function startScriptHeapFlags(): string[] {
  const start: string = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start;
  return start.split(' ').filter((part) => /^--max-(old|semi)-space-size=\d+$/.test(part));
}

let serverPid: number | undefined;

/** CPU seconds used so far by the server, this load generator and every PostgreSQL process. */
function cpuSnapshot(): { server: number; generator: number; postgres: number } {
  const ticks = (pid: string | number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return 0;
    }
  };
  let postgres = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') postgres += ticks(pid);
    } catch {
      // gone
    }
  }
  const own = process.cpuUsage();
  return { server: serverPid ? ticks(serverPid) : 0, generator: (own.user + own.system) / 1e6, postgres };
}

async function measure(name: string, seconds: number, concurrency: number, operation: () => Promise<unknown>): Promise<Measurement> {
  const latencies: number[] = [];
  const cpuBefore = cpuSnapshot();
  const deadline = Date.now() + seconds * 1000;
  const started = performance.now();
  let stop = false;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!stop && Date.now() < deadline) {
      const t = performance.now();
      const result = await operation();
      if (result === 'done') {
        stop = true;
        break;
      }
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const cpuAfter = cpuSnapshot();
  const perOperation = (key: keyof typeof cpuAfter): number => ((cpuAfter[key] - cpuBefore[key]) / Math.max(1, latencies.length)) * 1000;
  const cpuMs = { server: perOperation('server'), generator: perOperation('generator'), postgres: perOperation('postgres') };
  const result = { rate: latencies.length / elapsed, median: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), count: latencies.length, cpuMs };
  const ms = (value: number): string => `${value.toFixed(value < 1 ? 2 : 1)} ms`;
  console.log(`${name}: ${result.count} in ${elapsed.toFixed(1)} s; CPU per operation: server ${ms(cpuMs.server)}, load generator ${ms(cpuMs.generator)}, PostgreSQL ${ms(cpuMs.postgres)}`);
  return result;
}

async function runPool(concurrency: number, total: number, operation: () => Promise<void>): Promise<void> {
  let started = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (started < total) {
      started++;
      await operation();
    }
  }));
}

/**
 * The core-time of the smallest HTTP round trip (a Koa app answering fetch over keep-alive, both
 * ends in this process) and of the smallest SQL statement (a parameterised one-row SELECT over
 * loopback, PostgreSQL's CPU included): the floor under any journey of so many requests and
 * statements, whatever the application does.
 */
async function measureRoundTrips(seconds: number): Promise<{ httpMs: number; sqlMs: number }> {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const http1 = await measure('empty HTTP requests (floor)', seconds, 4, async () => (await fetch(url)).text());
  server.closeAllConnections();
  server.close();
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  const sql = await measure('one-row SQL statements (floor)', seconds, 4, () => pool.query('SELECT $1::int AS one', [1]));
  await pool.end();
  const total = (m: Measurement): number => m.cpuMs.generator + m.cpuMs.postgres;
  return { httpMs: total(http1), sqlMs: total(sql) };
}

/** RS512 (2048-bit) signatures per second using every core (libuv's pool), as the server signs. */
async function measureRs512Signatures(seconds: number): Promise<number> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sign = promisify(signAsync);
  const data = Buffer.alloc(600, 7);
  const result = await measure('RS512 signatures (limit)', seconds, os.cpus().length * 2, () => sign('sha512', data, privateKey));
  return result.rate;
}

/** argon2id hashes per second at the server's parameters (OWASP), using every core. */
async function measureArgon2Hashes(seconds: number): Promise<number> {
  const result = await measure('argon2id hashes (limit)', seconds, os.cpus().length * 2, () =>
    argon2Hash('correct horse battery staple', { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }));
  return result.rate;
}

function watchPeakRss(pid: number): { stop(): number } {
  let peakKb = 0;
  const read = (): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // process gone
    }
  };
  const timer = setInterval(read, 200);
  return { stop: () => { read(); clearInterval(timer); return peakKb; } };
}

async function waitForReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('the server did not become ready within 60 s');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(0)}%`;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@]*@/, '//');
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
