import { hashedPart } from './hash-tag.ts'
import { invalidTtl } from './store.ts'

/**
 * Fixed-window counters checked and counted in one atomic step per group. A group is a set of
 * counters that share a Redis Cluster hash tag; either every counter of every group counts the
 * hit, or none does (a group that took is given back when another refused).
 * Implemented over Redis (one Lua script per group) and in process (the dev default); one contract
 * suite (limiter-contract.ts) runs on both.
 */
export interface WindowCounter {
  /** Names the limit in a refusal (e.g. `mobile-hour`). */
  name: string
  key: string
  /** Hits allowed per window. */
  limit: number
  /** The window starts at the first hit and lasts this long. */
  windowSeconds: number
}

export interface LimitRefusal {
  /** The counter that refused (the one freeing up last when several did). */
  name: string
  /** Milliseconds until that counter's window ends. */
  retryAfterMs: number
}

/**
 * A write made only when a take counts: in the same script where the limiter can, so a send's
 * count and its code are one round trip to Redis (decision record 021).
 */
export interface WriteOnCount {
  /** Stored with a lifetime, replacing any previous value (SET EX). */
  key: string
  value: string
  ttlSeconds: number
  /** Deleted once the value is stored, as KeyValueStore.setThenDel does. */
  deleteKey: string
  /** Makes the same write through the store, for a limiter that cannot do it in its script. */
  store(): Promise<void>
}

export interface RateLimiter {
  /**
   * Counts one hit on every counter, or on none when one is at its limit: null when counted.
   * A write given is made when the take counts and never when it refuses; when the write fails,
   * the hits are given back and take rejects.
   */
  take(
    groups: readonly (readonly WindowCounter[])[],
    write?: WriteOnCount,
  ): Promise<LimitRefusal | null>
  /** Gives back a hit counted by take (a counter falling to zero is removed). */
  giveBack(groups: readonly (readonly WindowCounter[])[]): Promise<void>
  /** Ends the counters' windows now, whatever their counts: the next take starts afresh. */
  clear(groups: readonly (readonly WindowCounter[])[]): Promise<void>
}

/** Checked once here so both implementations refuse the same calls, before anything is counted. */
export function checkCounters(
  groups: readonly (readonly WindowCounter[])[],
  write?: WriteOnCount,
): void {
  // Refused here, not by Redis's SET EX or the store's check, so every limiter refuses it alike.
  const invalid = write && invalidTtl(write.ttlSeconds)
  if (invalid) throw invalid
  for (const group of groups) {
    const [first] = group
    for (const counter of group) {
      // A group is one step in one script: on a Redis Cluster its keys must share a slot.
      if (first && hashedPart(counter.key) !== hashedPart(first.key)) {
        throw new RangeError(
          `counters ${first.name} and ${counter.name} are in one group but hash to different Redis Cluster slots`,
        )
      }
      if (!Number.isInteger(counter.limit) || counter.limit < 0) {
        throw new RangeError(`limit of ${counter.name} must be an integer >= 0`)
      }
      if (!Number.isInteger(counter.windowSeconds) || counter.windowSeconds <= 0) {
        throw new RangeError(`windowSeconds of ${counter.name} must be a positive integer`)
      }
    }
  }
}

/**
 * For a limiter that cannot make the write in its counting step: the store writes once the take
 * counted, and when it fails the hits are given back (a give-back that fails too leaves the limits
 * stricter until their windows end, never looser) and its error rethrown.
 */
export async function storeAfterCount(
  limiter: Pick<RateLimiter, 'giveBack'>,
  groups: readonly (readonly WindowCounter[])[],
  write: WriteOnCount,
): Promise<null> {
  try {
    await write.store()
  } catch (error) {
    await limiter.giveBack(groups).catch(() => undefined)
    throw error
  }
  return null
}

/** Of several refusals, the one that frees up last: only then can a retry succeed. */
export function latestRefusal(refusals: readonly (LimitRefusal | null)[]): LimitRefusal | null {
  let latest: LimitRefusal | null = null
  for (const refusal of refusals) {
    if (refusal && (!latest || refusal.retryAfterMs > latest.retryAfterMs)) latest = refusal
  }
  return latest
}
