import { Initial1795000000000 } from './1795000000000-initial.js';
import { PasswordResetToken1795100000000 } from './1795100000000-password-reset-token.js';
import { OidcModelAccountIndex1795200000000 } from './1795200000000-oidc-model-account-index.js';
import { AccountSessionsValidAfter1795300000000 } from './1795300000000-account-sessions-valid-after.js';
import { LandlineAndClientMetadata1795400000000 } from './1795400000000-landline-and-client-metadata.js';
import { MobileChange1795500000000 } from './1795500000000-mobile-change.js';
import { AuditAppendOnly1795600000000 } from './1795600000000-audit-append-only.js';
import { AuthenticatorApp1795700000000 } from './1795700000000-authenticator-app.js';
import { OutboxBackchannelLogout1795800000000 } from './1795800000000-outbox-backchannel-logout.js';
import { Passkey1795900000000 } from './1795900000000-passkey.js';
import { AccountNhsNumberUnique1796000000000 } from './1796000000000-account-nhs-number-unique.js';
import { PhotoIdCases1796100000000 } from './1796100000000-photo-id-cases.js';
import { RecoveryCodes1796200000000 } from './1796200000000-recovery-codes.js';
import { IdentityEvidenceRetention1796300000000 } from './1796300000000-identity-evidence-retention.js';
import { BackOfficeQueue1796400000000 } from './1796400000000-back-office-queue.js';
import { BackOfficeSupportRole1796600000000 } from './1796600000000-back-office-support-role.js';
import { TestUsers1796800000000 } from './1796800000000-test-users.js';
import { CaseHandOver1796900000000 } from './1796900000000-case-hand-over.js';
import { SecurityCodeUndelivered1797000000000 } from './1797000000000-security-code-undelivered.js';
import { RegisterSync1797200000000 } from './1797200000000-register-sync.js';

/** Every migration, oldest first. Add new ones at the end; never edit one that has shipped. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: Function[] = [Initial1795000000000, PasswordResetToken1795100000000, OidcModelAccountIndex1795200000000, AccountSessionsValidAfter1795300000000, LandlineAndClientMetadata1795400000000, MobileChange1795500000000, AuditAppendOnly1795600000000, AuthenticatorApp1795700000000, OutboxBackchannelLogout1795800000000, Passkey1795900000000, AccountNhsNumberUnique1796000000000, PhotoIdCases1796100000000, RecoveryCodes1796200000000, IdentityEvidenceRetention1796300000000, BackOfficeQueue1796400000000, BackOfficeSupportRole1796600000000, TestUsers1796800000000, CaseHandOver1796900000000, SecurityCodeUndelivered1797000000000, RegisterSync1797200000000];
