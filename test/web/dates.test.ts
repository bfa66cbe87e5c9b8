import { expect } from 'chai';
import { nhsDate, nhsDateTime, nhsTime } from '../../src/web/dates.js';

describe('NHS-style dates and times (UK time)', () => {
  it('writes the day in full, without a leading zero', () => {
    expect(nhsDate(new Date('2026-12-02T15:21:00Z'))).to.equal('2 December 2026');
  });

  it('writes times as 3:21pm in UK time, across the change to summer time', () => {
    expect(nhsTime(new Date('2026-12-02T15:21:00Z'))).to.equal('3:21pm');
    expect(nhsTime(new Date('2026-07-01T08:05:00Z'))).to.equal('9:05am');
    expect(nhsDateTime(new Date('2026-06-30T23:30:00Z'))).to.equal('1 July 2026 at 12:30am');
  });

  it('says midday and midnight', () => {
    expect(nhsTime(new Date('2026-12-02T12:00:00Z'))).to.equal('midday');
    expect(nhsTime(new Date('2026-12-02T00:00:00Z'))).to.equal('midnight');
  });
});
