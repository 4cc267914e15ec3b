import { ExpiringMap } from './expiring-map.ts'
import { checkCounters, latestRefusal, storeAfterCount } from './rate-limiter.ts'
import type { LimitRefusal, RateLimiter, WindowCounter, WriteOnCount } from './rate-limiter.ts'

interface Window {
  count: number
  expiresAt: number
}

/**
 * The in-process dev default, with the Redis limiter's semantics. Atomic because take runs to
 * completion on the single JavaScript thread; not shared between processes.
 */
export class MemoryLimiter implements RateLimiter {
  readonly #windows: ExpiringMap<Window>

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.#windows = new ExpiringMap<Window>(options)
  }

  #live(key: string): Window | undefined {
    return this.#windows.live(key)
  }

  #now(): number {
    return this.#windows.now()
  }

  take(
    groups: readonly (readonly WindowCounter[])[],
    write?: WriteOnCount,
  ): Promise<LimitRefusal | null> {
    try {
      checkCounters(groups, write)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new RangeError(String(error)))
    }
    // Each group refuses on its own, as a Redis script would; the latest refusal is answered.
    const refusals = groups.map((group) => {
      const inGroup = group.map((counter) => {
        const window = this.#live(counter.key)
        const count = window?.count ?? 0
        if (count < counter.limit) return null
        return {
          name: counter.name,
          retryAfterMs: window ? window.expiresAt - this.#now() : counter.windowSeconds * 1000,
        }
      })
      return latestRefusal(inGroup)
    })
    const refusal = latestRefusal(refusals)
    if (refusal) return Promise.resolve(refusal)
    for (const counter of groups.flat()) {
      const window = this.#live(counter.key)
      if (window) window.count++
      else {
        this.#windows.set(counter.key, {
          count: 1,
          expiresAt: this.#now() + counter.windowSeconds * 1000,
        })
      }
    }
    // No script to write in: the store writes after the count.
    return write ? storeAfterCount(this, groups, write) : Promise.resolve(null)
  }

  giveBack(groups: readonly (readonly WindowCounter[])[]): Promise<void> {
    for (const counter of groups.flat()) {
      const window = this.#live(counter.key)
      if (!window) continue
      if (window.count > 1) window.count--
      else this.#windows.delete(counter.key)
    }
    return Promise.resolve()
  }

  clear(groups: readonly (readonly WindowCounter[])[]): Promise<void> {
    for (const counter of groups.flat()) this.#windows.delete(counter.key)
    return Promise.resolve()
  }

  /** The live count and milliseconds left of a key's window, for tests. */
  peek(key: string): { count: number; ttlMs: number } | null {
    const window = this.#live(key)
    return window ? { count: window.count, ttlMs: window.expiresAt - this.#now() } : null
  }

  close(): Promise<void> {
    this.#windows.close()
    return Promise.resolve()
  }
}
