import { randomBytes, randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { DataSource } from 'typeorm';
import type { Account } from '../../entities/account.js';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Notifications } from '../notifications/outbox.js';
import type { Audit } from '../security/audit.js';
import type { HmacKeys } from '../security/hmac-key-ring.js';
import { createSealedBox } from '../security/sealed-box.js';
import { deviceLabel } from './remembered-devices.js';

/**
 * Passkeys (WebAuthn Level 3 discoverable credentials; the `Cm` credential, amr `hwk`), with
 * @simplewebauthn/server doing every check the specification asks for. carelogin keeps only the
 * public key, the signature counter, and what a person needs to tell their passkeys apart.
 *
 * - Passkeys are made in Your account, after a sign-in with a second factor, and always require
 *   user verification (a fingerprint, face or device PIN): a passkey alone is two factors, which is
 *   why a sign-in with one reports `Cm` without a password (as NHS login's biometric `Cm` does).
 * - A sign-in is discoverable ("usernameless"): the browser offers the person's passkeys for this
 *   site, so nobody types an email address and no page says whether an account exists (F1).
 * - Challenges are single use. A registration's travels sealed in its form (for this account and
 *   sign-in, for 5 minutes); a sign-in's is stored in the journey when the step is entered, and the
 *   journey moves on when it is used.
 */

export const CHALLENGE_SECONDS = 5 * 60;
const RP_NAME = 'carelogin';
/**
 * EdDSA, ES256, RS256: what authenticators use. Named, so the library does not probe the runtime
 * for post-quantum ones (an experimental Node API that warns on stderr).
 */
const ALGORITHMS = [-8, -7, -257];

