import { Account } from './account.js';
import { AttemptCounter } from './attempt-counter.js';
import { AuditEvent } from './audit-event.js';
import { ClientUserMetadata } from './client-user-metadata.js';
import { IdentityCheckCase } from './identity-check-case.js';
import { IdentityEvidence } from './identity-evidence.js';
import { JourneyState } from './journey-state.js';
import { MobileChange } from './mobile-change.js';
import { OidcModel } from './oidc-model.js';
import { OutboxMessage } from './outbox-message.js';
import { Passkey } from './passkey.js';
import { RecoveryCode } from './recovery-code.js';
import { PasswordResetToken } from './password-reset-token.js';
import { RememberedDevice } from './remembered-device.js';
import { SecurityCode } from './security-code.js';
import { TestUser } from './test-user.js';

export { Account, AttemptCounter, AuditEvent, ClientUserMetadata, IdentityCheckCase, IdentityEvidence, JourneyState, MobileChange, OidcModel, OutboxMessage, Passkey, PasswordResetToken, RecoveryCode, RememberedDevice, SecurityCode, TestUser };
export { normaliseEmail, type ProofingLevel } from './account.js';

export const ENTITIES = [Account, AttemptCounter, AuditEvent, ClientUserMetadata, IdentityCheckCase, IdentityEvidence, JourneyState, MobileChange, OidcModel, OutboxMessage, Passkey, PasswordResetToken, RecoveryCode, RememberedDevice, SecurityCode, TestUser];
