// The decision pacer: decisions run inline until a turn has spent its slice on them; the rest
// wait, in order, and run a slice per turn with the event loop's other work in between.
import { expect } from 'chai';
import { DecisionPacer } from '../../../src/webhook/server/pacer.ts';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('decision pacer', function () {
  it('runs cheap decisions inline', function () {
    const pacer = new DecisionPacer(10, (error) => {
      throw error;
    });
    const order: number[] = [];
    for (let index = 0; index < 100; index++) pacer.run(() => order.push(index));
    expect(order).to.have.length(100);
    expect(pacer.waiting()).to.equal(0);
  });

  it('defers decisions past the slice to later turns, in order, letting other work in between', async function () {
    const pacer = new DecisionPacer(10, (error) => {
      throw error;
    });
    const order: string[] = [];
    for (let index = 1; index <= 5; index++) {
      pacer.run(() => {
        order.push(`decision ${index}`);
        busy(6);
      });
    }
    order.push('turn ends');
    setImmediate(() => order.push('other work'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(order).to.deep.equal([
      'decision 1',
      'decision 2',
      'turn ends',
      'decision 3',
      'decision 4',
      'other work',
      'decision 5',
    ]);
    expect(pacer.waiting()).to.equal(0);
  });

  it('reports a decision that throws and goes on with the next', async function () {
    const errors: unknown[] = [];
    const pacer = new DecisionPacer(1, (error) => errors.push(error));
    const done: number[] = [];
    pacer.run(() => busy(2));
    pacer.run(() => {
      throw new Error('bug');
    });
    pacer.run(() => done.push(3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors.map((error) => (error as Error).message)).to.deep.equal(['bug']);
    expect(done).to.deep.equal([3]);
  });
});
