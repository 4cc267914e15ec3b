import { describe, expect, it } from 'vitest'
import { MemoryLimiter } from './memory-limiter.ts'
import { MemoryStore } from './memory-store.ts'
import { describeRateLimiterContract } from './testing/limiter-contract.ts'

describeRateLimiterContract('in-process MemoryLimiter', () => {
  const limiter = new MemoryLimiter()
  const store = new MemoryStore()
  return Promise.resolve({
    limiter,
    peek: (key) => Promise.resolve(limiter.peek(key)),
    store,
    // Its writes go through the store, whose failure the contract scripts.
    unwritableKey: (name) => `unwritable:${name}`,
    close: async () => {
      await Promise.all([limiter.close(), store.close()])
    },
  })
})

describe('MemoryLimiter', () => {
  it('follows its clock: a window ends when the clock passes it', async () => {
    let now = 1_000_000
    const limiter = new MemoryLimiter({ now: () => now })
    const counter = { name: 'hour', key: 'k', limit: 1, windowSeconds: 3600 }
    expect(await limiter.take([[counter]])).toBeNull()
    now += 3_599_000
    expect(await limiter.take([[counter]])).toEqual({ name: 'hour', retryAfterMs: 1_000 })
    now += 1_000
    expect(await limiter.take([[counter]])).toBeNull()
    await limiter.close()
  })
})
