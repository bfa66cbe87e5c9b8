/**
 * A small in-memory store with expiry and a size cap, for the demo RP's pending sign-ins and
 * sessions. In memory on purpose: the demo holds nothing worth keeping across restarts, and a real
 * service would use its own session store. The cap stops a flood of /login requests growing memory.
 */
export class ExpiringStore<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly options: { readonly ttlMs: number; readonly maxEntries: number; readonly now?: () => number },
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(options.ttlMs, 60_000));
    // The sweep must never keep the process alive on its own.
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  set(id: string, value: T): void {
    this.entries.delete(id);
    if (this.entries.size >= this.options.maxEntries) {
      this.sweep();
      // Still full: drop the oldest (Map iteration order is insertion order).
      const oldest = this.entries.keys().next();
      if (this.entries.size >= this.options.maxEntries && !oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(id, { value, expiresAt: this.now() + this.options.ttlMs });
  }

  get(id: string | undefined): T | undefined {
    if (id === undefined) return undefined;
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.value;
  }

  /** Returns and removes the value: for one-time use (a pending sign-in is consumed by its callback). */
  take(id: string | undefined): T | undefined {
    const value = this.get(id);
    if (id !== undefined) this.entries.delete(id);
    return value;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.entries.delete(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
