import { generateSecret, generateURI, verify } from 'otplib';
import { renderSVG } from 'uqr';
import type { DataSource, EntityManager } from 'typeorm';
import type { Account } from '../../entities/account.js';
import { queryRows } from '../db/sql.js';
import type { Notifications } from '../notifications/outbox.js';
import type { Audit } from '../security/audit.js';
import { lockoutKeys, type AttemptCounters } from '../security/attempt-counters.js';
import type { HmacKeys } from '../security/hmac-key-ring.js';
import { createSealedBox } from '../security/sealed-box.js';

/**
 * Authenticator apps (TOTP, RFC 6238; the `Ck` credential, amr `otp`). One per account, as at GOV.UK
 * One Login. The secret is made here (20 random bytes, ASVS 6.5.3), shown once as a QR code and as
 * text, sealed for the account before it is stored, and opened only to check a code.
 *
 * - A code is accepted for the current 30-second step or one either side (security-bar X5), and
 *   once: the step it matched is recorded by one conditional UPDATE, so two requests racing with
 *   the same code cannot both succeed, and no earlier step is accepted after a later one.
 * - Setting one up never writes anything until the first code proves the app holds the secret: the
 *   new secret travels between the two setup pages sealed for this account and this sign-in, and
 *   dies with them (SETUP_SECONDS).
 */

export const TOTP_PERIOD_SECONDS = 30;
/** The name authenticator apps show beside the code. */
const ISSUER_NAME = 'carelogin';
/** ±1 step (X5): the tolerance otplib takes in seconds. */
const TOLERANCE_SECONDS = TOTP_PERIOD_SECONDS;
/** How long a setup page's secret stays usable: enough to find and install an app. */
export const SETUP_SECONDS = 30 * 60;

/** The sealed box purpose of account.authenticator_secret. */
const STORED_PURPOSE = 'carelogin authenticator secret v1';

/** A secret offered on the setup page, waiting for the first code. */
export interface PendingAuthenticator {
  /** Base32, for the person to type if they cannot scan. */
  readonly secret: string;
  /** The same secret sealed for this account and sign-in, carried in the form. */
  readonly token: string;
}

export type AuthenticatorCheck =
  /** Right, and not used before. */
  | 'valid'
  /** Not a code for this step or the ones either side. */
  | 'invalid'
  /** Right, but a code for this step (or a later one) was already accepted: once only (X5). */
  | 'reused'
  /** The account has no authenticator app (removed meanwhile). */
  | 'none';

export interface AuthenticatorApps {
  /** A new secret and its sealed setup token, bound to the account and to `binding` (the sign-in). */
  begin(accountId: string, binding: string, now?: number): PendingAuthenticator;
  /** The secret a setup token carries, or undefined when it is not this account's and sign-in's, or has run out. */
  pending(token: string, accountId: string, binding: string, now?: number): string | undefined;
  /** otpauth:// URI and its QR code (SVG) for the setup page. */
  enrolment(secret: string, email: string): { readonly uri: string; readonly qrSvg: string };
  /**
   * Adds (or replaces) the account's app once `code` proves it holds `secret`: the sealed secret, the
   * step the code was for (so it cannot be used again to sign in), a cleared failure count, the
   * audit row and the email to the owner, in one transaction. False when the code is wrong.
   */
  add(account: Pick<Account, 'id' | 'email'>, secret: string, code: string, meta: { ip: string }, now?: number): Promise<boolean>;
  /** Checks a sign-in code (lockouts are the caller's: counters key lockoutKeys.authenticatorApp). */
  check(account: Pick<Account, 'id' | 'authenticatorSecret'>, code: string, now?: number): Promise<AuthenticatorCheck>;
  /** Removes the app, audits and emails the owner. False when there was none. */
  remove(account: Pick<Account, 'id' | 'email'>, meta: { ip: string }): Promise<boolean>;
}

/** An authenticator secret sealed for the account as it is stored (the seeded reviewer persona's fixed one). */
export function sealAuthenticatorSecret(hmacKeys: HmacKeys, accountId: string, secret: string): string {
  return createSealedBox(hmacKeys, STORED_PURPOSE).seal(secret, accountId);
}

/** The stored secret in the clear, or undefined when it does not open for this account. */
export function openAuthenticatorSecret(hmacKeys: HmacKeys, accountId: string, sealed: string): string | undefined {
  return createSealedBox(hmacKeys, STORED_PURPOSE).open(sealed, accountId)?.toString('utf8');
}

