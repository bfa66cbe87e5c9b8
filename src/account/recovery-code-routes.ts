import type Router from '@koa/router';
import type { Context } from 'koa';
import { groupedRecoveryCode, RECOVERY_CODE_COUNT } from '../accounts/recovery-codes.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import type { AppServices } from '../services.js';
import { nhsDate } from '../web/dates.js';
import type { AccountRouteKit } from './route-kit.js';

const PATH = '/recovery-codes';
const TURN_OFF_PATH = '/turn-off-recovery-codes';

/** At or below this many unused codes, the overview asks for a new set (NIST §4.2.1.1: replace what was used). */
export const FEW_RECOVERY_CODES = 3;

/**
 * Your account's recovery codes (B7, decisions D21): get a set, get a new set (every old code stops
 * working at once), turn them off. Each needs a sign-in from the last 15 minutes (A7), as every
 * change to how a person signs in does, and each is told to the owner by email and, with a verified
 * mobile, by text message (src/accounts/recovery-codes.ts).
 *
 * Offered once the account has an authenticator app or a passkey: recovery codes stand in for a
 * lost app, phone or passkey, and an account with only a mobile already has the email route for a
 * lost phone (X1). A new set is shown in the answer to its POST and never again.
 */
export function addRecoveryCodeRoutes(router: Router, services: AppServices, kit: AccountRouteKit): void {
  const { recoveryCodes, passkeys, counters } = services;
  const { requireSignIn, forms, checkForm, recentlySignedIn, page, redirect, me, csrfToken } = kit;

  /** Recovery codes are offered to an account with an authenticator app or a passkey. */
  async function eligible(ctx: Context): Promise<boolean> {
    const { account } = me(ctx);
    return account.authenticatorAddedAt !== null || (await passkeys.count(account.id)) > 0;
  }

  router.get(PATH, requireSignIn, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${PATH}`)) return;
    const { account } = me(ctx);
    page(ctx, 'recovery-codes', {
      title: 'Recovery codes',
      eligible: await eligible(ctx),
      hasCodes: account.recoveryCodesCreatedAt !== null,
      left: account.recoveryCodesLeft,
      total: RECOVERY_CODE_COUNT,
      createdOn: account.recoveryCodesCreatedAt ? nhsDate(account.recoveryCodesCreatedAt) : undefined,
      turnedOff: account.recoveryCodesCreatedAt !== null && (await counters.status(lockoutKeys.recoveryCode(account.id))).disabled,
      csrfToken: csrfToken(ctx),
    });
  });

  router.post(PATH, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${PATH}`)) return;
    if (!(await eligible(ctx))) return redirect(ctx, `/account${PATH}`);
    const { account } = me(ctx);
    const codes = await recoveryCodes.generate(account, { ip: ctx.ip });
    // Shown in this answer only (no-store, like every account page): never kept in the clear.
    page(ctx, 'new-recovery-codes', { title: 'Save your recovery codes', codes: codes.map(groupedRecoveryCode) });
  });

  router.get(TURN_OFF_PATH, requireSignIn, (ctx) => {
    if (!recentlySignedIn(ctx, `/account${TURN_OFF_PATH}`)) return;
    if (me(ctx).account.recoveryCodesCreatedAt === null) return redirect(ctx, '/account');
    page(ctx, 'turn-off-recovery-codes', { title: 'Turn off recovery codes', csrfToken: csrfToken(ctx) });
  });

  router.post(TURN_OFF_PATH, requireSignIn, forms, checkForm, async (ctx) => {
    if (!recentlySignedIn(ctx, `/account${TURN_OFF_PATH}`)) return;
    // Already off (a double click, another tab): the outcome the person wanted.
    await recoveryCodes.turnOff(me(ctx).account, { ip: ctx.ip });
    redirect(ctx, '/account?done=recovery-codes-turned-off');
  });
}
