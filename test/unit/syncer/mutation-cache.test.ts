import { expect } from 'chai';
import { MutationCache } from '../../../src/syncer/mutation-cache.ts';
import type { KubeObject } from '../../../webhooks/types.ts';

const object = (uid: string, resourceVersion: string, data = {}): KubeObject => ({
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'n', uid, resourceVersion },
  data,
});

describe('syncer mutation cache (read-your-writes)', () => {
  let now = 0;
  const cache = (): MutationCache => new MutationCache({ ttlMs: 1000, now: () => now });
  beforeEach(() => (now = 0));

  it('answers with our create while the cache has not seen it', () => {
    const mutations = cache();
    const written = object('u1', '10');
    mutations.recordWrite('k', written);
    expect(mutations.newest('k', undefined)).to.equal(written);
  });

  it('answers with our update while the cache holds an older version, then lets the cache win', () => {
    const mutations = cache();
    const written = object('u1', '12', { v: 'new' });
    mutations.recordWrite('k', written);
    expect(mutations.newest('k', object('u1', '11', { v: 'old' }))).to.equal(written);
    const caughtUp = object('u1', '12', { v: 'new' });
    expect(mutations.newest('k', caughtUp)).to.equal(caughtUp);
    expect(mutations.size, 'forgotten once the cache caught up').to.equal(0);
  });

  it('a newer object in the cache (someone else wrote after us, or another uid) wins', () => {
    const mutations = cache();
    mutations.recordWrite('k', object('u1', '12'));
    const recreated = object('u2', '5');
    expect(mutations.newest('k', recreated)).to.equal(recreated);
  });

  it('hides the object we deleted until the cache drops it', () => {
    const mutations = cache();
    mutations.recordDelete('k', 'u1');
    expect(mutations.newest('k', object('u1', '12'))).to.equal(undefined);
    const successor = object('u2', '20');
    expect(mutations.newest('k', successor), 'a new object under the name is not ours to hide').to.equal(successor);
    expect(mutations.size).to.equal(0);
  });

  it('trusts a write only for the TTL', () => {
    const mutations = cache();
    mutations.recordWrite('k', object('u1', '12'));
    now = 1001;
    const stale = object('u1', '11');
    expect(mutations.newest('k', stale)).to.equal(stale);
    mutations.recordWrite('k2', object('u1', '3'));
    now = 2500;
    mutations.sweep();
    expect(mutations.size).to.equal(0);
  });

  it('recognizes the echo of its own write, once', () => {
    const mutations = cache();
    mutations.recordWrite('k', object('u1', '12'));
    expect(mutations.consumeEcho('k', object('u1', '11'))).to.equal(false);
    expect(mutations.consumeEcho('k', object('u1', '12'))).to.equal(true);
    expect(mutations.consumeEcho('k', object('u1', '12'))).to.equal(false);
  });
});
