import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A WebAuthn authenticator in software, for HTTP-level tests: it answers the options carelogin's
 * pages carry the way a browser and a platform authenticator would (ES256, "none" attestation, user
 * present and verified), so the real @simplewebauthn/server checks run against real signatures.
 * Browser tests use Chromium's own virtual authenticator instead.
 */

interface StoredCredential {
  readonly privateKey: KeyObject;
  readonly rpId: string;
  readonly userHandle: string;
  counter: number;
}

interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}

interface RequestOptions {
  challenge: string;
  rpId?: string;
}

const b64url = (bytes: Buffer | Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();

export class SoftwareAuthenticator {
  private readonly credentials = new Map<string, StoredCredential>();

  /** `counting`: a security key that increments its signature counter (most synced passkeys send 0). */
  constructor(private readonly origin: string, private options: { counting?: boolean; userVerified?: boolean } = {}) {}

  /** From now on, answer with (or without) user verification, as an authenticator with no PIN or biometric set would. */
  verifyUser(verified: boolean): void {
    this.options = { ...this.options, userVerified: verified };
  }

  /** The answer to navigator.credentials.create(options), as @simplewebauthn/browser's startRegistration gives it. */
  register(options: CreationOptions): Record<string, unknown> {
    const rpId = options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]));
    const credentialId = randomBytes(32);
    const id = b64url(credentialId);
    this.credentials.set(id, { privateKey, rpId, userHandle: options.user.id, counter: 0 });
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    // Flags: user present, user verified (unless told otherwise), attested credential data.
    const authData = Buffer.concat([sha256(rpId), Buffer.of(0x41 | (this.options.userVerified === false ? 0 : 0x04)), Buffer.alloc(4), Buffer.alloc(16), idLength, credentialId, Buffer.from(cose)]);
    const attestation = new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]);
    const attestationObject = isoCBOR.encode(attestation as Parameters<typeof isoCBOR.encode>[0]);
    const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.origin, crossOrigin: false });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(Buffer.from(clientDataJSON)), attestationObject: b64url(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** The answer to navigator.credentials.get(options) with this authenticator's passkey (the first, or `credentialId`). */
  authenticate(options: RequestOptions, credentialId?: string, overrides: { origin?: string } = {}): Record<string, unknown> {
    const id = credentialId ?? [...this.credentials.keys()][0];
    const credential = id ? this.credentials.get(id) : undefined;
    if (!id || !credential) throw new Error('the software authenticator holds no such passkey');
    if (this.options.counting) credential.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(credential.counter);
    const authData = Buffer.concat([sha256(options.rpId ?? credential.rpId), Buffer.of(0x01 | (this.options.userVerified === false ? 0 : 0x04)), counter]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: credential.userHandle },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** Sets a passkey's counter, to play a cloned authenticator. */
  setCounter(credentialId: string, value: number): void {
    this.credentials.get(credentialId)!.counter = value;
  }
}
