/** Changes to sign-in details need a sign-in no older than this (security-bar "Sessions"; ASVS 7.5.1). */
export const REAUTH_WINDOW_SECONDS = 15 * 60;
