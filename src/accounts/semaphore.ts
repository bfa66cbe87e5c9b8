/**
 * A counting semaphore: at most `capacity` holders at once, the rest wait in arrival order.
 * Used to bound CPU- and memory-heavy work (Argon2 takes ~19 MiB and ~30 ms per call; a photo
 * decode up to ~80 MB) so a burst queues instead of exhausting memory or starving the event loop's
 * thread pool.
 */
export interface Semaphore {
  /** Runs `task` once a slot is free; never rejects for being busy. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /**
   * Runs `task` once a slot is free, unless `maxWaiting` are already waiting or no slot comes within
   * `maxWaitMs`: then `{ ran: false }` and the task never runs (work a person may simply retry).
   */
  runWithin<T>(task: () => Promise<T>, limits: { readonly maxWaiting: number; readonly maxWaitMs: number }): Promise<{ ran: true; value: T } | { ran: false }>;
  readonly active: number;
  readonly waiting: number;
  /** The most holders seen at once since creation (for tests and metrics). */
  readonly peak: number;
}

export function createSemaphore(capacity: number): Semaphore {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`semaphore capacity must be a positive integer, got ${capacity}`);
  let active = 0;
  let peak = 0;
  const queue: (() => void)[] = [];

  function acquire(): Promise<void> {
    if (active < capacity) {
      active++;
      peak = Math.max(peak, active);
      return Promise.resolve();
    }
    // The releasing holder hands its slot straight to the next waiter, so `active` never dips
    // and a newcomer can never jump the queue.
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  /** A slot, or false when the queue is full or no slot came in time. */
  function acquireWithin(limits: { maxWaiting: number; maxWaitMs: number }): Promise<boolean> {
    if (active < capacity) return acquire().then(() => true);
    if (queue.length >= limits.maxWaiting) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const take = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(take), 1);
        resolve(false);
      }, limits.maxWaitMs);
      queue.push(take);
    });
  }

  function release(): void {
    const next = queue.shift();
    if (next) {
      next();
    } else {
      active--;
    }
  }

  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await task();
      } finally {
        release();
      }
    },
    async runWithin<T>(task: () => Promise<T>, limits: { maxWaiting: number; maxWaitMs: number }): Promise<{ ran: true; value: T } | { ran: false }> {
      if (!(await acquireWithin(limits))) return { ran: false };
      try {
        return { ran: true, value: await task() };
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    get peak() {
      return peak;
    },
  };
}
