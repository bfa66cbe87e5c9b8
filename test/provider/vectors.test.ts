import { expect } from 'chai';
import { assessVectors, credentialsFromAmr, formatVector, parseVector, parseVtr, vectorWithin, VectorSyntaxError, DEFAULT_VTR } from '../../src/provider/vectors.js';

describe('vectors of trust', () => {
  it('parses components in any order into a canonical form', () => {
    expect(formatVector(parseVector('Cd.P9.Cp'))).to.equal('P9.Cp.Cd');
    expect(formatVector(parseVector('Cm'))).to.equal('Cm');
  });

  for (const bad of ['', 'P9.P5', 'P9.Cp.Cp', 'P9.Cx', 'p9.cp', 'P9..Cp']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => parseVector(bad)).to.throw(VectorSyntaxError);
    });
  }

  it('defaults vtr to NHS login\'s default', () => {
    expect(parseVtr(undefined).map(formatVector)).to.deep.equal([...DEFAULT_VTR]);
  });

  it('checks a requested vector against an allowed one exactly', () => {
    expect(vectorWithin(parseVector('P9.Cp.Cd'), parseVector('P9.Cp.Cd'))).to.equal(true);
    expect(vectorWithin(parseVector('P9.Cp.Cd'), parseVector('P5.Cp.Cd'))).to.equal(false);
    expect(vectorWithin(parseVector('P9.Cp'), parseVector('P9.Cp.Cd'))).to.equal(false);
    expect(vectorWithin(parseVector('Cp.Cd'), parseVector('P9.Cp.Cd'))).to.equal(false);
  });

  it('maps what was done (amr) to credential components', () => {
    expect([...credentialsFromAmr(['pwd', 'sms'])].sort()).to.deep.equal(['Cd', 'Cp']);
    expect([...credentialsFromAmr(['pwd', 'remembered_device'])].sort()).to.deep.equal(['Cd', 'Cp']);
    expect([...credentialsFromAmr(['unknown'])]).to.deep.equal([]);
  });

  describe('assessing a sign-in against requested vectors', () => {
    const achieved = credentialsFromAmr(['pwd', 'sms']);

    it('reports the requested level, never the higher proven one', () => {
      expect(assessVectors(parseVtr('["P5.Cp.Cd"]'), 'P9', achieved)).to.deep.equal({ met: true, vot: 'P5.Cp.Cd' });
    });

    it('picks the highest identity level met when several are', () => {
      expect(assessVectors(parseVtr('["P5.Cp.Cd","P9.Cp.Cd"]'), 'P9', achieved)).to.deep.equal({ met: true, vot: 'P9.Cp.Cd' });
      expect(assessVectors(parseVtr('["P5.Cp.Cd","P9.Cp.Cd"]'), 'P5', achieved)).to.deep.equal({ met: true, vot: 'P5.Cp.Cd' });
    });

    it('fills an open credential dimension with what was actually done', () => {
      expect(assessVectors(parseVtr('["P5"]'), 'P9', achieved)).to.deep.equal({ met: true, vot: 'P5.Cp.Cd' });
    });

    it('says credentials are missing when the level is fine but the sign-in is not strong enough', () => {
      const result = assessVectors(parseVtr('["P9.Cp.Cd"]'), 'P9', credentialsFromAmr(['pwd']));
      expect(result).to.include({ met: false, reason: 'credentials' });
    });

    it('says proofing is missing when the account is below every requested level', () => {
      const result = assessVectors(parseVtr('["P9.Cp.Cd","P9.Cm"]'), 'P0', achieved);
      expect(result).to.include({ met: false, reason: 'proofing' });
    });

    it('never reports Cm without a key-based sign-in', () => {
      expect(assessVectors(parseVtr('["P9.Cm"]'), 'P9', achieved).met).to.equal(false);
    });
  });
});
