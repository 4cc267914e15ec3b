import { afterAll, beforeAll, describe } from 'vitest'
import { RedisStore } from '@signup/kv/redis-store'
import { startRedisCluster } from '@signup/kv/testing/redis-cluster'
import type { RedisClusterUnderTest } from '@signup/kv/testing/redis-cluster'
import { deleteKeysWithPrefix, TEST_REDIS_URL } from './test-infra.ts'

/** A Redis an integration suite runs on, as the server would be pointed at it. */
export interface TestRedis {
  /** REDIS_URL, or REDIS_CLUSTER_NODES: the variables that connect a server to it. */
  env: Record<string, string>
  /** The same kind of Redis where nothing answers, for the outage tests. */
  unreachableEnv: Record<string, string>
  /** A store on it under `keyPrefix`: reads what the server stored, seeds what it will read. */
  open(keyPrefix: string): Promise<RedisStore>
  deleteKeysWithPrefix(prefix: string): Promise<void>
}

const oneServer: TestRedis = {
  env: { REDIS_URL: TEST_REDIS_URL },
  unreachableEnv: { REDIS_URL: 'redis://127.0.0.1:1' },
  async open(keyPrefix) {
    const store = new RedisStore({ url: TEST_REDIS_URL, keyPrefix })
    await store.ready()
    return store
  },
  deleteKeysWithPrefix: (prefix) => deleteKeysWithPrefix(prefix),
}

function onCluster(cluster: RedisClusterUnderTest): TestRedis {
  return {
    env: { REDIS_CLUSTER_NODES: cluster.nodesEnv },
    unreachableEnv: { REDIS_CLUSTER_NODES: '127.0.0.1:1' },
    async open(keyPrefix) {
      const store = new RedisStore({ clusterNodes: cluster.nodes, keyPrefix })
      await store.ready()
      return store
    },
    deleteKeysWithPrefix: (prefix) => cluster.deleteKeysWithPrefix(prefix),
  }
}

/**
 * Runs `suite` twice: on the shared Redis server (TEST_REDIS_URL), and on a Redis Cluster of six
 * redis-server processes started for it. `redis()` answers the one in use, once the suite's
 * hooks run.
 */
export function describeOnEachRedis(name: string, suite: (redis: () => TestRedis) => void): void {
  describe(`${name} (one Redis server)`, () => {
    suite(() => oneServer)
  })
  describe(`${name} (Redis Cluster)`, () => {
    let cluster: RedisClusterUnderTest | undefined
    beforeAll(async () => {
      cluster = await startRedisCluster()
    })
    afterAll(async () => {
      await cluster?.stop()
    })
    // A suite of its own: should one of its afterAll hooks fail, the one above still runs.
    describe('on six redis-server processes', () => {
      suite(() => {
        if (!cluster) throw new Error('the Redis Cluster has not started')
        return onCluster(cluster)
      })
    })
  })
}
