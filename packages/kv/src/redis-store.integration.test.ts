import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { RedisStore } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'
import { describeKeyValueStoreContract } from './testing/store-contract.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

describeKeyValueStoreContract('RedisStore on real Redis', async () => {
  const store = new RedisStore({ url: REDIS_URL, keyPrefix: `test:${randomUUID()}:` })
  await store.ready()
  return store
})

describe('RedisStore scripts', () => {
  it('put the key prefix on the keys they touch, like plain commands', async () => {
    const prefix = `test:${randomUUID()}:`
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: prefix })
    const raw = new RedisStore({ url: REDIS_URL })
    try {
      await store.ready()
      expect(await store.increment('counter', 60)).toBe(1)
      expect(await raw.get(`${prefix}counter`)).toBe('1')
      expect(await raw.get('counter')).toBeNull()
      await raw.set(`${prefix}code`, '123456', 60)
      expect(await store.deleteIfEqual('code', '123456')).toBe(true)
      expect(await raw.get(`${prefix}code`)).toBeNull()
    } finally {
      await raw.del(`${prefix}counter`, `${prefix}code`)
      await Promise.all([store.close(), raw.close()])
    }
  })
})

describe('RedisStore when Redis is unreachable', () => {
  it('fails fast with StoreUnavailableError instead of queueing', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })
    const started = Date.now()
    await expect(store.getDel('ImageCode_x')).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.setIfAbsent('k', 'v', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.increment('k', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.deleteIfEqual('k', 'v')).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(Date.now() - started).toBeLessThan(3_000)
    await store.close()
  })
})
