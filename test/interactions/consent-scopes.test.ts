import { expect } from 'chai';
import { describeSharing } from '../../interactions/consent/scopes.js';

describe('consent page: what will be shared', () => {
  it('describes NHS login scopes in plain English', () => {
    expect(describeSharing(['openid'])).to.deep.equal(['a unique identifier for your account']);
    expect(describeSharing(['profile'])).to.deep.equal(['your NHS number', 'your surname', 'your date of birth']);
    expect(describeSharing(['basic_demographics'])).to.deep.equal(['your surname', 'your date of birth']);
    expect(describeSharing(['profile_extended'])).to.deep.equal(['your first name']);
    expect(describeSharing(['email'])).to.deep.equal(['your email address']);
    expect(describeSharing(['phone'])).to.deep.equal(['your mobile phone number']);
    expect(describeSharing(['gp_registration_details'])).to.deep.equal(['your GP practice']);
    expect(describeSharing(['gp_integration_credentials'])).to.deep.equal(['your GP online services details']);
  });

  it('lists each item once, in a fixed order, whatever order the scopes came in', () => {
    expect(describeSharing(['email', 'basic_demographics', 'openid', 'profile', 'profile_extended'])).to.deep.equal([
      'a unique identifier for your account',
      'your NHS number',
      'your first name',
      'your surname',
      'your date of birth',
      'your email address',
    ]);
  });

  it('adds individually requested claims and ignores names it does not know', () => {
    expect(describeSharing(['openid', 'made_up_scope', 'constructor'], ['phone_number', 'unknown_claim', '__proto__'])).to.deep.equal([
      'a unique identifier for your account',
      'your mobile phone number',
    ]);
  });
});
