import { expect } from 'chai';
import { createSemaphore } from '../../src/accounts/semaphore.js';

/** A task that holds its slot until `release` is called. */
function held(): { task: () => Promise<string>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: async () => (await done, 'held'), release };
}

describe('semaphore', () => {
  it('runs at most `capacity` tasks at once and the rest in arrival order', async () => {
    const semaphore = createSemaphore(2);
    const order: number[] = [];
    const first = held();
    const running = [semaphore.run(first.task), semaphore.run(async () => order.push(2)), semaphore.run(async () => order.push(3))];
    await Promise.resolve();
    expect(semaphore.peak).to.equal(2);
    first.release();
    await Promise.all(running);
    expect(order).to.deep.equal([2, 3]);
    expect(semaphore.active).to.equal(0);
  });

  it('runWithin refuses at once when the queue is full, and after maxWaitMs when no slot comes, without running the task', async () => {
    const semaphore = createSemaphore(1);
    const blocker = held();
    const blocking = semaphore.run(blocker.task);
    let ran = 0;
    const task = async (): Promise<number> => ++ran;
    expect(await semaphore.runWithin(task, { maxWaiting: 0, maxWaitMs: 1000 })).to.deep.equal({ ran: false });
    const started = Date.now();
    expect(await semaphore.runWithin(task, { maxWaiting: 5, maxWaitMs: 50 })).to.deep.equal({ ran: false });
    expect(Date.now() - started).to.be.at.least(45);
    expect(semaphore.waiting, 'a waiter that gave up leaves the queue').to.equal(0);
    expect(ran).to.equal(0);

    const waiting = semaphore.runWithin(task, { maxWaiting: 5, maxWaitMs: 5000 });
    blocker.release();
    await blocking;
    expect(await waiting).to.deep.equal({ ran: true, value: 1 });
    expect(semaphore.active).to.equal(0);
  });
});
