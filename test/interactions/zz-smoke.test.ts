import { expect } from 'chai';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { PERSONAS } from '../../src/accounts/personas.js';

describe('smoke', () => {
  let test: TestIdp;
  before(async () => { test = await startTestIdp(); });
  after(async () => test.close());
  it('signs in p9', async () => {
    const p = PERSONAS.find((x) => x.key === 'p9')!;
    const result = await signIn(test, { email: p.email, password: p.password }, { params: { vtr: '["P9.Cp.Cd"]', scope: 'openid profile' } });
    for (const page of result.pages) console.log(page.status, page.url);
    const tokens = await test.rp.exchange(result.callbackUrl, result.request);
    console.log(tokens.claims());
    expect(tokens.claims()?.sub).to.be.a('string');
  });
});
