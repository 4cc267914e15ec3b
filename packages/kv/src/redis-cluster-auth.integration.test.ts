import { randomBytes, randomUUID } from 'node:crypto'
import { TLSSocket } from 'node:tls'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisLimiter } from './redis-limiter.ts'
import { RedisStore } from './redis-store.ts'
import type { RedisStoreOptions } from './redis-store.ts'
import { StoreUnavailableError } from './store.ts'
import { startRedisCluster } from './testing/redis-cluster.ts'
import type { RedisClusterUnderTest } from './testing/redis-cluster.ts'

// A cluster as a managed one is: every node asks for a password and speaks TLS only (clients,
// bus, replication), with a certificate from a CA of its own that Node does not trust.
let cluster: RedisClusterUnderTest
const stores: RedisStore[] = []
const password = randomBytes(18).toString('base64url')

beforeAll(async () => {
  cluster = await startRedisCluster({ password, tls: true })
})

afterAll(async () => {
  try {
    await Promise.all(stores.map((store) => store.close()))
  } finally {
    await cluster?.stop()
  }
})

/** A store on the cluster through its first node only: it finds the other masters itself. */
function openStore(options: Partial<RedisStoreOptions> = {}): RedisStore {
  const [seed] = cluster.nodes
  if (!seed) throw new Error('the cluster has no nodes')
  const store = new RedisStore({
    ...cluster.connection,
    clusterNodes: [seed],
    keyPrefix: `test:${randomUUID()}:`,
    ...options,
  })
  stores.push(store)
  return store
}

describe('RedisStore on a Redis Cluster with AUTH and TLS', () => {
  it('runs commands, scripts and the health check on every master, each over TLS', async () => {
    const store = openStore()
    await store.ready()
    await store.set('captcha', 'Q7RT', 60)
    expect(await store.getDel('captcha')).toBe('Q7RT')
    expect(await store.getDel('captcha')).toBeNull()
    const limiter = new RedisLimiter(store.redis)
    // Keys on three slots spread over the masters: each group a script on its own master.
    const groups = ['a', 'b', 'c'].map((tag) => [
      { name: tag, key: `limit:{${tag}}`, limit: 1, windowSeconds: 60 },
    ])
    expect(await limiter.take(groups)).toBeNull()
    const [, second = []] = groups
    expect(await limiter.take([second])).toMatchObject({ name: 'b' })
    // PING every master of the slot map: the two it was not given as a seed included.
    await store.ping()
    const masters = (store.redis as Cluster).nodes('master')
    expect(masters).toHaveLength(3)
    for (const node of masters) expect(node.stream).toBeInstanceOf(TLSSocket)
  })

  it('signs in as the ACL user REDIS_CLUSTER_USERNAME names', async () => {
    const store = openStore({ auth: { username: 'default', password } })
    await store.ready()
    await store.set('k', 'v', 60)
    expect(await store.get('k')).toBe('v')
    await store.ping()
  })

  it.each([
    ['a wrong password', { auth: { password: `${password}-wrong` } }],
    ['no password', { auth: undefined }],
    ['an ACL user that does not exist', { auth: { username: 'nobody', password } }],
  ])('fails fast with %s: StoreUnavailableError, no hang', async (_, options) => {
    const store = openStore(options)
    await expect(store.ready(1_000)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.set('k', 'v', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError)
  })

  it('gets nothing over plain TCP from the TLS ports', async () => {
    const store = openStore({ tls: undefined })
    await expect(store.ready(1_000)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.set('k', 'v', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError)
  })

  it("refuses a node whose certificate Node's trusted roots do not vouch for", async () => {
    const store = openStore({ tls: {} })
    await expect(store.ready(1_000)).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.set('k', 'v', 60)).rejects.toBeInstanceOf(StoreUnavailableError)
  })
})