export interface PasskeySummary {
  readonly id: string;
  readonly label: string;
  readonly backedUp: boolean;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type RegistrationResult = 'added' | 'expired' | 'invalid' | 'duplicate';

export interface Passkeys {
  /** Options for navigator.credentials.create, and the sealed token that carries their challenge. */
  registrationOptions(account: Pick<Account, 'id' | 'email'>, binding: string, now?: number): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; token: string }>;
  /** Verifies a new passkey and stores it (audited, the owner emailed). */
  register(account: Pick<Account, 'id' | 'email'>, binding: string, token: string, response: unknown, userAgent: string, meta: { ip: string }): Promise<RegistrationResult>;
  list(accountId: string): Promise<PasskeySummary[]>;
  count(accountId: string): Promise<number>;
  /** Removes one of the account's passkeys (audited, the owner emailed). False when it is not theirs. */
  remove(account: Pick<Account, 'id' | 'email'>, passkeyId: string, meta: { ip: string }): Promise<boolean>;
  /** A fresh challenge for a sign-in (base64url, 256 bits). */
  newChallenge(): string;
  /** Options for navigator.credentials.get with `challenge`: any of this site's passkeys may answer. */
  authenticationOptions(challenge: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** The account whose passkey signed `challenge`, after every check; undefined when it does not verify. */
  authenticate(challenge: string, response: unknown): Promise<{ accountId: string } | undefined>;
}

interface PasskeyRow {
  id: string;
  account_id: string;
  credential_id: string;
  public_key: Buffer | Uint8Array;
  sign_count: string | number;
  transports: string;
}

function isRegistrationResponse(value: unknown): value is RegistrationResponseJSON {
  const candidate = value as Partial<RegistrationResponseJSON> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.id === 'string' && typeof candidate.response === 'object' && candidate.type === 'public-key';
}

function isAuthenticationResponse(value: unknown): value is AuthenticationResponseJSON {
  const candidate = value as Partial<AuthenticationResponseJSON> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.id === 'string' && typeof candidate.response === 'object' && candidate.type === 'public-key';
}

export function createPasskeys(deps: { dataSource: DataSource; issuer: string; hmacKeys: HmacKeys; notifications: Notifications; audit: Audit; logger: Logger }): Passkeys {
  const { dataSource, notifications, audit, logger } = deps;
  const origin = new URL(deps.issuer).origin;
  const rpID = new URL(deps.issuer).hostname;
  const tokens = createSealedBox(deps.hmacKeys, 'carelogin passkey registration v1');

  async function existingFor(accountId: string): Promise<{ id: string; transports?: AuthenticatorTransport[] }[]> {
    const rows = await queryRows<{ credential_id: string; transports: string }>(dataSource, `SELECT credential_id, transports FROM passkey WHERE account_id = $1`, [accountId]);
    return rows.map((r) => ({ id: r.credential_id, transports: JSON.parse(r.transports) as AuthenticatorTransport[] }));
  }

  return {
    async registrationOptions(account, binding, now = Math.floor(Date.now() / 1000)) {
      const options = await generateRegistrationOptions({
        rpName: RP_NAME,
        rpID,
        userName: account.email,
        userDisplayName: account.email,
        // The user handle is the account id: opaque, stable, and no personal data (WebAuthn §14.6.1).
        userID: new Uint8Array(Buffer.from(account.id, 'utf8')),
        attestationType: 'none',
        // The same authenticator twice would be one passkey listed twice.
        excludeCredentials: await existingFor(account.id),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        supportedAlgorithmIDs: ALGORITHMS,
        timeout: CHALLENGE_SECONDS * 1000,
      });
      return { options, token: tokens.seal(JSON.stringify([options.challenge, now + CHALLENGE_SECONDS]), `${account.id}\u0000${binding}`) };
    },

    async register(account, binding, token, response, userAgent, meta) {
      const opened = tokens.open(token, `${account.id}\u0000${binding}`);
      if (!opened) return 'expired';
      const [challenge, expires] = JSON.parse(opened.toString('utf8')) as [string, number];
      if (Math.floor(Date.now() / 1000) >= expires) return 'expired';
      if (!isRegistrationResponse(response)) return 'invalid';
      let verified;
      try {
        verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true, supportedAlgorithmIDs: ALGORITHMS });
      } catch (error) {
        logger.info({ reason: (error as Error).message }, 'passkey registration did not verify');
        return 'invalid';
      }
      if (!verified.verified) return 'invalid';
      const { credential, credentialBackedUp } = verified.registrationInfo;
      try {
        await dataSource.transaction(async (manager) => {
          await manager.query(
            `INSERT INTO passkey (id, account_id, credential_id, public_key, sign_count, transports, backed_up, label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [randomUUID(), account.id, credential.id, Buffer.from(credential.publicKey), credential.counter, JSON.stringify(response.response.transports ?? []), credentialBackedUp, deviceLabel(userAgent).slice(0, 100)],
          );
          await audit.record('passkey.added', { accountId: account.id, ip: meta.ip, detail: { backedUp: credentialBackedUp } }, manager);
          await notifications.enqueue(manager, { template: 'sign-in-method-changed', to: account.email, data: { change: 'added', method: 'passkey' }, accountId: account.id });
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate';
        throw error;
      }
      return 'added';
    },

    async list(accountId) {
      const rows = await queryRows<{ id: string; label: string; backed_up: boolean; created_at: Date | string; last_used_at: Date | string | null }>(
        dataSource,
        `SELECT id, label, backed_up, created_at, last_used_at FROM passkey WHERE account_id = $1 ORDER BY created_at`,
        [accountId],
      );
      return rows.map((r) => ({ id: r.id, label: r.label, backedUp: r.backed_up, createdAt: new Date(r.created_at), lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null }));
    },

    async count(accountId) {
      const [row] = await queryRows<{ n: string | number }>(dataSource, `SELECT count(*) AS n FROM passkey WHERE account_id = $1`, [accountId]);
      return Number(row?.n ?? 0);
    },

    async remove(account, passkeyId, meta) {
      return dataSource.transaction(async (manager) => {
        const rows = await queryRows(manager, `DELETE FROM passkey WHERE id = $1 AND account_id = $2 RETURNING id`, [passkeyId, account.id]);
        if (rows.length === 0) return false;
        await audit.record('passkey.removed', { accountId: account.id, ip: meta.ip }, manager);
        await notifications.enqueue(manager, { template: 'sign-in-method-changed', to: account.email, data: { change: 'removed', method: 'passkey' }, accountId: account.id });
        return true;
      });
    },

    newChallenge() {
      return randomBytes(32).toString('base64url');
    },

    async authenticationOptions(challenge) {
      // As bytes: a string would be taken as UTF-8 and encoded again, and no longer match.
      return generateAuthenticationOptions({ rpID, challenge: new Uint8Array(Buffer.from(challenge, 'base64url')), userVerification: 'required', allowCredentials: [], timeout: CHALLENGE_SECONDS * 1000 });
    },

    async authenticate(challenge, response) {
      if (!isAuthenticationResponse(response)) return undefined;
      const [row] = await queryRows<PasskeyRow>(dataSource, `SELECT id, account_id, credential_id, public_key, sign_count, transports FROM passkey WHERE credential_id = $1`, [response.id]);
      if (!row) return undefined;
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
          credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.sign_count), transports: JSON.parse(row.transports) as AuthenticatorTransport[] },
        });
      } catch (error) {
        // Includes a counter that went backwards: a cloned authenticator (WebAuthn §6.1.1).
        logger.info({ reason: (error as Error).message }, 'passkey sign-in did not verify');
        return undefined;
      }
      if (!verified.verified) return undefined;
      // The user handle, when the authenticator gives one, must be the passkey's own account.
      const handle = response.response.userHandle ? Buffer.from(response.response.userHandle, 'base64url').toString('utf8') : row.account_id;
      if (handle !== row.account_id) return undefined;
      await dataSource.query(`UPDATE passkey SET sign_count = GREATEST(sign_count, $2), last_used_at = now() WHERE id = $1`, [row.id, verified.authenticationInfo.newCounter]);
      return { accountId: row.account_id };
    },
  };
}
