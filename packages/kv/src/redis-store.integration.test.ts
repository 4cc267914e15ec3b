import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { RedisStore } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'
import { describeKeyValueStoreContract } from './store-contract.ts'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

describeKeyValueStoreContract('RedisStore on real Redis', async () => {
  const store = new RedisStore({ url: REDIS_URL, keyPrefix: `test:${randomUUID()}:` })
  await store.ready()
  return store
})

describe('RedisStore when Redis is unreachable', () => {
  it('fails fast with StoreUnavailableError instead of queueing', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 })
    const started = Date.now()
    await expect(store.getDel('ImageCode_x')).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.setIfAbsent('k', 'v', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(Date.now() - started).toBeLessThan(3_000)
    await store.close()
  })
})
