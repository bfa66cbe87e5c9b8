import { expect } from 'chai';
import { parseUkMobile, UK_MOBILE_MESSAGES } from '../../src/accounts/uk-mobile.js';

describe('parseUkMobile', () => {
  it('accepts UK mobiles in the ways people type them and returns E.164', () => {
    for (const typed of ['07912345678', '07912 345678', '07912-345-678', '+447912345678', '+44 7912 345678', '0044 7912 345678', ' (07912) 345678 ']) {
      expect(parseUkMobile(typed), typed).to.deep.equal({ ok: true, e164: '+447912345678' });
    }
  });

  it('accepts Channel Islands and Isle of Man mobiles, which share +44', () => {
    expect(parseUkMobile('07624 123456')).to.deep.equal({ ok: true, e164: '+447624123456' });
  });

  it('refuses a landline and says why', () => {
    const result = parseUkMobile('020 7946 0000');
    expect(result).to.deep.include({ ok: false, problem: 'landline' });
    expect(UK_MOBILE_MESSAGES.landline).to.contain('landline');
  });

  it('refuses premium-rate and other special service numbers', () => {
    expect(parseUkMobile('09098 790123')).to.deep.include({ ok: false, problem: 'premium_rate' });
    expect(parseUkMobile('0800 123 4567')).to.include({ ok: false });
  });

  it('refuses internet phone (VoIP) numbers', () => {
    expect(parseUkMobile('056 1234 5678')).to.deep.include({ ok: false, problem: 'internet_phone' });
  });

  it('refuses numbers outside the UK', () => {
    expect(parseUkMobile('+33 6 12 34 56 78')).to.deep.include({ ok: false, problem: 'not_uk' });
  });

  it('refuses malformed input', () => {
    for (const typed of ['0712', 'abc', '07912 34567a', '+44', '0791234567890123', '1'.repeat(40), '07912<script>']) {
      expect(parseUkMobile(typed), typed).to.deep.include({ ok: false, problem: 'malformed' });
    }
  });

  it('asks for a number when nothing was typed', () => {
    for (const typed of ['', '   ', undefined, 7]) expect(parseUkMobile(typed)).to.deep.include({ ok: false, problem: 'missing' });
  });
});
