import { expect } from 'chai';
import { Registry } from 'prom-client';
import { TerminalError, WorkQueue } from '../../../src/kube/workqueue.ts';
import { createWorkQueueMetrics } from '../../../src/kube/workqueue-metrics.ts';
import { FakeClock, deferred, flush } from './helpers.ts';
import type { Deferred } from './helpers.ts';

/** A process function whose runs the test completes by hand. */
function gatedProcess() {
  const runs: { key: string; gate: Deferred }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const perKey = new Map<string, number>();
  let maxPerKey = 0;
  const process = async (key: string): Promise<void> => {
    const gate = deferred();
    runs.push({ key, gate });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    maxPerKey = Math.max(maxPerKey, perKey.get(key) ?? 0);
    try {
      await gate.promise;
    } finally {
      inFlight--;
      perKey.set(key, (perKey.get(key) ?? 1) - 1);
    }
  };
  return { runs, process, stats: () => ({ inFlight, maxInFlight, maxPerKey }) };
}

describe('kube/workqueue', () => {
  it('coalesces a key added several times while it waits', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const q = new WorkQueue({ name: 't', process: g.process, clock });
    q.add('busy'); // occupies the single worker
    q.add('a');
    q.add('a');
    q.add('a');
    expect(q.len()).to.equal(1);
    g.runs[0]!.gate.resolve();
    await flush();
    expect(g.runs.map((r) => r.key)).to.deep.equal(['busy', 'a']);
    g.runs[1]!.gate.resolve();
    await q.whenIdle();
    expect(g.runs).to.have.length(2);
  });

  it('processes a key re-added during processing once more afterwards, never concurrently', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const q = new WorkQueue({ name: 't', process: g.process, clock, concurrency: 4 });
    q.add('a');
    await flush();
    expect(g.runs).to.have.length(1);
    q.add('a');
    q.add('a'); // coalesced with the previous re-add
    await flush();
    expect(g.runs, 'not started again while running').to.have.length(1);
    expect(q.len()).to.equal(0);
    g.runs[0]!.gate.resolve();
    await flush();
    expect(g.runs.map((r) => r.key)).to.deep.equal(['a', 'a']);
    g.runs[1]!.gate.resolve();
    await q.whenIdle();
    expect(g.runs).to.have.length(2);
    expect(g.stats().maxPerKey).to.equal(1);
  });

  it('runs at most `concurrency` keys in parallel, FIFO', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const q = new WorkQueue({ name: 't', process: g.process, clock, concurrency: 3 });
    for (let i = 0; i < 10; i++) q.add(`k${i}`);
    await flush();
    expect(g.stats().inFlight).to.equal(3);
    while (g.runs.some((r) => r)) {
      const open = g.runs.length;
      for (const r of g.runs) r.gate.resolve();
      await flush();
      if (g.runs.length === open) break;
    }
    await q.whenIdle();
    expect(g.runs.map((r) => r.key)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `k${i}`));
    expect(g.stats().maxInFlight).to.equal(3);
  });

  it('retries failures with growing, jittered, capped backoff and forgets on success', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    let failUntil = 6;
    const q = new WorkQueue({
      name: 't',
      clock,
      random: Math.random,
      backoff: { baseMs: 100, maxMs: 1000, jitter: 0.5 },
      process: async () => {
        attempts.push(clock.now());
        if (attempts.length <= failUntil) throw new Error('boom');
      },
    });
    q.add('a');
    await clock.advance(10_000);
    expect(attempts).to.have.length(failUntil + 1);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    const nominal = [100, 200, 400, 800, 1000, 1000];
    gaps.forEach((gap, i) => {
      expect(gap, `gap ${i}`).to.be.within(nominal[i]! * 0.5 - 1, nominal[i]!);
    });
    expect(q.numRequeues('a'), 'success forgets the failure count').to.equal(0);
    // After a success the next failure starts from the base delay again.
    failUntil = Infinity;
    q.add('a');
    await clock.advance(0);
    expect(q.numRequeues('a')).to.equal(1);
  });

  it('addRateLimited delays grow per key, independently', () => {
    const q = new WorkQueue({
      name: 't',
      process: async () => {},
      clock: new FakeClock(),
      random: () => 0,
      backoff: { baseMs: 10, maxMs: 100, jitter: 0.2 },
    });
    expect([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')]).to.deep.equal([10, 20, 40]);
    expect(q.addRateLimited('b')).to.equal(10);
    q.forget('a');
    expect(q.addRateLimited('a')).to.equal(10);
  });

  it('addAfter keeps the earliest deadline for a key', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    const q = new WorkQueue({ name: 't', clock, process: async () => void seen.push(clock.now()) });
    const t0 = clock.now();
    q.addAfter('a', 500);
    q.addAfter('a', 100);
    q.addAfter('a', 800);
    await clock.advance(1000);
    expect(seen.map((t) => t - t0)).to.deep.equal([100]);
  });

  it('drops a key after maxRetries and reports it', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const dropped: string[] = [];
    const q = new WorkQueue({
      name: 't',
      clock,
      maxRetries: 2,
      backoff: { baseMs: 10, maxMs: 10 },
      process: async () => {
        calls++;
        throw new Error('nope');
      },
      onDrop: (k) => dropped.push(k),
    });
    q.add('x');
    await clock.advance(1000);
    expect(calls).to.equal(3); // first try + 2 retries
    expect(dropped).to.deep.equal(['x']);
    expect(q.pending()).to.equal(0);
  });

  it('limits the overall dispatch rate with a token bucket', async () => {
    const clock = new FakeClock();
    const done: number[] = [];
    const q = new WorkQueue({
      name: 't',
      clock,
      concurrency: 10,
      rateLimit: { qps: 10, burst: 2 },
      process: async () => void done.push(clock.now()),
    });
    const t0 = clock.now();
    for (let i = 0; i < 7; i++) q.add(`k${i}`);
    await clock.advance(0);
    expect(done).to.have.length(2); // the burst
    await clock.advance(100);
    expect(done).to.have.length(3);
    await clock.advance(400);
    expect(done.map((t) => t - t0)).to.deep.equal([0, 0, 100, 200, 300, 400, 500]);
  });

  it('reports depth through the hook', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const depths: number[] = [];
    const q = new WorkQueue({ name: 'depthq', clock, process: g.process, onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('b');
    q.add('c');
    expect(depths).to.deep.equal([1, 0, 1, 2]);
    for (;;) {
      const open = g.runs.filter((r) => r);
      open.forEach((r) => r.gate.resolve());
      await flush();
      if (q.pending() === 0) break;
    }
    expect(depths.at(-1)).to.equal(0);
  });

  it("exports controller-runtime's workqueue and reconcile metrics, labelled with the queue's name", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const runs: Deferred<{ requeueAfter?: number } | void>[] = [];
    const q = new WorkQueue({
      name: 'mq',
      clock,
      metrics: createWorkQueueMetrics(registry),
      backoff: { baseMs: 100, maxMs: 100, jitter: 0 },
      process: () => {
        const run = deferred<{ requeueAfter?: number } | void>();
        runs.push(run);
        return run.promise;
      },
    });
    const value = async (series: string): Promise<number | undefined> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const labels = '{name="mq",controller="mq"}';
    q.add('a');
    q.add('b');
    q.add('b'); // coalesced: not an add
    expect(await value(`workqueue_adds_total${labels}`)).to.equal(2);
    expect(await value(`workqueue_depth${labels}`), 'b waits while a runs').to.equal(1);
    await clock.advance(250);
    expect(await value(`workqueue_longest_running_processor_seconds${labels}`)).to.equal(0.25);
    expect(await value(`workqueue_unfinished_work_seconds${labels}`)).to.equal(0.25);
    expect(await value('controller_runtime_active_workers{controller="mq"}')).to.equal(1);
    expect(await value('controller_runtime_max_concurrent_reconciles{controller="mq"}')).to.equal(1);

    runs[0]!.resolve(); // a succeeds after 0.25 s; b starts after waiting 0.25 s
    await flush();
    expect(await value(`workqueue_work_duration_seconds_sum${labels}`)).to.equal(0.25);
    expect(await value(`workqueue_queue_duration_seconds_sum${labels}`)).to.equal(0.25);
    expect(await value(`workqueue_queue_duration_seconds_bucket{le="1",name="mq",controller="mq"}`)).to.equal(2);
    runs[1]!.reject(new Error('boom')); // b fails: retried after 100 ms
    await flush();
    expect(await value(`workqueue_retries_total${labels}`)).to.equal(1);
    expect(await value('controller_runtime_reconcile_errors_total{controller="mq"}')).to.equal(1);
    await clock.advance(100);
    runs[2]!.resolve({ requeueAfter: 1000 });
    await flush();
    expect(await value('controller_runtime_reconcile_total{controller="mq",result="success"}')).to.equal(1);
    expect(await value('controller_runtime_reconcile_total{controller="mq",result="error"}')).to.equal(1);
    expect(await value('controller_runtime_reconcile_total{controller="mq",result="requeue_after"}')).to.equal(1);
    expect(await value('controller_runtime_reconcile_time_seconds_count{controller="mq"}')).to.equal(3);
    expect(await value(`workqueue_adds_total${labels}`), 'the retry is an add').to.equal(3);

    await q.shutdown({ drain: false });
    expect(await value(`workqueue_depth${labels}`), 'a shut-down queue leaves the scrape').to.equal(undefined);
    expect(await value(`workqueue_adds_total${labels}`), 'counters stay').to.equal(3);
  });

  it('a queue without metrics records nothing and still works', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const q = new WorkQueue({ name: 'plain', clock, process: async (key) => void seen.push(key) });
    q.add('x');
    await q.whenIdle();
    expect(seen).to.deep.equal(['x']);
  });

  it('shutdown drains queued keys, ignores new adds and drops delayed ones', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const q = new WorkQueue({ name: 't', clock, process: g.process, concurrency: 2 });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    q.addAfter('later', 1000);
    await flush();
    let finished = false;
    const p = q.shutdown().then(() => (finished = true));
    q.add('e'); // ignored
    for (;;) {
      g.runs.forEach((r) => r.gate.resolve());
      await flush();
      if (finished) break;
    }
    await p;
    expect(g.runs.map((r) => r.key)).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('shutdown without drain waits only for running keys', async () => {
    const clock = new FakeClock();
    const g = gatedProcess();
    const q = new WorkQueue({ name: 't', clock, process: g.process });
    for (const k of ['a', 'b', 'c']) q.add(k);
    await flush();
    q.add('a'); // re-added while running: dropped too
    let finished = false;
    const p = q.shutdown({ drain: false }).then(() => (finished = true));
    await flush();
    expect(finished).to.equal(false);
    g.runs[0]!.gate.resolve();
    await p;
    expect(g.runs.map((r) => r.key)).to.deep.equal(['a']);
  });

  it('survives a process function that throws synchronously', async () => {
    const clock = new FakeClock();
    let n = 0;
    const q = new WorkQueue({
      name: 't',
      clock,
      backoff: { baseMs: 5, maxMs: 5 },
      process: ((): Promise<void> => {
        n++;
        if (n === 1) throw new Error('sync');
        return Promise.resolve();
      }) as (k: string) => Promise<void>,
    });
    q.add('a');
    await clock.advance(100);
    expect(n).to.equal(2);
  });

  describe('reconcile results', () => {
    it('requeueAfter looks at the key again after that delay, not before, and forgets its failures', async () => {
      const clock = new FakeClock();
      const seen: number[] = [];
      let failFirst = true;
      const q = new WorkQueue({
        name: 't',
        clock,
        random: () => 0,
        backoff: { baseMs: 10, maxMs: 10 },
        process: async () => {
          seen.push(clock.now());
          if (failFirst) {
            failFirst = false;
            throw new Error('once');
          }
          return seen.length === 2 ? { requeueAfter: 500 } : undefined;
        },
      });
      const t0 = clock.now();
      q.add('a');
      await clock.advance(10); // the failure's backoff, then the run that asks for a requeue
      expect(seen.map((t) => t - t0)).to.deep.equal([0, 10]);
      expect(q.numRequeues('a'), 'a success with requeueAfter forgets the failures').to.equal(0);
      expect(q.pending(), 'waiting for its requeue').to.equal(1);
      await clock.advance(499);
      expect(seen).to.have.length(2);
      await clock.advance(1);
      expect(seen.map((t) => t - t0)).to.deep.equal([0, 10, 510]);
      await clock.advance(10_000);
      expect(seen, 'a plain return is done').to.have.length(3);
      expect(q.pending()).to.equal(0);
    });

    it('requeueAfter keeps an earlier deadline of the same key, and a re-add still runs at once', async () => {
      const clock = new FakeClock();
      const seen: number[] = [];
      const q = new WorkQueue({
        name: 't',
        clock,
        process: async () => {
          seen.push(clock.now());
          return seen.length === 1 ? { requeueAfter: 1000 } : undefined;
        },
      });
      const t0 = clock.now();
      q.addAfter('a', 300);
      q.add('a');
      await clock.advance(0);
      q.add('a'); // an event while it waits for its requeue: processed now
      await clock.advance(5000);
      // The requeue for +1000 merged into the pending one at +300 (the earlier deadline wins).
      expect(seen.map((t) => t - t0)).to.deep.equal([0, 0, 300]);
    });

    it('a TerminalError drops the key: reported once, never retried, history forgotten', async () => {
      const clock = new FakeClock();
      let calls = 0;
      const errors: Array<{ key: string; failures: number }> = [];
      const dropped: Array<{ key: string; error: unknown }> = [];
      const q = new WorkQueue({
        name: 't',
        clock,
        backoff: { baseMs: 10, maxMs: 10 },
        process: async () => {
          calls++;
          if (calls < 3) throw new Error('transient');
          throw new TerminalError('invalid object');
        },
        onError: (key, _err, failures) => errors.push({ key, failures }),
        onDrop: (key, error) => dropped.push({ key, error }),
      });
      q.add('x');
      await clock.advance(60_000);
      expect(calls, 'two retries after ordinary failures, none after the terminal one').to.equal(3);
      expect(errors).to.deep.equal([
        { key: 'x', failures: 1 },
        { key: 'x', failures: 2 },
        { key: 'x', failures: 3 },
      ]);
      expect(dropped).to.have.length(1);
      expect(dropped[0]!.error).to.be.instanceOf(TerminalError);
      expect(q.numRequeues('x')).to.equal(0);
      expect(q.pending()).to.equal(0);
      expect(clock.pendingTimers()).to.equal(0);
      // Dropped is not banned: the next change processes the key again.
      q.add('x');
      await clock.advance(0);
      expect(calls).to.equal(4);
    });

    it('TerminalError keeps its cause and is an Error', () => {
      const cause = new Error('422 Invalid');
      const err = new TerminalError('rejected', { cause });
      expect(err).to.be.instanceOf(Error);
      expect(err.name).to.equal('TerminalError');
      expect(err.cause).to.equal(cause);
    });
  });
});
