import { expect } from 'chai';
import { keepReadAhead, takeReadAhead, withReadAhead } from '../../src/db/read-ahead.js';

describe('read-ahead scope', () => {
  it('hands a kept row out once, then reports nothing kept, so a second read goes to the database', async () => {
    await withReadAhead(async () => {
      keepReadAhead('k', { n: 1 });
      expect(takeReadAhead('k')).to.deep.equal({ row: { n: 1 } });
      expect(takeReadAhead('k')).to.equal(undefined);
    });
  });

  it('tells "read ahead and not there" (null) from "not read ahead" (undefined)', async () => {
    await withReadAhead(async () => {
      keepReadAhead('missing', null);
      expect(takeReadAhead('missing')).to.deep.equal({ row: null });
      expect(takeReadAhead('never-kept')).to.equal(undefined);
    });
  });

  it('keeps nothing outside a scope, and one request never sees another\'s rows', async () => {
    keepReadAhead('outside', 1);
    expect(takeReadAhead('outside')).to.equal(undefined);
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const first = withReadAhead(async () => {
      keepReadAhead('shared-key', 'first');
      await held;
      return takeReadAhead('shared-key');
    });
    const second = withReadAhead(async () => {
      const seen = takeReadAhead('shared-key');
      release();
      return seen;
    });
    expect(await second).to.equal(undefined);
    expect(await first).to.deep.equal({ row: 'first' });
  });
});
