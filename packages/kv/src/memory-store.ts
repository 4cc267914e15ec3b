import { ExpiringMap } from './expiring-map.ts'
import { invalidTtl } from './store.ts'
import type { KeyValueStore } from './store.ts'

interface StringEntry {
  kind: 'string'
  value: string
  expiresAt: number
}

/** An expiring set: each member with its own expiry; the entry's is the latest of them. */
interface SetEntry {
  kind: 'set'
  members: Map<string, number>
  expiresAt: number
}

type Entry = StringEntry | SetEntry

/**
 * The in-process dev default when REDIS_URL is unset: same semantics as the Redis store (TTL,
 * atomic get-and-delete, set-if-absent, counters, compare-and-delete, expiring sets). Atomic
 * because each method runs to completion on the single JavaScript thread before another starts.
 * Not shared between processes.
 */
export class MemoryStore implements KeyValueStore {
  readonly #entries: ExpiringMap<Entry>

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.#entries = new ExpiringMap<Entry>(options)
  }

  #live(key: string): Entry | undefined {
    return this.#entries.live(key)
  }

  /** The live string at key; a set there is refused, as Redis answers WRONGTYPE. */
  #string(key: string): StringEntry | undefined {
    const entry = this.#live(key)
    if (entry?.kind === 'set') throw wrongType(key)
    return entry
  }

  #now(): number {
    return this.#entries.now()
  }

  getDel(key: string): Promise<string | null> {
    return attempt(() => {
      const entry = this.#string(key)
      this.#entries.delete(key)
      return entry?.value ?? null
    })
  }

  get(key: string): Promise<string | null> {
    return attempt(() => this.#string(key)?.value ?? null)
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    return attempt(() => {
      checkTtl(ttlSeconds)
      // SET replaces a value of any type, as in Redis.
      this.#entries.set(key, { kind: 'string', value, expiresAt: this.#expiry(ttlSeconds) })
    })
  }

  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return attempt(() => {
      checkTtl(ttlSeconds)
      if (this.#live(key)) return false
      this.#entries.set(key, { kind: 'string', value, expiresAt: this.#expiry(ttlSeconds) })
      return true
    })
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

  setThenDel(key: string, value: string, ttlSeconds: number, deleteKey: string): Promise<void> {
    return attempt(() => {
      checkTtl(ttlSeconds)
      this.#entries.set(key, { kind: 'string', value, expiresAt: this.#expiry(ttlSeconds) })
      this.#entries.delete(deleteKey)
    })
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    return attempt(() => {
      checkTtl(ttlSeconds)
      const entry = this.#string(key)
      if (!entry) {
        this.#entries.set(key, { kind: 'string', value: '1', expiresAt: this.#expiry(ttlSeconds) })
        return 1
      }
      // Redis refuses INCR on a value that is not a base-10 integer; so does the stand-in.
      if (!/^-?\d+$/.test(entry.value)) throw new TypeError(`value of ${key} is not an integer`)
      const count = Number(entry.value) + 1
      entry.value = String(count)
      return count
    })
  }

  deleteIfEqual(key: string, expected: string): Promise<boolean> {
    return attempt(() => {
      if (this.#string(key)?.value !== expected) return false
      this.#entries.delete(key)
      return true
    })
  }

  expiringSetAdd(key: string, member: string, ttlSeconds: number): Promise<void> {
    return attempt(() => {
      checkTtl(ttlSeconds)
      const entry = this.#live(key)
      if (entry?.kind === 'string') throw wrongType(key)
      const set: SetEntry = entry ?? { kind: 'set', members: new Map(), expiresAt: 0 }
      set.members.set(member, this.#expiry(ttlSeconds))
      this.#prune(set)
      this.#entries.set(key, set)
    })
  }

  expiringSetMembers(key: string): Promise<string[]> {
    return attempt(() => {
      const set = this.#set(key)
      if (!set) return []
      this.#prune(set)
      return [...set.members.keys()]
    })
  }

  expiringSetRemove(key: string, ...members: string[]): Promise<void> {
    return attempt(() => {
      const set = this.#set(key)
      if (!set) return
      for (const member of members) set.members.delete(member)
      this.#prune(set)
      if (set.members.size === 0) this.#entries.delete(key)
    })
  }

  /** The live set at key; a string there is refused, as Redis answers WRONGTYPE. */
  #set(key: string): SetEntry | undefined {
    const entry = this.#live(key)
    if (entry?.kind === 'string') throw wrongType(key)
    return entry
  }

  /** Drops the members that have expired; the set then lives as long as its latest member. */
  #prune(set: SetEntry): void {
    const now = this.#now()
    let latest = 0
    for (const [member, expiresAt] of set.members) {
      if (expiresAt <= now) set.members.delete(member)
      else latest = Math.max(latest, expiresAt)
    }
    set.expiresAt = latest
  }

  #expiry(ttlSeconds: number): number {
    return this.#now() + ttlSeconds * 1000
  }

  ping(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.#entries.close()
    return Promise.resolve()
  }
}

/** Runs a step synchronously (so it is atomic) and answers its outcome as a promise. */
function attempt<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step())
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

/** The stand-in refuses the lifetimes Redis refuses. */
function checkTtl(ttlSeconds: number): void {
  const invalid = invalidTtl(ttlSeconds)
  if (invalid) throw invalid
}

function wrongType(key: string): TypeError {
  return new TypeError(`${key} holds a value of another type`)
}
