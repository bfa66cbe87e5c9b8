import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const credentials = { email: p9.email, password: p9.password, code: '190696' };
const DAY = 86_400;

/** Refresh tokens have an absolute lifetime from the code exchange; rotation never extends it (security-bar D11; decisions X6). */
describe('refresh token lifetime', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => test.close());

  async function liveRefreshToken(accountId: string): Promise<{ id: string; expiresAt: number; exp: number }> {
    const rows: { id: string; expires_at: Date | string; exp: string }[] = await test.idp.db.dataSource.query(
      `SELECT id, expires_at, payload->>'exp' AS exp FROM oidc_model WHERE model = 'RefreshToken' AND payload->>'accountId' = $1 AND consumed_at IS NULL`,
      [accountId],
    );
    expect(rows).to.have.length(1);
    return { id: rows[0]!.id, expiresAt: Math.floor(new Date(rows[0]!.expires_at).getTime() / 1000), exp: Number(rows[0]!.exp) };
  }

  it('a rotated refresh token expires when the one it replaces would have, not 30 days after the refresh', async () => {
    const signedIn = await signIn(test, credentials);
    const first = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    const accountId = first.claims()!.sub;
    const issued = await liveRefreshToken(accountId);
    expect(issued.exp - Math.floor(Date.now() / 1000)).to.be.closeTo(test.idp.config.ttl.refreshToken, 5);
    // As if issued 29 days ago: one day left.
    const exp = Math.floor(Date.now() / 1000) + DAY;
    await test.idp.db.dataSource.query(
      `UPDATE oidc_model SET expires_at = to_timestamp($2), payload = payload || jsonb_build_object('exp', $2::bigint, 'iat', $2::bigint - $3::bigint) WHERE model = 'RefreshToken' AND id = $1`,
      [issued.id, exp, test.idp.config.ttl.refreshToken],
    );

    const second = await oidc.refreshTokenGrant(await test.rp.configuration(), first.refresh_token!);
    expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
    const rotated = await liveRefreshToken(accountId);
    expect(rotated.exp).to.be.closeTo(exp, 2);
    expect(rotated.expiresAt).to.be.closeTo(exp, 2);
  });
});
