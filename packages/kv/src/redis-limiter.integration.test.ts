import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { describeRateLimiterContract } from './testing/limiter-contract.ts'
import { RedisLimiter } from './redis-limiter.ts'
import type { LimiterMode } from './redis-limiter.ts'
import { RedisStore } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const modes: LimiterMode[] = ['single', 'per-group']

for (const mode of modes) {
  describeRateLimiterContract(`RedisLimiter (${mode}) on real Redis`, async () => {
    const prefix = `test:${randomUUID()}:`
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
    await store.ready()
    const seen = new Set<string>()
    return {
      limiter: new RedisLimiter(store.redis, { mode }),
      peek: async (key) => {
        seen.add(key)
        const count = await store.get(key)
        return count === null
          ? null
          : { count: Number(count), ttlMs: (await store.pttl(key)) ?? -1 }
      },
      close: async () => {
        await store.close()
        // A client without the prefix: ioredis would put the prefix on KEYS' answers a second time.
        const raw = new RedisStore({ url: REDIS_URL })
        try {
          await raw.ready()
          const keys = await raw.redis.keys(`${prefix}*`)
          if (keys.length > 0) await raw.del(...keys)
        } finally {
          await raw.close()
        }
      },
    }
  })

  describe(`RedisLimiter (${mode})`, () => {
    it('puts the store key prefix on its keys', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      const raw = new RedisStore({ url: REDIS_URL })
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        expect(
          await limiter.take([[{ name: 'n', key: 'c:{t}', limit: 1, windowSeconds: 60 }]]),
        ).toBe(null)
        expect(await raw.get(`${prefix}c:{t}`)).toBe('1')
        expect(await raw.get('c:{t}')).toBeNull()
      } finally {
        await raw.del(`${prefix}c:{t}`)
        await Promise.all([store.close(), raw.close()])
      }
    })

    it('a counter that fails counts nothing on the others', async () => {
      const prefix = `test:${randomUUID()}:`
      const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
      try {
        await store.ready()
        const limiter = new RedisLimiter(store.redis, { mode })
        await store.set('broken:{b}', 'not a count', 60)
        const good = { name: 'good', key: 'good:{g}', limit: 5, windowSeconds: 60 }
        const broken = { name: 'broken', key: 'broken:{b}', limit: 5, windowSeconds: 60 }
        await expect(limiter.take([[good], [broken]])).rejects.toBeInstanceOf(StoreUnavailableError)
        expect(await store.get('good:{g}')).toBeNull()
      } finally {
        await store.del('good:{g}', 'broken:{b}')
        await store.close()
      }
    })

    it('fails fast with StoreUnavailableError when Redis is unreachable', async () => {
      const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })
      const limiter = new RedisLimiter(store.redis, { mode })
      const counter = { name: 'n', key: 'k', limit: 1, windowSeconds: 60 }
      await expect(limiter.take([[counter], [counter]])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      )
      await expect(limiter.giveBack([[counter]])).rejects.toBeInstanceOf(StoreUnavailableError)
      await store.close()
    })
  })
}

describe('RedisLimiter mode', () => {
  it('is single on one Redis server unless told otherwise', async () => {
    const store = new RedisStore({ url: REDIS_URL })
    try {
      expect(new RedisLimiter(store.redis).mode).toBe('single')
      expect(new RedisLimiter(store.redis, { mode: 'per-group' }).mode).toBe('per-group')
    } finally {
      await store.close()
    }
  })
})
