import { authenticatorCodeMethod } from './authenticator-code/index.js';
import { changeMobileCodeMethod } from './change-mobile-code/index.js';
import { changeMobileEmailCodeMethod } from './change-mobile-email-code/index.js';
import { changeMobileNumberMethod } from './change-mobile-number/index.js';
import { confirmEmailMethod } from './confirm-email/index.js';
import { confirmMobileMethod } from './confirm-mobile/index.js';
import { demographicsMatchMethod } from './demographics-match/index.js';
import { emailMethod } from './email/index.js';
import { gpLinkageMethod } from './gp-linkage/index.js';
import { mobileChangeHeldMethod } from './mobile-change-held/index.js';
import { mobileNumberMethod } from './mobile-number/index.js';
import { newAccountMethod } from './new-account/index.js';
import { passkeyMethod } from './passkey/index.js';
import { passwordMethod } from './password/index.js';
import { newRecoveryCodesMethod } from './new-recovery-codes/index.js';
import { photoIdMethod } from './photo-id/index.js';
import { setUpAuthenticatorAppMethod } from './set-up-authenticator-app/index.js';
import { recoveryCodeMethod } from './recovery-code/index.js';
import { smsCodeMethod } from './sms-code/index.js';
import type { AuthMethod } from './types.js';

/**
 * Every authentication method, listed explicitly (like Kratos' registry_default.go): adding one
 * is a folder under interactions/methods and one line here. Journeys refer to methods by id;
 * journey-lint.test.ts fails if a journey names a method that is not listed.
 */
export const METHODS = [emailMethod, passwordMethod, smsCodeMethod, authenticatorCodeMethod, passkeyMethod, recoveryCodeMethod, newRecoveryCodesMethod, changeMobileEmailCodeMethod, changeMobileNumberMethod, changeMobileCodeMethod, mobileChangeHeldMethod, newAccountMethod, confirmEmailMethod, mobileNumberMethod, confirmMobileMethod, demographicsMatchMethod, gpLinkageMethod, photoIdMethod, setUpAuthenticatorAppMethod] as const satisfies readonly AuthMethod[];

export type MethodId = (typeof METHODS)[number]['id'];

const BY_ID: ReadonlyMap<string, AuthMethod> = new Map(METHODS.map((method) => [method.id, method]));

export function findMethod(id: string): AuthMethod | undefined {
  return BY_ID.get(id);
}
