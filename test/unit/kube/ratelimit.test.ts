import { expect } from 'chai';
import fc from 'fast-check';
import { Backoff, TokenBucket, backoffDelay } from '../../../src/kube/ratelimit.ts';

describe('kube/ratelimit', () => {
  describe('TokenBucket', () => {
    it('starts full, allows a burst, then refuses until refilled', () => {
      let now = 0;
      const b = new TokenBucket({ qps: 10, burst: 3, now: () => now });
      expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).to.deep.equal([true, true, true, false]);
      now += 99; // 0.99 token
      expect(b.tryTake()).to.equal(false);
      now += 1; // 1 token
      expect(b.tryTake()).to.equal(true);
    });

    it('never holds more than burst tokens', () => {
      let now = 0;
      const b = new TokenBucket({ qps: 100, burst: 5, now: () => now });
      now += 60_000;
      expect(b.tokens()).to.equal(5);
    });

    it('reserve() queues callers behind each other at 1/qps', () => {
      let now = 0;
      const b = new TokenBucket({ qps: 4, burst: 1, now: () => now });
      expect(b.reserve()).to.equal(0);
      expect(b.reserve()).to.equal(250);
      expect(b.reserve()).to.equal(500);
      now += 500;
      expect(b.reserve()).to.equal(250);
    });

    it('sustained rate matches qps over simulated time', () => {
      let now = 0;
      const b = new TokenBucket({ qps: 20, burst: 5, now: () => now });
      let taken = 0;
      for (let t = 0; t <= 10_000; t += 7) {
        now = t;
        while (b.tryTake()) taken++;
      }
      // burst + 10 s * 20 qps, give or take the last partial token
      expect(taken).to.be.within(204, 205);
    });

    it('take() waits for a token and can be aborted', async () => {
      const b = new TokenBucket({ qps: 50, burst: 1 });
      await b.take();
      const t0 = Date.now();
      await b.take(); // ~20 ms
      expect(Date.now() - t0).to.be.greaterThanOrEqual(15);
      const ac = new AbortController();
      const p = b.take(ac.signal);
      ac.abort(new Error('nope'));
      let err: unknown;
      await p.catch((e: unknown) => (err = e));
      expect((err as Error).message).to.equal('nope');
    });

    it('rejects a non-positive qps', () => {
      expect(() => new TokenBucket({ qps: 0 })).to.throw(/qps/);
    });
  });

  describe('backoffDelay', () => {
    const opts = { baseMs: 100, maxMs: 10_000, jitter: 0.3 };

    it('doubles without jitter and caps at max', () => {
      const o = { baseMs: 100, maxMs: 1000, jitter: 0 };
      expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, o))).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    });

    it('stays within [d*(1-jitter), d] for any attempt and random value', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1000 }),
          fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
          (n, r) => {
            const d = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(n, 64));
            const v = backoffDelay(n, opts, () => r);
            return Number.isFinite(v) && v <= d && v >= Math.floor(d * (1 - opts.jitter));
          },
        ),
      );
    });

    it('is randomised (not all retries identical)', () => {
      const values = new Set(Array.from({ length: 20 }, () => backoffDelay(3, opts)));
      expect(values.size).to.be.greaterThan(1);
    });

    it('Backoff grows and resets', () => {
      const b = new Backoff({ baseMs: 10, maxMs: 1000, jitter: 0 });
      expect([b.next(), b.next(), b.next()]).to.deep.equal([10, 20, 40]);
      b.reset();
      expect(b.next()).to.equal(10);
    });
  });
});
