import { randomUUID } from 'node:crypto'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisLimiter } from './redis-limiter.ts'
import { RedisStore } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'
import { describeRateLimiterContract } from './testing/limiter-contract.ts'
import { startRedisCluster } from './testing/redis-cluster.ts'
import type { RedisClusterUnderTest } from './testing/redis-cluster.ts'
import { describeKeyValueStoreContract } from './testing/store-contract.ts'

// One cluster for the file: six redis-server processes, three masters with a replica each.
let cluster: RedisClusterUnderTest
const stores: RedisStore[] = []

beforeAll(async () => {
  // A short cluster-node-timeout: the last test kills a master and waits for its replica.
  cluster = await startRedisCluster({ nodeTimeoutMs: 3_000 })
})

afterAll(async () => {
  try {
    await Promise.all(stores.map((store) => store.close()))
  } finally {
    await cluster?.stop()
  }
})

/** A store on the cluster under a prefix of its own, closed with the file. */
async function openStore(keyPrefix = `test:${randomUUID()}:`): Promise<RedisStore> {
  const store = new RedisStore({ clusterNodes: cluster.nodes, keyPrefix })
  stores.push(store)
  await store.ready()
  return store
}

const clientOf = (store: RedisStore) => store.redis as Cluster

describeKeyValueStoreContract('RedisStore on a Redis Cluster', () => openStore())

describeRateLimiterContract('RedisLimiter (per-group) on a Redis Cluster', async () => {
  const store = await openStore()
  return {
    limiter: new RedisLimiter(store.redis),
    store,
    // Per group, its writes go through the store, whose failure the contract scripts.
    unwritableKey: (name) => `unwritable:${name}`,
    peek: async (key) => {
      const count = await store.get(key)
      return count === null ? null : { count: Number(count), ttlMs: (await store.pttl(key)) ?? -1 }
    },
    close: () => Promise.resolve(),
  }
})

describe('RedisStore and RedisLimiter on a Redis Cluster', () => {
  it('put the key prefix on plain commands and scripts; a tag in the key still picks the slot', async () => {
    const prefix = `test:${randomUUID()}:`
    const store = await openStore(prefix)
    const raw = await openStore('')
    await store.set('plain', 'x', 60)
    expect(await store.increment('count:{t}', 60)).toBe(1)
    expect(await raw.get(`${prefix}plain`)).toBe('x')
    expect(await raw.get(`${prefix}count:{t}`)).toBe('1')
    expect(await clientOf(raw).cluster('KEYSLOT', `${prefix}count:{t}`)).toBe(
      await clientOf(raw).cluster('KEYSLOT', 'another:{t}'),
    )
    const limiter = new RedisLimiter(store.redis)
    expect(limiter.mode).toBe('per-group')
    const group = [
      { name: 'a', key: 'a:{same}', limit: 1, windowSeconds: 60 },
      { name: 'b', key: 'b:{same}', limit: 1, windowSeconds: 60 },
    ]
    expect(await limiter.take([group])).toBeNull()
    expect(await raw.get(`${prefix}b:{same}`)).toBe('1')
  })

  it('refuses a key prefix with "{" and a single-script limiter', () => {
    expect(() => new RedisStore({ clusterNodes: cluster.nodes, keyPrefix: 'app{1}:' })).toThrow(
      /must not contain "\{"/,
    )
    const store = new RedisStore({ clusterNodes: cluster.nodes })
    stores.push(store)
    expect(() => new RedisLimiter(store.redis, { mode: 'single' })).toThrow(/per-group/)
  })

  it('setThenDel: the delete is never seen before the value, though their masters differ', async () => {
    const store = await openStore('')
    const ns = `test:${randomUUID()}:`
    // The original's key has no hash tag; its attempt count is tagged on the mobile.
    let n = 0
    const pair = () => ({ code: `${ns}SMS_${n}`, count: `${ns}attempts:{${n}}` })
    while ((await cluster.masterOf(pair().code)) === (await cluster.masterOf(pair().count))) n++
    const { code, count } = pair()
    await store.set(code, 'old', 60)
    await store.set(count, '4', 60)
    // Writes to the code's master wait half a second; reads go on.
    const master = await cluster.masterOf(code)
    const node = clientOf(store)
      .nodes('master')
      .find((each) => each.options.port === master)
    await node?.call('CLIENT', 'PAUSE', '500', 'WRITE')
    let done = false
    const saving = store.setThenDel(code, 'new', 60, count).finally(() => {
      done = true
    })
    // Read on connections of their own: the store's queue behind the paused SET.
    const observer = await openStore('')
    const seen: string[] = []
    while (!done) {
      const countLeft = await observer.get(count)
      const value = await observer.get(code)
      if (countLeft === null) seen.push(value ?? 'none')
    }
    await saving
    expect(seen.filter((value) => value !== 'new')).toEqual([])
    expect(await store.get(code)).toBe('new')
    expect(await store.get(count)).toBeNull()
    await store.del(code)
  })

  it('fails fast with StoreUnavailableError when no node answers', async () => {
    const store = new RedisStore({
      clusterNodes: [{ host: '127.0.0.1', port: 1 }],
      connectTimeoutMs: 200,
    })
    stores.push(store)
    const limiter = new RedisLimiter(store.redis)
    await expect(store.getDel('ImageCode_x')).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.increment('k', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError)
    const counter = { name: 'n', key: 'k', limit: 1, windowSeconds: 60 }
    await expect(limiter.take([[counter]])).rejects.toBeInstanceOf(StoreUnavailableError)
  })
})

// Last: it kills a master of the file's cluster.
describe('a master killed', () => {
  it('fails the ping while its slots have no master, and both recover once the replica took over', async () => {
    const prefix = `test:${randomUUID()}:`
    const store = await openStore(prefix)
    await expect(store.ping()).resolves.toBeUndefined()
    const [master] = (await cluster.state()).filter((node) => node.role === 'master')
    if (!master) throw new Error('the cluster has no master')
    let n = 0
    while ((await cluster.masterOf(`${prefix}key-${n}`)) !== master.port) n++
    const key = `key-${n}`
    await cluster.kill(master.port)
    const health = () =>
      store.ping().then(
        () => 'ok',
        () => 'down',
      )
    await expect.poll(health, { timeout: 30_000 }).toBe('down')
    await expect.poll(health, { timeout: 60_000, interval: 200 }).toBe('ok')
    await store.set(key, 'after', 60)
    expect(await store.get(key)).toBe('after')
  }, 120_000)
})
