import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ProofingLevel } from './account.js';

/**
 * A test user made on request (`npm run test-users`, /dev/test-users; docs/personas.md "Your own
 * test users", decisions D27): the details it was made with, kept beside its account (whose
 * test_persona marks it as test data). `reset` puts the account back to these; the fake patient
 * register and the fake GP system know the patient when `in_register` is set. Development and test
 * only: production refuses to start on a database holding test users' accounts (A8).
 */
@Entity({ name: 'test_user' })
// One patient per NHS number, across test users (the register must never hold two).
@Index('test_user_nhs_number_unique', ['nhsNumber'], { unique: true })
@Check('test_user_level', "level IN ('P0', 'P5', 'P9')")
// GP online credentials are whole or absent.
@Check('test_user_gp_online_whole', '(gp_user_id IS NULL) = (gp_linkage_key IS NULL)')
export class TestUser {
  /** The account's id: one test user per account. */
  @PrimaryColumn({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  /** The proofing level it was made at (what `reset` goes back to). */
  @Column({ type: 'varchar', length: 2 })
  level!: ProofingLevel;

  @Column({ name: 'nhs_number', type: 'varchar', length: 10 })
  nhsNumber!: string;

  /** Given names in order, separated by spaces; the first is the one the register matches on. */
  @Column({ name: 'given_name', type: 'varchar', length: 200 })
  givenName!: string;

  @Column({ name: 'family_name', type: 'varchar', length: 200 })
  familyName!: string;

  @Column({ type: 'date' })
  birthdate!: string;

  @Column({ type: 'varchar', length: 10 })
  postcode!: string;

  @Column({ name: 'gp_ods_code', type: 'varchar', length: 10 })
  gpOdsCode!: string;

  /** GP online (IM1) account ID and linkage key, as a surgery's letter gives them; absent without GP online. */
  @Column({ name: 'gp_user_id', type: 'varchar', length: 64, nullable: true })
  gpUserId!: string | null;

  @Column({ name: 'gp_linkage_key', type: 'varchar', length: 64, nullable: true })
  gpLinkageKey!: string | null;

  /** E.164, as made. */
  @Column({ name: 'mobile_number', type: 'varchar', length: 20 })
  mobileNumber!: string;

  @Column({ name: 'phone_number_pds_matched', type: 'boolean', default: false })
  phoneNumberPdsMatched!: boolean;

  /** The hash of the password it was made with, so `reset` can put it back after a change. */
  @Column({ name: 'password_hash', type: 'text' })
  passwordHash!: string;

  /** The fake register (and fake GP system) know this patient: always at P5 and P9, by choice at P0. */
  @Column({ name: 'in_register', type: 'boolean', default: false })
  inRegister!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
