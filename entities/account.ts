import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type ProofingLevel = 'P0' | 'P5' | 'P9';

export type BackOfficeRole = 'reviewer' | 'support';

/** A patient's account. `id` is the OIDC `sub`: a UUID, the same for every relying party, never reassigned. */
@Entity({ name: 'account' })
// An authenticator app is whole or absent: never a secret without its date, or the reverse.
@Check('account_authenticator_whole', '(authenticator_secret IS NULL) = (authenticator_added_at IS NULL)')
@Check('account_back_office_role', "back_office_role IS NULL OR back_office_role IN ('reviewer', 'support')")
// One account per NHS number (identity checks stop at a patient linked to another account).
@Index('account_nhs_number_unique', ['nhsNumber'], { unique: true, where: 'nhs_number IS NOT NULL' })
// The register sync's queue (decisions D32): proofed accounts, oldest check first.
@Index('ix_account_register_sync', ['demographicsCheckedAt'], { where: 'nhs_number IS NOT NULL' })
export class Account {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** As the patient typed it (trimmed), for display and for sending. */
  @Column({ type: 'varchar', length: 320 })
  email!: string;

  /** Lower-cased, NFC-normalised and trimmed: the unique key that stops duplicate accounts. */
  @Column({ name: 'email_normalised', type: 'varchar', length: 320, unique: true })
  emailNormalised!: string;

  @Column({ name: 'email_verified_at', type: 'timestamptz', nullable: true })
  emailVerifiedAt!: Date | null;

  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash!: string | null;

  /** E.164, UK mobiles only. */
  @Column({ name: 'mobile_number', type: 'varchar', length: 20, nullable: true })
  mobileNumber!: string | null;

  @Column({ name: 'mobile_verified_at', type: 'timestamptz', nullable: true })
  mobileVerifiedAt!: Date | null;

  /** E.164. NHS login's `landline` scope releases it; no page adds one yet (personas carry one). */
  @Column({ name: 'landline_number', type: 'varchar', length: 20, nullable: true })
  landlineNumber!: string | null;

  @Column({ name: 'landline_verified_at', type: 'timestamptz', nullable: true })
  landlineVerifiedAt!: Date | null;

  @Column({ name: 'phone_number_pds_matched', type: 'boolean', default: false })
  phoneNumberPdsMatched!: boolean;

  @Column({ name: 'proofing_level', type: 'varchar', length: 2, default: 'P0' })
  proofingLevel!: ProofingLevel;

  @Column({ name: 'nhs_number', type: 'varchar', length: 10, nullable: true })
  nhsNumber!: string | null;

  @Column({ name: 'given_name', type: 'varchar', length: 200, nullable: true })
  givenName!: string | null;

  @Column({ name: 'family_name', type: 'varchar', length: 200, nullable: true })
  familyName!: string | null;

  @Column({ name: 'birthdate', type: 'date', nullable: true })
  birthdate!: string | null;

  @Column({ name: 'postcode', type: 'varchar', length: 10, nullable: true })
  postcode!: string | null;

  /** When the details above were last read from the patient register (a check, or the register sync, D32). */
  @Column({ name: 'demographics_checked_at', type: 'timestamptz', nullable: true })
  demographicsCheckedAt!: Date | null;

  @Column({ name: 'gp_ods_code', type: 'varchar', length: 10, nullable: true })
  gpOdsCode!: string | null;

  /** GP online (IM1) credentials, released only at P9 with the gp_integration_credentials scope. */
  @Column({ name: 'gp_user_id', type: 'varchar', length: 64, nullable: true })
  gpUserId!: string | null;

  @Column({ name: 'gp_linkage_key', type: 'varchar', length: 64, nullable: true })
  gpLinkageKey!: string | null;

  @Column({ name: 'terms_version', type: 'varchar', length: 20, nullable: true })
  termsVersion!: string | null;

  @Column({ name: 'terms_accepted_at', type: 'timestamptz', nullable: true })
  termsAcceptedAt!: Date | null;

  /**
   * Test data: a seeded persona's key, or a test user's mark (src/accounts/personas.ts, D27). Production
   * refuses a database holding any; personas and test users made with --fixed-code may use the fixed code.
   */
  @Column({ name: 'test_persona', type: 'varchar', length: 40, nullable: true })
  testPersona!: string | null;

  /**
   * The authenticator app (Ck): its TOTP secret, sealed for this account (never stored or logged in
   * the clear), when it was added, and the last 30-second step a code was accepted for (X5: once).
   */
  @Column({ name: 'authenticator_secret', type: 'text', nullable: true })
  authenticatorSecret!: string | null;

  @Column({ name: 'authenticator_added_at', type: 'timestamptz', nullable: true })
  authenticatorAddedAt!: Date | null;

  @Column({ name: 'authenticator_last_step', type: 'integer', nullable: true })
  authenticatorLastStep!: number | null;

  /**
   * Saved recovery codes (entities/recovery-code.ts): how many of the current set are unused, kept
   * with the account so a sign-in knows whether to offer them without another query, and when the
   * set was made (null: none). Changed only in the transactions that change recovery_code rows.
   */
  @Column({ name: 'recovery_codes_left', type: 'integer', default: 0 })
  recoveryCodesLeft!: number;

  @Column({ name: 'recovery_codes_created_at', type: 'timestamptz', nullable: true })
  recoveryCodesCreatedAt!: Date | null;

  /**
   * The security stamp: set by "sign out everywhere", a password change and a password reset. Only a
   * sign-in in a later second than this counts (src/accounts/sessions-valid-after.ts).
   */
  @Column({ name: 'sessions_valid_after', type: 'timestamptz', nullable: true })
  sessionsValidAfter!: Date | null;

  /**
   * Back-office access (src/back-office): null for patients; 'reviewer' may decide identity check
   * cases; 'support' may find accounts, lift their locks, disable and re-enable them.
   */
  @Column({ name: 'back_office_role', type: 'varchar', length: 20, nullable: true })
  backOfficeRole!: BackOfficeRole | null;

  @Column({ type: 'varchar', length: 12, default: 'active' })
  status!: 'active' | 'disabled';

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** The one normalisation used for uniqueness and look-up. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}
