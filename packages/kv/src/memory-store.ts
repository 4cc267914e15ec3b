import { ExpiringMap } from './expiring-map.ts'
import type { KeyValueStore } from './store.ts'

interface Entry {
  value: string
  expiresAt: number
}

/**
 * The in-process dev default when REDIS_URL is unset: same semantics as the Redis store (TTL,
 * atomic get-and-delete, set-if-absent, counters, compare-and-delete). Atomic because each method
 * runs to completion on the single JavaScript thread before another starts. Not shared between processes.
 */
export class MemoryStore implements KeyValueStore {
  readonly #entries: ExpiringMap<Entry>

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.#entries = new ExpiringMap<Entry>(options)
  }

  #live(key: string): Entry | undefined {
    return this.#entries.live(key)
  }

  #now(): number {
    return this.#entries.now()
  }

  getDel(key: string): Promise<string | null> {
    const entry = this.#live(key)
    this.#entries.delete(key)
    return Promise.resolve(entry?.value ?? null)
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.#live(key)?.value ?? null)
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) return Promise.reject(invalid)
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 })
    return Promise.resolve()
  }

  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) return Promise.reject(invalid)
    if (this.#live(key)) return Promise.resolve(false)
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 })
    return Promise.resolve(true)
  }

  pttl(key: string): Promise<number | null> {
    const entry = this.#live(key)
    return Promise.resolve(entry ? entry.expiresAt - this.#now() : null)
  }

  del(...keys: string[]): Promise<number> {
    let removed = 0
    for (const key of keys) if (this.#live(key) && this.#entries.delete(key)) removed++
    return Promise.resolve(removed)
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) return Promise.reject(invalid)
    const entry = this.#live(key)
    if (!entry) {
      this.#entries.set(key, { value: '1', expiresAt: this.#now() + ttlSeconds * 1000 })
      return Promise.resolve(1)
    }
    // Redis refuses INCR on a value that is not a base-10 integer; so does the stand-in.
    if (!/^-?\d+$/.test(entry.value)) {
      return Promise.reject(new TypeError(`value of ${key} is not an integer`))
    }
    const count = Number(entry.value) + 1
    entry.value = String(count)
    return Promise.resolve(count)
  }

  deleteIfEqual(key: string, expected: string): Promise<boolean> {
    if (this.#live(key)?.value !== expected) return Promise.resolve(false)
    this.#entries.delete(key)
    return Promise.resolve(true)
  }

  ping(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.#entries.close()
    return Promise.resolve()
  }
}

function invalidTtl(ttlSeconds: number): RangeError | undefined {
  // Redis rejects a non-positive or fractional EX; the stand-in must refuse the same calls.
  if (Number.isInteger(ttlSeconds) && ttlSeconds > 0) return undefined
  return new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`)
}
