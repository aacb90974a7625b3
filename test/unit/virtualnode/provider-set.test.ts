// The providers of one process as remotes come and go: kubelet port indexes, start on add while
// running, stop and close on removal.
import { expect } from 'chai';
import type { Logger } from 'pino';
import type { VirtualNodeProvider } from '../../../src/virtualnode/provider.ts';
import { ProviderSet } from '../../../src/virtualnode/provider-set.ts';

const logger = { info: () => undefined, error: () => undefined } as unknown as Logger;

describe('ProviderSet', () => {
  let calls: string[];
  let set: ProviderSet;

  beforeEach(() => {
    calls = [];
    set = new ProviderSet(async (remote, portIndex) => {
      calls.push(`build ${remote} ${portIndex}`);
      const provider = {
        nodeName: `virtual-${remote}`,
        start: async () => void calls.push(`start ${remote}`),
        stop: async () => void calls.push(`stop ${remote}`),
      } as unknown as VirtualNodeProvider;
      return { provider, close: () => void calls.push(`close ${remote}`) };
    }, logger);
  });

  it('starts providers only once started, then at once; gives each the lowest free port index', async () => {
    await set.add('eu');
    await set.add('us');
    expect(calls).to.deep.equal(['build eu 0', 'build us 1']);
    set.startAll();
    await set.remove('eu');
    await set.add('ap');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls.slice(2)).to.deep.equal(['start eu', 'start us', 'stop eu', 'close eu', 'build ap 0', 'start ap']);
    expect(set.remotes()).to.deep.equal(['us', 'ap']);
  });

  it('refuses a remote twice, and removing an unknown one is a no-op', async () => {
    await set.add('eu');
    let error: Error | undefined;
    await set.add('eu').catch((err: Error) => (error = err));
    expect(error?.message).to.equal('remote eu already has a virtual node');
    expect(await set.remove('nope')).to.equal(false);
  });
});