/** The step a code matches for `secret` at `now` (±1 step), if any and if later than `afterStep`. */
export async function matchingStep(secret: string, code: string, now: number, afterStep?: number | null): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch: now,
    epochTolerance: TOLERANCE_SECONDS,
    ...(afterStep !== null && afterStep !== undefined ? { afterTimeStep: afterStep } : {}),
  });
  // delta: the matched step relative to now's (-1, 0 or +1).
  return result.valid ? Math.floor(now / TOTP_PERIOD_SECONDS) + result.delta : undefined;
}

/** The secret in groups of four, as apps show and people type it. */
export function groupedSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function createAuthenticatorApps(deps: { dataSource: DataSource; hmacKeys: HmacKeys; counters: AttemptCounters; notifications: Notifications; audit: Audit }): AuthenticatorApps {
  const { dataSource, counters, notifications, audit } = deps;
  const stored = createSealedBox(deps.hmacKeys, STORED_PURPOSE);
  const setups = createSealedBox(deps.hmacKeys, 'carelogin authenticator setup v1');

  function open(account: Pick<Account, 'id' | 'authenticatorSecret'>): string | undefined {
    return account.authenticatorSecret ? stored.open(account.authenticatorSecret, account.id)?.toString('utf8') : undefined;
  }

  /**
   * Records `step` as used, unless it (or a later one) already was: the atomic "accepted once". Only
   * for the app the code was checked against (`sealed`): one replaced meanwhile is not this one.
   */
  async function claimStep(manager: Pick<EntityManager, 'query'>, accountId: string, sealed: string, step: number): Promise<boolean> {
    const rows = await queryRows(
      manager,
      `UPDATE account SET authenticator_last_step = $3
        WHERE id = $1 AND authenticator_secret = $2 AND (authenticator_last_step IS NULL OR authenticator_last_step < $3)
        RETURNING id`,
      [accountId, sealed, step],
    );
    return rows.length > 0;
  }

  return {
    begin(accountId, binding, now = nowSeconds()) {
      const secret = generateSecret();
      return { secret, token: setups.seal(JSON.stringify([secret, now + SETUP_SECONDS]), `${accountId}\u0000${binding}`) };
    },

    pending(token, accountId, binding, now = nowSeconds()) {
      const plain = setups.open(token, `${accountId}\u0000${binding}`);
      if (!plain) return undefined;
      const [secret, expires] = JSON.parse(plain.toString('utf8')) as [unknown, unknown];
      return typeof secret === 'string' && typeof expires === 'number' && now < expires ? secret : undefined;
    },

    enrolment(secret, email) {
      const uri = generateURI({ issuer: ISSUER_NAME, label: email, secret, algorithm: 'sha1', digits: 6, period: TOTP_PERIOD_SECONDS });
      // A fixed size (the CSP allows no inline styles); the wrapper on the page names the image.
      const qrSvg = renderSVG(uri, { ecc: 'M', border: 2, pixelSize: 5 }).replace('<svg ', '<svg width="220" height="220" focusable="false" aria-hidden="true" ');
      return { uri, qrSvg };
    },

    async add(account, secret, code, meta, now = nowSeconds()) {
      const step = await matchingStep(secret, code, now);
      if (step === undefined) return false;
      await dataSource.transaction(async (manager) => {
        const [row] = await queryRows<{ authenticator_added_at: Date | null }>(manager, `SELECT authenticator_added_at FROM account WHERE id = $1 FOR UPDATE`, [account.id]);
        await manager.query(
          `UPDATE account SET authenticator_secret = $2, authenticator_added_at = now(), authenticator_last_step = $3, updated_at = now() WHERE id = $1`,
          [account.id, stored.seal(secret, account.id), step],
        );
        // A new app is a new authenticator: the old one's failures do not carry over (NIST rebinding).
        await counters.reset(lockoutKeys.authenticatorApp(account.id), manager);
        await audit.record(row?.authenticator_added_at ? 'authenticator_app.replaced' : 'authenticator_app.added', { accountId: account.id, ip: meta.ip }, manager);
        await notifications.enqueue(manager, { template: 'sign-in-method-changed', to: account.email, data: { change: 'added', method: 'authenticator-app' }, accountId: account.id });
      });
      return true;
    },

    async check(account, code, now = nowSeconds()) {
      const secret = open(account);
      if (!secret || !account.authenticatorSecret) return 'none';
      const step = await matchingStep(secret, code, now);
      if (step === undefined) return 'invalid';
      return (await claimStep(dataSource, account.id, account.authenticatorSecret, step)) ? 'valid' : 'reused';
    },

    async remove(account, meta) {
      return dataSource.transaction(async (manager) => {
        const rows = await queryRows(
          manager,
          `UPDATE account SET authenticator_secret = NULL, authenticator_added_at = NULL, authenticator_last_step = NULL, updated_at = now()
            WHERE id = $1 AND authenticator_secret IS NOT NULL RETURNING id`,
          [account.id],
        );
        if (rows.length === 0) return false;
        await counters.reset(lockoutKeys.authenticatorApp(account.id), manager);
        await audit.record('authenticator_app.removed', { accountId: account.id, ip: meta.ip }, manager);
        await notifications.enqueue(manager, { template: 'sign-in-method-changed', to: account.email, data: { change: 'removed', method: 'authenticator-app' }, accountId: account.id });
        return true;
      });
    },
  };
}

