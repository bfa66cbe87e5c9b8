import { expect } from 'chai';
import { isTestNhsNumber, isValidNhsNumber, nhsNumberCheckDigit, normaliseNhsNumber } from '../../src/accounts/nhs-number.js';

describe('NHS number', () => {
  it('accepts numbers with a correct modulus 11 check digit', () => {
    // 9434765919 is the NHS Data Dictionary worked example; the 999 numbers are test-range numbers.
    for (const value of ['9434765919', '9686368973', '9990005001', '9990009007', '9990000018', '9990000050']) {
      expect(isValidNhsNumber(value), value).to.equal(true);
    }
  });

  it('rejects a wrong check digit, every single-digit change of a valid number, and transpositions', () => {
    expect(isValidNhsNumber('9434765918')).to.equal(false);
    const valid = '9434765919';
    for (let position = 0; position < 10; position++) {
      for (let digit = 0; digit <= 9; digit++) {
        const changed = valid.slice(0, position) + digit + valid.slice(position + 1);
        if (changed !== valid) expect(isValidNhsNumber(changed), changed).to.equal(false);
      }
    }
    expect(isValidNhsNumber('4934765919')).to.equal(false);
  });

  it('rejects numbers whose check digit would be 10, which are never issued', () => {
    expect(nhsNumberCheckDigit('999123456')).to.equal(null);
    for (let last = 0; last <= 9; last++) expect(isValidNhsNumber(`999123456${last}`)).to.equal(false);
  });

  it('computes 11 as check digit 0', () => {
    expect(nhsNumberCheckDigit('999000005')).to.equal(0);
    expect(isValidNhsNumber('9990000050')).to.equal(true);
  });

  it('rejects anything that is not exactly ten digits, and ten identical digits', () => {
    for (const value of ['', '943476591', '94347659190', '943 476 5919', '943-476-5919', '94347659l9', ' 9434765919', '0000000000', '4444444444', 9434765919, null, undefined]) {
      expect(isValidNhsNumber(value), String(value)).to.equal(false);
    }
  });

  it('normalises typed input with spaces or hyphens', () => {
    expect(normaliseNhsNumber('943 476 5919')).to.equal('9434765919');
    expect(normaliseNhsNumber('943-476-5919')).to.equal('9434765919');
    expect(normaliseNhsNumber('943 476 591')).to.equal(null);
    expect(normaliseNhsNumber(42)).to.equal(null);
  });

  it('recognises the 999 test range', () => {
    expect(isTestNhsNumber('9990009007')).to.equal(true);
    expect(isTestNhsNumber('9434765919')).to.equal(false);
    expect(isTestNhsNumber('9990009008')).to.equal(false);
  });
});
