import { expect } from 'chai';
import fc from 'fast-check';
import { formatQuantity, parseQuantity, sumResources } from '../../../src/virtualnode/quantity.ts';

describe('virtualnode quantities', () => {
  it('parses decimal, binary, milli and exponent forms exactly', () => {
    expect(parseQuantity('4')?.nano).to.equal(4_000_000_000n);
    expect(parseQuantity('500m')?.nano).to.equal(500_000_000n);
    expect(parseQuantity('1.5')?.nano).to.equal(1_500_000_000n);
    expect(parseQuantity('2Gi')?.nano).to.equal(2n * 1024n ** 3n * 1_000_000_000n);
    expect(parseQuantity('1k')?.nano).to.equal(1_000n * 1_000_000_000n);
    expect(parseQuantity('1e3')?.nano).to.equal(1_000n * 1_000_000_000n);
    expect(parseQuantity('100n')?.nano).to.equal(100n);
    expect(parseQuantity('2Gi')?.binary).to.equal(true);
    expect(parseQuantity('lots')).to.equal(undefined);
    expect(parseQuantity('')).to.equal(undefined);
  });

  it('formats whole values plainly or with the largest exact binary suffix, fractions in m', () => {
    expect(formatQuantity(24_000_000_000n)).to.equal('24');
    expect(formatQuantity(1_500_000_000n)).to.equal('1500m');
    expect(formatQuantity(96n * 1024n ** 3n * 1_000_000_000n, true)).to.equal('96Gi');
    expect(formatQuantity((96n * 1024n ** 3n + 1024n) * 1_000_000_000n, true)).to.equal('100663297Ki');
  });

  it('sums capacities of several nodes key by key', () => {
    const sum = sumResources([
      { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      { cpu: '7500m', memory: '16Gi', pods: '110' },
      { cpu: '500m', memory: '16384Mi', pods: '110', 'nvidia.com/gpu': '1' },
      undefined,
    ]);
    expect(sum).to.deep.equal({
      cpu: '16',
      'ephemeral-storage': '100Gi',
      memory: '64Gi',
      'nvidia.com/gpu': '1',
      pods: '330',
    });
  });

  it('skips unparseable values instead of failing', () => {
    expect(sumResources([{ cpu: 'x' }, { cpu: '1' }])).to.deep.equal({ cpu: '1' });
  });

  it('summing is exact: sum of parsed millicores equals the parsed sum', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 20 }), (millis) => {
        const total = millis.reduce((a, b) => a + b, 0);
        const sum = sumResources(millis.map((m) => ({ cpu: `${m}m` })));
        if (millis.length === 0) return Object.keys(sum).length === 0;
        return parseQuantity(sum.cpu ?? '')?.nano === BigInt(total) * 1_000_000n;
      }),
    );
  });
});
