/**
 * A small in-memory store with expiry and a size cap, for the demo RP's pending sign-ins and
 * sessions. In memory on purpose: the demo holds nothing worth keeping across restarts, and a real
 * service would use its own session store. The cap stops a flood of /login requests growing memory.
 */
export class ExpiringStore<T> {
  private readonly items = new Map<string, { value: T; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly options: { readonly ttlMs: number; readonly maxEntries: number; readonly now?: () => number },
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(options.ttlMs, 60_000));
    // The sweep must never keep the process alive on its own.
    this.sweeper.unref();
  }

  get size(): number {
    return this.items.size;
  }

  set(id: string, value: T): void {
    this.items.delete(id);
    if (this.items.size >= this.options.maxEntries) {
      this.sweep();
      // Still full: drop the oldest (Map iteration order is insertion order).
      const oldest = this.items.keys().next();
      if (this.items.size >= this.options.maxEntries && !oldest.done) this.items.delete(oldest.value);
    }
    this.items.set(id, { value, expiresAt: this.now() + this.options.ttlMs });
  }

  get(id: string | undefined): T | undefined {
    if (id === undefined) return undefined;
    const entry = this.items.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.items.delete(id);
      return undefined;
    }
    return entry.value;
  }

  /** Returns and removes the value: for one-time use (a pending sign-in is consumed by its callback). */
  take(id: string | undefined): T | undefined {
    const value = this.get(id);
    if (id !== undefined) this.items.delete(id);
    return value;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.items.delete(id);
  }

  /** The live entries (for a search by value, such as every session of one person). */
  *entries(): Generator<[string, T]> {
    const now = this.now();
    for (const [id, entry] of [...this.items]) if (entry.expiresAt > now) yield [id, entry.value];
  }

  close(): void {
    clearInterval(this.sweeper);
    this.items.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.items) if (entry.expiresAt <= now) this.items.delete(id);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
