import { expect } from 'chai';
import { twinNamespaceName } from '../../src/common/twin.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('twinNamespaceName', () => {
  it('joins namespace and local cluster name when short enough', () => {
    expect(twinNamespaceName('shop', 'local')).to.equal('shop-local');
  });

  it('keeps a name of exactly 63 characters as it is', () => {
    const namespace = 'a'.repeat(63 - '-local'.length);
    expect(twinNamespaceName(namespace, 'local')).to.equal(`${namespace}-local`);
  });

  it('cuts long names to a valid 63-character label with a hash suffix', () => {
    const name = twinNamespaceName('n'.repeat(60), 'cluster-with-a-long-name');
    expect(name).to.have.length.at.most(63);
    expect(name).to.match(DNS1123_LABEL);
    expect(name).to.match(/-[0-9a-f]{8}$/);
  });

  it('keeps distinct long names distinct', () => {
    const a = twinNamespaceName(`${'x'.repeat(62)}a`, 'local');
    const b = twinNamespaceName(`${'x'.repeat(62)}b`, 'local');
    expect(a).to.not.equal(b);
  });

  it('never produces a double dash or trailing dash at the cut', () => {
    const name = twinNamespaceName(`${'y'.repeat(53)}-----zzzz`, 'local');
    expect(name).to.match(DNS1123_LABEL);
    expect(name).to.not.match(/--[0-9a-f]{8}$/);
  });
});
