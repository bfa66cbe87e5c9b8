import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A passkey (WebAuthn discoverable credential; the `Cm` credential, amr `hwk`). A person may have
 * several (a phone, a laptop, a security key). Only the public key is stored: the private key never
 * leaves the person's device or their password manager.
 */
@Entity({ name: 'passkey' })
@Index('ix_passkey_account', ['accountId'])
export class Passkey {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  /** The credential id the authenticator chose, base64url; what a sign-in names. */
  @Column({ name: 'credential_id', type: 'varchar', length: 1400, unique: true })
  credentialId!: string;

  /** COSE public key. */
  @Column({ name: 'public_key', type: 'bytea' })
  publicKey!: Buffer;

  /** The signature counter last seen (0 for most synced passkeys, which do not count). */
  @Column({ name: 'sign_count', type: 'bigint', default: 0 })
  signCount!: string;

  /** JSON array of the transports the browser reported, given back to it at sign-in. */
  @Column({ type: 'varchar', length: 200, default: '[]' })
  transports!: string;

  /** Synced to a password manager or cloud account (backup state) when it was created. */
  @Column({ name: 'backed_up', type: 'boolean' })
  backedUp!: boolean;

  /** "Chrome on Linux": from the user agent that created it, so a person can tell them apart. */
  @Column({ type: 'varchar', length: 100 })
  label!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