/** Rows read per batch by the re-seal and the prune check: one short transaction each. */
const RESEAL_BATCH = 100;

/** Every stored sealed authenticator secret, in batches by account id (keyset pagination: no long-held snapshot). */
async function* storedAuthenticatorSecrets(dataSource: DataSource, batchSize: number): AsyncGenerator<{ id: string; sealed: string }[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await queryRows<{ id: string; authenticator_secret: string }>(
      dataSource,
      `SELECT id, authenticator_secret FROM account WHERE authenticator_secret IS NOT NULL AND id > $1::uuid ORDER BY id LIMIT $2`,
      [after, batchSize],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => ({ id: r.id, sealed: r.authenticator_secret }));
    after = rows.at(-1)!.id;
  }
}

export interface ResealResult {
  /** Re-sealed under the current HMAC secret. */
  readonly resealed: number;
  /** Already under the current secret. */
  readonly current: number;
  /** Changed or removed between the read and the update (the person's change wins; it is sealed under the current secret anyway). */
  readonly changedMeanwhile: number;
  /** Opens under no secret of the ring (sealed under a secret already pruned, or damaged): left as it is. */
  readonly unreadable: number;
}

/**
 * Re-seals every account.authenticator_secret not sealed under the ring's current secret
 * (docs/operations.md "Rotating the HMAC secret"), so the previous secret can be pruned without
 * turning anyone's authenticator app off. Each update is conditional on the value read, so a
 * concurrent add, replace or remove wins. An instance checking a code against the old value at that
 * moment may answer "already used" once; the person tries the next code.
 */
export async function resealAuthenticatorSecrets(dataSource: DataSource, hmacKeys: HmacKeys, options: { batchSize?: number } = {}): Promise<ResealResult> {
  const box = createSealedBox(hmacKeys, STORED_PURPOSE);
  const counts = { resealed: 0, current: 0, changedMeanwhile: 0, unreadable: 0 };
  for await (const batch of storedAuthenticatorSecrets(dataSource, options.batchSize ?? RESEAL_BATCH)) {
    await dataSource.transaction(async (manager) => {
      for (const { id, sealed } of batch) {
        if (!box.needsReseal(sealed)) {
          counts.current++;
          continue;
        }
        const plain = box.open(sealed, id);
        if (!plain) {
          counts.unreadable++;
          continue;
        }
        const updated = await queryRows(manager, `UPDATE account SET authenticator_secret = $3 WHERE id = $1 AND authenticator_secret = $2 RETURNING id`, [id, sealed, box.seal(plain, id)]);
        counts[updated.length > 0 ? 'resealed' : 'changedMeanwhile']++;
      }
    });
  }
  return counts;
}

/**
 * How many stored authenticator secrets each secret of the ring still seals (current first, as in
 * the ring); `unreadable` opens under none. prune keeps any previous secret with a count above zero.
 */
export async function authenticatorSecretsPerHmacSecret(dataSource: DataSource, hmacKeys: HmacKeys): Promise<{ perSecret: Map<string, number>; unreadable: number }> {
  const box = createSealedBox(hmacKeys, STORED_PURPOSE);
  const perSecret = new Map<string, number>();
  let unreadable = 0;
  for await (const batch of storedAuthenticatorSecrets(dataSource, RESEAL_BATCH)) {
    for (const { id, sealed } of batch) {
      const secret = box.secretOf(sealed, id);
      if (secret === undefined) unreadable++;
      else perSecret.set(secret, (perSecret.get(secret) ?? 0) + 1);
    }
  }
  return { perSecret, unreadable };
}
