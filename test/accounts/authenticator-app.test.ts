import { expect } from 'chai';
import { generate, generateSecret } from 'otplib';
import { groupedSecret, matchingStep, SETUP_SECONDS, TOTP_PERIOD_SECONDS } from '../../src/accounts/authenticator-app.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('authenticator app codes (RFC 6238, security-bar X5)', () => {
  const secret = generateSecret();
  // The middle of a step, so ±30 s stays in the neighbouring steps.
  const now = 1_800_000_015;
  const step = Math.floor(now / TOTP_PERIOD_SECONDS);

  it('matches the code of this step and of one step either side, and says which step', async () => {
    expect(await matchingStep(secret, await generate({ secret, epoch: now }), now)).to.equal(step);
    expect(await matchingStep(secret, await generate({ secret, epoch: now - 30 }), now)).to.equal(step - 1);
    expect(await matchingStep(secret, await generate({ secret, epoch: now + 30 }), now)).to.equal(step + 1);
  });

  it('refuses codes two steps away, malformed codes, and another secret\'s code', async () => {
    expect(await matchingStep(secret, await generate({ secret, epoch: now - 60 }), now)).to.equal(undefined);
    expect(await matchingStep(secret, await generate({ secret, epoch: now + 60 }), now)).to.equal(undefined);
    expect(await matchingStep(secret, '12345', now)).to.equal(undefined);
    expect(await matchingStep(secret, 'abcdef', now)).to.equal(undefined);
    expect(await matchingStep(generateSecret(), await generate({ secret, epoch: now }), now)).to.equal(undefined);
  });

  it('refuses a step at or before the last one accepted (once only)', async () => {
    const code = await generate({ secret, epoch: now });
    expect(await matchingStep(secret, code, now, step)).to.equal(undefined);
    expect(await matchingStep(secret, code, now, step - 1)).to.equal(step);
  });

  it('shows the secret in groups of four', () => {
    expect(groupedSecret('ABCDEFGHIJKLMNOP')).to.equal('ABCD EFGH IJKL MNOP');
    expect(groupedSecret('ABCDEF')).to.equal('ABCD EF');
  });
});

describe('authenticator app setup tokens', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('carry a new 160-bit secret, open only for their account and sign-in, and run out after 30 minutes', () => {
    const apps = test.idp.services.authenticatorApps;
    const then = 1_800_000_000;
    const { secret, token } = apps.begin('account-a', 'session-1', then);
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    expect(token).to.not.contain(secret);
    expect(apps.pending(token, 'account-a', 'session-1', then + 10)).to.equal(secret);
    expect(apps.pending(token, 'account-b', 'session-1', then + 10)).to.equal(undefined);
    expect(apps.pending(token, 'account-a', 'session-2', then + 10)).to.equal(undefined);
    expect(apps.pending(token, 'account-a', 'session-1', then + SETUP_SECONDS)).to.equal(undefined);
    // A character inside the ciphertext.
    const altered = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    expect(apps.pending(altered, 'account-a', 'session-1', then + 10)).to.equal(undefined);
    expect(apps.begin('account-a', 'session-1', then).secret).to.not.equal(secret);
  });

  it('make an otpauth URI an app understands, and a QR code of a fixed size', () => {
    const { uri, qrSvg } = test.idp.services.authenticatorApps.enrolment('JBSWY3DPEHPK3PXP', 'patient@example.test');
    const parsed = new URL(uri);
    expect(parsed.protocol).to.equal('otpauth:');
    expect(parsed.searchParams.get('secret')).to.equal('JBSWY3DPEHPK3PXP');
    expect(parsed.searchParams.get('issuer')).to.equal('carelogin');
    expect(qrSvg).to.match(/^<svg width="220" height="220" focusable="false" aria-hidden="true" /);
  });
});
