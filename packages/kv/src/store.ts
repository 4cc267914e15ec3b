/**
 * The few key-value operations the domain needs, each atomic on its own.
 * Implemented by Redis (production) and by an in-process map (the dev default); one contract suite
 * (store-contract.ts) runs on both so they cannot drift.
 */
export interface KeyValueStore {
  /** Reads and deletes in one step (GETDEL): of two concurrent callers only one sees the value. */
  getDel(key: string): Promise<string | null>
  get(key: string): Promise<string | null>
  /** Stores with a lifetime, replacing any previous value. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>
  /** SET NX EX: true when this call created the key, false when it already existed. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>
  /** Milliseconds the key still lives; null when it does not exist or never expires. */
  pttl(key: string): Promise<number | null>
  /** Deletes the keys, answering how many existed (not one atomic step across keys). */
  del(...keys: string[]): Promise<number>
  /**
   * Stores `key` with a lifetime, then deletes `deleteKey`, in that order: whoever sees the
   * delete done sees the new value too, on a Redis Cluster as well, where the two keys may live
   * on two nodes.
   */
  setThenDel(key: string, value: string, ttlSeconds: number, deleteKey: string): Promise<void>
  /**
   * INCR in one step with a lifetime: answers the new count (1 for a new key). The TTL is set when
   * the key is created and not extended by later increments, so a counter's window is fixed.
   */
  increment(key: string, ttlSeconds: number): Promise<number>
  /** Deletes the key only if it still holds `expected`: true for exactly one of concurrent callers. */
  deleteIfEqual(key: string, expected: string): Promise<boolean>
  /**
   * Adds a member to the set at `key` that lives ttlSeconds (renewing it if present), in one step.
   * Members expire on their own; the key lives as long as its longest-lived member, so a set never
   * outlives what it lists nor piles up members that have gone. Refused on a key holding a string.
   */
  expiringSetAdd(key: string, member: string, ttlSeconds: number): Promise<void>
  /** The set's live members, in no particular order; empty when the key does not exist. */
  expiringSetMembers(key: string): Promise<string[]>
  /** Removes these members (those absent are no error). */
  expiringSetRemove(key: string, ...members: string[]): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>
}

/** Thrown by a store when the backing service cannot answer (down, timeout, refused). */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * Why a lifetime cannot be stored, or undefined: Redis refuses a non-positive or fractional EX, so
 * every store and limiter refuses the same values before anything is written.
 */
export function invalidTtl(ttlSeconds: number): RangeError | undefined {
  if (Number.isInteger(ttlSeconds) && ttlSeconds > 0) return undefined
  return new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`)
}
