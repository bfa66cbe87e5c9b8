import type { Context, Middleware } from 'koa';
import type { Account } from '../../entities/account.js';

/** What the account router lends the route modules beside it: its guards and its way of answering. */
export interface AccountRouteKit {
  readonly requireSignIn: Middleware;
  readonly forms: Middleware;
  readonly checkForm: Middleware;
  /** False (and already redirected to re-authenticate) when the sign-in is older than 15 minutes. */
  recentlySignedIn(ctx: Context, returnTo: string): boolean;
  page(ctx: Context, template: string, data?: Record<string, unknown>, status?: number): void;
  redirect(ctx: Context, location: string): void;
  me(ctx: Context): { readonly account: Account; readonly binding: string };
  csrfToken(ctx: Context): string;
  formBody(ctx: Context): Record<string, unknown>;
}

