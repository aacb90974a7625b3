import { expect } from 'chai';
import { CpuCounters, windowUsage } from '../../../src/kubelet/metrics/cpu-counters.ts';
import { bytes, nanoCores, parseDurationMs, parseNanoUnits } from '../../../src/kubelet/metrics/quantity.ts';

describe('kubelet metrics parts', () => {
  it('quantities as PodMetrics prints them, exactly', () => {
    const cases: Array<[string, bigint | undefined]> = [
      ['250m', 250_000_000n],
      ['1500000n', 1_500_000n],
      ['2', 2_000_000_000n],
      ['1.5', 1_500_000_000n],
      ['3u', 3000n],
      ['1k', 1_000_000_000_000n],
      ['1e3', 1_000_000_000_000n],
      ['64Mi', 64n * 2n ** 20n * 1_000_000_000n],
      ['0', 0n],
      ['0.5n', 1n],
      ['-1', undefined],
      ['12 m', undefined],
      ['1e99', undefined],
      ['', undefined],
    ];
    for (const [text, nano] of cases) expect(parseNanoUnits(text), text).to.equal(nano);
    expect(nanoCores('250m')).to.equal(250_000_000n);
    expect(nanoCores(undefined)).to.equal(0n);
    expect(nanoCores('garbage')).to.equal(0n);
    expect(bytes('100Ki')).to.equal(102_400n);
    expect(bytes('1500m')).to.equal(2n);
    expect(bytes(undefined)).to.equal(0n);
  });

  it('Go durations (metav1.Duration) in milliseconds', () => {
    const cases: Array<[string, number | undefined]> = [
      ['15s', 15_000],
      ['15.012s', 15_012],
      ['1m0.5s', 60_500],
      ['1h2m3s', 3_723_000],
      ['250ms', 250],
      ['1500us', 1.5],
      ['0s', 0],
      ['0', 0],
      ['15', undefined],
      ['s', undefined],
      ['1x', undefined],
    ];
    for (const [text, ms] of cases) expect(parseDurationMs(text), text).to.equal(ms);
  });

  it('CPU counters: start at the window usage (at least 1 µs), integrate once per scrape, never decrease', () => {
    const counters = new CpuCounters();
    counters.begin(1000);
    expect(counters.advance('a', 2_000_000_000n, windowUsage(2_000_000_000n, 10_000))).to.equal(20_000_000_000n);
    expect(counters.advance('idle', 0n, windowUsage(0n, 10_000))).to.equal(1000n);
    counters.begin(3000);
    expect(counters.advance('a', 1_000_000_000n, 0n)).to.equal(22_000_000_000n);
    // Asked twice in one scrape: integrated once.
    expect(counters.advance('a', 1_000_000_000n, 0n)).to.equal(22_000_000_000n);
    // The clock going back adds nothing and takes nothing.
    counters.begin(2000);
    expect(counters.advance('a', 1_000_000_000n, 0n)).to.equal(22_000_000_000n);
    counters.begin(4000);
    expect(counters.advance('a', 1_000_000_000n, 0n)).to.equal(23_000_000_000n);
    // 'idle' was not seen at the last two scrapes: it resumes without integrating the gap.
    counters.begin(5000);
    expect(counters.advance('idle', 5_000_000_000n, 0n)).to.equal(1000n);
    counters.begin(6000);
    expect(counters.advance('idle', 5_000_000_000n, 0n)).to.equal(5_000_001_000n);
    counters.retain((key) => key !== 'a');
    expect(counters.size).to.equal(1);
  });
});
