/**
 * Entries that stop existing at their `expiresAt`: dropped lazily when read, and by a periodic
 * sweep so that keys never read again do not pile up. The in-process stand-ins for Redis
 * (MemoryStore, MemoryLimiter) keep their state in one of these.
 */
export class ExpiringMap<E extends { expiresAt: number }> {
  readonly #entries = new Map<string, E>()
  readonly #sweeper: NodeJS.Timeout
  /** The clock every expiry is measured against; tests pass their own. */
  readonly now: () => number

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.now = options.now ?? Date.now
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 30_000)
    this.#sweeper.unref()
  }

  /** The entry, unless it has expired (it is then removed). */
  live(key: string): E | undefined {
    const entry = this.#entries.get(key)
    if (entry && entry.expiresAt <= this.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  set(key: string, entry: E): void {
    this.#entries.set(key, entry)
  }

  delete(key: string): boolean {
    return this.#entries.delete(key)
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#entries.clear()
  }

  #sweep(): void {
    const now = this.now()
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key)
  }
}
