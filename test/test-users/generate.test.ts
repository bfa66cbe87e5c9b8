import { expect } from 'chai';
import { isTestNhsNumber, isValidNhsNumber } from '../../src/accounts/nhs-number.js';
import { parseUkMobile } from '../../src/accounts/uk-mobile.js';
import { parseTestUsersArgs, TestUsersUsageError } from '../../src/cli/test-users.js';
import { isDramaMobile, randomBirthdate, randomDramaMobile, randomGpOdsCode, randomGpOnlineCredentials, randomTestNhsNumber, unusedDramaMobile, unusedTestNhsNumber } from '../../src/test-users/generate.js';
import { parseTestUserRequest, TestUserRequestError } from '../../src/test-users/request.js';
import { requestFromForm } from '../../src/test-users/router.js';

describe('test users: generated details, the request and the command line', () => {
  it('NHS numbers are checksum-valid, from the 999 test range, and skip draws with no valid check digit', () => {
    for (let i = 0; i < 500; i++) {
      const number = randomTestNhsNumber();
      expect(isValidNhsNumber(number), number).to.equal(true);
      expect(isTestNhsNumber(number), number).to.equal(true);
    }
    // 999000014 has no valid check digit (it would be 10): that draw is skipped and the next one used.
    const draws = [14, 8];
    expect(randomTestNhsNumber(() => draws.shift()!)).to.equal('9990000085');
  });

  it('an unused NHS number is one the check does not say is taken; none after the tries run out', async () => {
    const taken = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const number = (await unusedTestNhsNumber(async (n) => taken.has(n)))!;
      expect(taken.has(number)).to.equal(false);
      taken.add(number);
    }
    expect(await unusedTestNhsNumber(async () => true, undefined, 3)).to.equal(null);
  });

  it('mobiles come from Ofcom\'s drama range (07700 900000–900999), are UK mobiles, and avoid numbers in use', () => {
    for (let i = 0; i < 200; i++) {
      const mobile = randomDramaMobile();
      expect(isDramaMobile(mobile), mobile).to.equal(true);
      // libphonenumber knows the range is not issued; the test user request takes it all the same.
      expect(parseTestUserRequest({ level: 'P0', mobile: `0${mobile.slice(3, 7)} ${mobile.slice(7)}` }).mobile).to.equal(mobile);
    }
    expect(randomDramaMobile(() => 0)).to.equal('+447700900000');
    expect(randomDramaMobile(() => 999)).to.equal('+447700900999');
    const used = new Set(Array.from({ length: 999 }, (_, n) => `+447700900${String(n).padStart(3, '0')}`));
    expect(unusedDramaMobile(used)).to.equal('+447700900999');
    expect(isDramaMobile('+447700901000')).to.equal(false);
    expect(parseUkMobile('+447700900183').ok, 'carelogin\'s own forms refuse the range').to.equal(false);
  });

  it('dates of birth, ODS codes and GP online credentials have the shapes the forms accept', () => {
    for (let i = 0; i < 200; i++) {
      expect(() => parseTestUserRequest({ level: 'P9', birthdate: randomBirthdate(), gpOdsCode: randomGpOdsCode(), ...(({ gpUserId, gpLinkageKey }) => ({ gpUserId, gpLinkageKey }))(randomGpOnlineCredentials()) })).to.not.throw();
    }
    expect(randomGpOnlineCredentials(() => 0)).to.deep.equal({ gpUserId: '5100000000', gpLinkageKey: 'AAAAAAAAAAAAA' });
  });

  it('the request: normalises what people type, and names each problem by its field, in form order', () => {
    expect(parseTestUserRequest({ level: 'P5', nhsNumber: '999 000 5001', postcode: 'ls14ap', gpOdsCode: 'a20047', mobile: '07700 900123' })).to.include({
      nhsNumber: '9990005001', postcode: 'LS1 4AP', gpOdsCode: 'A20047', mobile: '+447700900123', fixedCode: false, phonePdsMatched: false, inRegister: false,
    });
    let error: unknown;
    try {
      parseTestUserRequest({ colour: 'blue', level: 'P5', birthdate: '2001-02-30', mobile: '01632 960123' });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(TestUserRequestError);
    expect((error as TestUserRequestError).problems).to.deep.equal([
      { field: 'birthdate', text: 'Date of birth must be a real date in the past, like 1985-07-14' },
      { field: 'mobile', text: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982' },
      { field: 'colour', text: 'Unknown field: colour' },
    ]);
    // The checks across fields, once each field is well formed.
    expect(() => parseTestUserRequest({ level: 'P5', password: 'short', gpUserId: '123' })).to.throw(TestUserRequestError, /password: .*12 characters[\s\S]*gpLinkageKey: Give both/);
    expect(() => parseTestUserRequest({ level: 'P9', gpUserId: '1', gpLinkageKey: 'k', gpOnline: false })).to.throw(TestUserRequestError, /allow GP online/);
  });

  it('the page\'s form: blanks are left to be made up, ticked boxes are true, passwords untrimmed', () => {
    expect(requestFromForm({ level: 'P0', email: ' ', nhsNumber: ' 999 000 5001 ', password: ' spaced ', inRegister: 'yes', fixedCode: 'no', _csrf: 'x' })).to.deep.equal({ level: 'P0', nhsNumber: '999 000 5001', password: ' spaced ', inRegister: true });
  });

  it('the command line: each command\'s options, --level checked, flags and their negation', () => {
    expect(() => parseTestUsersArgs([])).to.throw(TestUsersUsageError);
    expect(() => parseTestUsersArgs(['make'])).to.throw(TestUsersUsageError);
    expect(() => parseTestUsersArgs(['add'])).to.throw(TestUsersUsageError, /--level/);
    expect(() => parseTestUsersArgs(['add', '--level', 'P7'])).to.throw(TestUsersUsageError, /P0, P5 or P9/);
    expect(parseTestUsersArgs(['add', '--level', 'P9', '--no-gp-online', '--fixed-code', '--nhs-number', '9990005001', '--json'])).to.deep.equal({
      command: 'add', json: true, request: { level: 'P9', gpOnline: false, fixedCode: true, nhsNumber: '9990005001' },
    });
    expect(parseTestUsersArgs(['add', '--level', 'P0', '--in-register', '--phone-pds-matched', '--given-name', 'Ada'])).to.deep.equal({
      command: 'add', json: false, request: { level: 'P0', inRegister: true, phonePdsMatched: true, givenName: 'Ada' },
    });
    expect(parseTestUsersArgs(['list', '--json'])).to.deep.equal({ command: 'list', json: true });
    expect(() => parseTestUsersArgs(['list', '--email', 'a@b.test'])).to.throw(TestUsersUsageError, /list does not take --email/);
    expect(() => parseTestUsersArgs(['reset'])).to.throw(TestUsersUsageError, /--email/);
    expect(() => parseTestUsersArgs(['set-level', '--email', 'a@b.test'])).to.throw(TestUsersUsageError, /--level/);
    expect(parseTestUsersArgs(['set-level', '--email', 'a@b.test', '--level', 'P5'])).to.deep.equal({ command: 'set-level', email: 'a@b.test', level: 'P5', json: false });
    expect(parseTestUsersArgs(['remove', '--email', 'a@b.test'])).to.deep.equal({ command: 'remove', email: 'a@b.test', json: false });
    expect(() => parseTestUsersArgs(['reset', '--email', 'a@b.test', '--fixed-code'])).to.throw(TestUsersUsageError, /does not take --fixed-code/);
  });
});
