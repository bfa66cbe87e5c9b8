import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { RememberedDevice } from '../../entities/remembered-device.js';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';

/**
 * "Remember this device" (security-bar X2, B9; NHS login parity). A browser that has proven a
 * security code may skip the code on later sign-ins to the SAME account, reported as Cd. It never
 * replaces the password. The browser holds `id.secret` in a cookie; only the SHA-256 of the 256-bit
 * secret is stored, so a database reader cannot forge a cookie. Forgotten after config.ttl.rememberedDevice
 * unused (REMEMBERED_DEVICE_TTL_SECONDS; default 180 days, NHS login's 6 months).
 */


/** `__Host-` requires Secure, which a browser refuses on http://localhost, so development uses a plain name. */
export function deviceCookieName(issuer: string): string {
  return issuer.startsWith('https://') ? '__Host-carelogin-device' : 'carelogin-device';
}

/** The Set-Cookie header for a new device: HttpOnly, SameSite=Lax (sent on the relying party's redirect), Path=/. */
export function deviceCookieHeader(issuer: string, value: string, maxAgeSeconds: number): string {
  const secure = issuer.startsWith('https://') ? '; Secure' : '';
  return `${deviceCookieName(issuer)}=${value}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Lax${secure}`;
}

export interface DeviceSummary {
  readonly id: string;
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
}

export interface RememberedDevices {
  /** Remembers this browser for the account; returns the cookie value (`id.secret`), never stored. */
  remember(accountId: string, userAgent: string, manager?: EntityManager): Promise<{ id: string; cookieValue: string }>;
  /**
   * The device behind a cookie value, if it is live and belongs to `accountId`. Use it (lastUsedAt
   * now) only when `touch` is true. A device unused for 6 months is deleted and not recognised.
   * Inside a transaction pass its `manager` (on PGlite the data source would wait for it forever).
   */
  recognise(accountId: string, cookieValue: string | undefined, options?: { touch?: boolean; manager?: EntityManager }): Promise<boolean>;
  /** For the account area: live devices, newest use first. */
  listDevices(accountId: string): Promise<DeviceSummary[]>;
  /** Forgets one device of this account; false when there was none (or it is another account's). */
  removeDevice(accountId: string, id: string): Promise<boolean>;
  /** Forgets every device of the account (password reset, "sign out everywhere"); returns how many. */
  removeAllDevices(accountId: string, manager?: EntityManager): Promise<number>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** "Chrome on Linux": enough for a person to recognise their browser, nothing more from the user agent. */
export function deviceLabel(userAgent: string): string {
  const ua = userAgent ?? '';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /OPR\/|Opera/.test(ua)
      ? 'Opera'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /SamsungBrowser\//.test(ua)
          ? 'Samsung Internet'
          : /Chrome\/|CriOS\//.test(ua)
            ? 'Chrome'
            : /Safari\//.test(ua)
              ? 'Safari'
              : undefined;
  const system = /iPhone|iPad|iPod/.test(ua)
    ? 'iOS'
    : /Android/.test(ua)
      ? 'Android'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : undefined;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? (system ? `A browser on ${system}` : 'Unknown browser');
}

/** Splits `id.secret`; anything malformed is simply not a device. */
export function parseDeviceCookie(value: string | undefined): { id: string; secret: string } | null {
  if (typeof value !== 'string' || value.length > 100) return null;
  const [id, secret, extra] = value.split('.');
  if (extra !== undefined || !id || !secret || !UUID.test(id) || !SECRET.test(secret)) return null;
  return { id: id.toLowerCase(), secret };
}

export function createRememberedDevices(dataSource: DataSource, config: Pick<Config, 'ttl'>): RememberedDevices {
  const ttl = config.ttl.rememberedDevice;
  return {
    async remember(accountId, userAgent, manager) {
      const secret = randomBytes(32).toString('base64url');
      const repository = (manager ?? dataSource.manager).getRepository(RememberedDevice);
      const saved = await repository.save(repository.create({ accountId, secretHash: sha256(secret), label: deviceLabel(userAgent), lastUsedAt: new Date() }));
      return { id: saved.id, cookieValue: `${saved.id}.${secret}` };
    },

    async recognise(accountId, cookieValue, options = {}) {
      const parsed = parseDeviceCookie(cookieValue);
      if (!parsed) return false;
      const db = options.manager ?? dataSource;
      const rows: { account_id: string; secret_hash: string; expired: boolean }[] = await db.query(
        `SELECT account_id, secret_hash, (last_used_at <= now() - $2::int * interval '1 second') AS expired FROM remembered_device WHERE id = $1`,
        [parsed.id, ttl],
      );
      const row = rows[0];
      if (!row) return false;
      const expected = Buffer.from(row.secret_hash, 'hex');
      const actual = Buffer.from(sha256(parsed.secret), 'hex');
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return false;
      // Another account's device does nothing for this one, and is left alone for its owner.
      if (row.account_id !== accountId) return false;
      if (row.expired) {
        await db.query('DELETE FROM remembered_device WHERE id = $1', [parsed.id]);
        return false;
      }
      if (options.touch) {
        // The conditional UPDATE also refuses a device removed or expired a moment ago.
        const touched = await queryRows(
          db,
          `UPDATE remembered_device SET last_used_at = now() WHERE id = $1 AND account_id = $2 AND last_used_at > now() - $3::int * interval '1 second' RETURNING id`,
          [parsed.id, accountId, ttl],
        );
        return touched.length === 1;
      }
      return true;
    },

    async listDevices(accountId) {
      if (!UUID.test(accountId)) return [];
      const rows: { id: string; label: string; created_at: Date | string; last_used_at: Date | string }[] = await dataSource.query(
        `SELECT id, label, created_at, last_used_at FROM remembered_device
         WHERE account_id = $1 AND last_used_at > now() - $2::int * interval '1 second' ORDER BY last_used_at DESC, id`,
        [accountId, ttl],
      );
      return rows.map((r) => ({ id: r.id, label: r.label, createdAt: new Date(r.created_at), lastUsedAt: new Date(r.last_used_at) }));
    },

    async removeDevice(accountId, id) {
      if (!UUID.test(accountId) || !UUID.test(id)) return false;
      const result = await dataSource.createQueryBuilder().delete().from(RememberedDevice).where('id = :id AND account_id = :accountId', { id, accountId }).execute();
      return (result.affected ?? 0) > 0;
    },

    async removeAllDevices(accountId, manager) {
      const result = await (manager ?? dataSource.manager).createQueryBuilder().delete().from(RememberedDevice).where('account_id = :accountId', { accountId }).execute();
      return result.affected ?? 0;
    },
  };
}
