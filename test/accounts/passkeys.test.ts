import { expect } from 'chai';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { createAccount } from '../interactions/support.js';

/** The passkey service against @simplewebauthn/server's real checks, with a software authenticator. */
describe('passkeys (WebAuthn, Cm)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function registered(options: { counting?: boolean } = {}) {
    const account = await createAccount(test);
    const authenticator = new SoftwareAuthenticator(new URL(test.url).origin, options);
    const passkeys = test.idp.services.passkeys;
    const { options: creation, token } = await passkeys.registrationOptions(account, 'session-1');
    const response = authenticator.register(creation as never);
    expect(await passkeys.register(account, 'session-1', token, response, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36', { ip: '127.0.0.1' })).to.equal('added');
    return { account, authenticator, passkeys, credentialId: response.id as string };
  }

  it('registers a passkey with user verification required, and lists it by its browser', async () => {
    const { account, passkeys } = await registered();
    const [listed] = await passkeys.list(account.id);
    expect(listed).to.include({ label: 'Chrome on Linux', backedUp: false });
    expect(await passkeys.count(account.id)).to.equal(1);
  });

  it('signs in the passkey\'s own account with a fresh challenge, and refuses a signature over another challenge', async () => {
    const { account, authenticator, passkeys } = await registered();
    const challenge = passkeys.newChallenge();
    const options = await passkeys.authenticationOptions(challenge);
    expect(options).to.include({ userVerification: 'required' });
    expect(options.allowCredentials ?? []).to.deep.equal([]);
    expect(await passkeys.authenticate(challenge, authenticator.authenticate(options))).to.deep.equal({ accountId: account.id });
    expect(await passkeys.authenticate(passkeys.newChallenge(), authenticator.authenticate(options))).to.equal(undefined);
  });

  it('refuses another origin, a passkey it does not know, a response of the wrong shape, and one without user verification', async () => {
    const { authenticator, passkeys } = await registered();
    const challenge = passkeys.newChallenge();
    const options = await passkeys.authenticationOptions(challenge);
    expect(await passkeys.authenticate(challenge, authenticator.authenticate(options, undefined, { origin: 'https://evil.example' }))).to.equal(undefined);
    const stranger = new SoftwareAuthenticator(new URL(test.url).origin);
    stranger.register({ challenge: 'x', rp: {}, user: { id: 'eA' } });
    expect(await passkeys.authenticate(challenge, stranger.authenticate(options))).to.equal(undefined);
    expect(await passkeys.authenticate(challenge, { id: 'x' })).to.equal(undefined);
    expect(await passkeys.authenticate(challenge, 'nonsense')).to.equal(undefined);
    const unverified = new SoftwareAuthenticator(new URL(test.url).origin, { userVerified: false });
    const account = await createAccount(test);
    const { options: creation, token } = await passkeys.registrationOptions(account, 's');
    expect(await passkeys.register(account, 's', token, unverified.register(creation as never), 'UA', { ip: '127.0.0.1' })).to.equal('invalid');
  });

  it('refuses a counter that goes backwards (a cloned security key)', async () => {
    const { authenticator, passkeys, credentialId } = await registered({ counting: true });
    const first = passkeys.newChallenge();
    expect(await passkeys.authenticate(first, authenticator.authenticate(await passkeys.authenticationOptions(first)))).to.not.equal(undefined);
    authenticator.setCounter(credentialId, 0);
    const second = passkeys.newChallenge();
    expect(await passkeys.authenticate(second, authenticator.authenticate(await passkeys.authenticationOptions(second)))).to.equal(undefined);
  });

  it('a registration token opens only for its account and sign-in', async () => {
    const account = await createAccount(test);
    const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
    const passkeys = test.idp.services.passkeys;
    const { options, token } = await passkeys.registrationOptions(account, 'session-1');
    expect(await passkeys.register(account, 'session-2', token, authenticator.register(options as never), 'UA', { ip: '127.0.0.1' })).to.equal('expired');
    expect(await passkeys.count(account.id)).to.equal(0);
  });

  it('removes only the owner\'s passkey', async () => {
    const { account, passkeys } = await registered();
    const other = await createAccount(test);
    const [listed] = await passkeys.list(account.id);
    expect(await passkeys.remove(other, listed!.id, { ip: '127.0.0.1' })).to.equal(false);
    expect(await passkeys.remove(account, listed!.id, { ip: '127.0.0.1' })).to.equal(true);
    expect(await passkeys.count(account.id)).to.equal(0);
  });
});
