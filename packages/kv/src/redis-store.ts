import { Cluster, Redis } from 'ioredis'
import type { ClusterOptions, RedisOptions } from 'ioredis'
import { hashedPart, keyPrefixProblem } from './hash-tag.ts'
import { invalidTtl, StoreUnavailableError } from './store.ts'
import type { KeyValueStore } from './store.ts'

/** INCR, and an expiry only on a key that has none, so the window starts at the first count. */
const INCREMENT_LUA = `
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count`

/** Compare-and-delete: GET and DEL in one script, so no other client can slip in between. */
const DELETE_IF_EQUAL_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * An expiring set is a sorted set scored by each member's expiry (ms, Redis's own clock, so every
 * instance agrees). Adding drops the members that have gone and sets the key to expire with its
 * latest member; ZADD refuses a key holding a string (WRONGTYPE), as the contract asks.
 */
const EXPIRING_SET_ADD_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]) * 1000, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], latest[2])
return 0`

/** The members whose expiry is still ahead. */
const EXPIRING_SET_MEMBERS_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`

/** The scripts above, registered with defineCommand (EVALSHA, key prefix applied to KEYS). */
interface StoreScripts {
  kvIncrement(key: string, ttlSeconds: number): Promise<number>
  kvDeleteIfEqual(key: string, expected: string): Promise<number>
  kvExpiringSetAdd(key: string, member: string, ttlSeconds: number): Promise<number>
  kvExpiringSetMembers(key: string): Promise<string[]>
}

/** One Redis server, or a Redis Cluster: what RedisStore and RedisLimiter run their commands on. */
export type RedisClient = Redis | Cluster

/** A node of a Redis Cluster to connect through; the client finds the others from it. */
export interface ClusterNodeAddress {
  host: string
  port: number
}

/** AUTH for a Cluster's nodes: a Redis 6+ ACL user, or the default user when no username. */
export interface ClusterAuth {
  username?: string
  password: string
}

/** Where Redis is: one server's URL (its user, password and rediss:// included), or a Cluster. */
export type RedisConnection =
  | { url: string }
  | {
      /** Some nodes of a Redis Cluster (any one that answers is enough). */
      clusterNodes: readonly ClusterNodeAddress[]
      /** Sent by every connection to every node, the ones the client discovers included. */
      auth?: ClusterAuth
      /** TLS to every node; `ca` (PEM) replaces Node's trusted roots. */
      tls?: { ca?: string }
    }

export type RedisStoreOptions = RedisConnection & {
  /** Prepended to every key; lets tests and benchmarks share one Redis without collisions. */
  keyPrefix?: string
  /** A command that has no answer by then fails instead of waiting for a reconnect. */
  commandTimeoutMs?: number
  connectTimeoutMs?: number
}

/**
 * The production store, on one Redis server or a Redis Cluster. Commands fail fast while Redis
 * is unreachable (no offline queue, no blind resend) so a request answers DBERR at once; the
 * client keeps reconnecting in the background and the service recovers by itself when Redis is
 * back, or, on a Cluster, once a replica has taken over (decision record 019).
 */
export class RedisStore implements KeyValueStore {
  readonly redis: RedisClient
  readonly #keyPrefix: string

  constructor(options: RedisStoreOptions) {
    this.#keyPrefix = options.keyPrefix ?? ''
    const problem = keyPrefixProblem(this.#keyPrefix)
    if (problem) throw new RangeError(`keyPrefix ${problem}`)
    const connection = {
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
    }
    if ('clusterNodes' in options) {
      this.redis = new Cluster(
        [...options.clusterNodes],
        clusterOptions(this.#keyPrefix, {
          ...connection,
          ...options.auth,
          ...(options.tls && { tls: options.tls.ca ? { ca: options.tls.ca } : {} }),
        }),
      )
    } else {
      const redisOptions: RedisOptions = {
        ...connection,
        keyPrefix: this.#keyPrefix,
        lazyConnect: false,
        enableOfflineQueue: false,
        // Commands issued in the same tick go out in one write: fewer syscalls under load.
        enableAutoPipelining: true,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      }
      this.redis = new Redis(options.url, redisOptions)
    }
    this.redis.defineCommand('kvIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA })
    this.redis.defineCommand('kvDeleteIfEqual', { numberOfKeys: 1, lua: DELETE_IF_EQUAL_LUA })
    this.redis.defineCommand('kvExpiringSetAdd', { numberOfKeys: 1, lua: EXPIRING_SET_ADD_LUA })
    this.redis.defineCommand('kvExpiringSetMembers', {
      numberOfKeys: 1,
      lua: EXPIRING_SET_MEMBERS_LUA,
    })
    // Connection errors surface through the failing commands; without a listener ioredis would
    // print every reconnect attempt as an unhandled error.
    this.redis.on('error', () => undefined)
  }

  /** Resolves once connected, or rejects after timeoutMs; used at start so the first request is fast. */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.redis.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup()
        reject(new StoreUnavailableError(`Redis not ready after ${timeoutMs} ms`))
      }, timeoutMs)
      const onReady = (): void => {
        cleanup()
        resolve()
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        this.redis.off('ready', onReady)
      }
      this.redis.on('ready', onReady)
    })
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      throw new StoreUnavailableError(`Redis command failed: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  getDel(key: string): Promise<string | null> {
    return this.#run(() => this.redis.getdel(key))
  }

  get(key: string): Promise<string | null> {
    return this.#run(() => this.redis.get(key))
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#run(() => this.redis.set(key, value, 'EX', ttlSeconds))
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const answer = await this.#run(() => this.redis.set(key, value, 'EX', ttlSeconds, 'NX'))
    return answer === 'OK'
  }

  async pttl(key: string): Promise<number | null> {
    const ms = await this.#run(() => this.redis.pttl(key))
    return ms >= 0 ? ms : null
  }

  del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return Promise.resolve(0)
    if (!this.redis.isCluster) return this.#run(() => this.redis.del(...keys))
    // A Cluster refuses a DEL of keys on different slots (CROSSSLOT): one DEL per slot instead.
    const bySlot = new Map<string, string[]>()
    for (const key of keys) {
      const slot = hashedPart(this.#keyPrefix + key)
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), key])
    }
    return this.#run(async () => {
      const counts = await Promise.all(
        [...bySlot.values()].map((group) => this.redis.del(...group)),
      )
      return counts.reduce((sum, count) => sum + count, 0)
    })
  }

  async setThenDel(
    key: string,
    value: string,
    ttlSeconds: number,
    deleteKey: string,
  ): Promise<void> {
    // Checked here: Redis would refuse the SET but still run the DEL sent with it.
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) throw invalid
    const set = () => this.redis.set(key, value, 'EX', ttlSeconds)
    const del = () => this.redis.del(deleteKey)
    await this.#run(async () => {
      // One connection delivers commands in the order they were issued: one round trip for both.
      // On a Cluster two slots may be two nodes, which nothing orders: the SET is awaited first.
      if (
        !this.redis.isCluster ||
        hashedPart(this.#keyPrefix + key) === hashedPart(this.#keyPrefix + deleteKey)
      ) {
        await Promise.all([set(), del()])
      } else {
        await set()
        await del()
      }
    })
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    // Checked here: EXPIRE with 0 or less would delete the counter instead of refusing.
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) return Promise.reject(invalid)
    return this.#run(() => this.#scripts.kvIncrement(key, ttlSeconds))
  }

  async deleteIfEqual(key: string, expected: string): Promise<boolean> {
    return (await this.#run(() => this.#scripts.kvDeleteIfEqual(key, expected))) === 1
  }

  async expiringSetAdd(key: string, member: string, ttlSeconds: number): Promise<void> {
    // Checked here: a member already expired on arrival would make PEXPIREAT delete the set.
    const invalid = invalidTtl(ttlSeconds)
    if (invalid) throw invalid
    await this.#run(() => this.#scripts.kvExpiringSetAdd(key, member, ttlSeconds))
  }

  expiringSetMembers(key: string): Promise<string[]> {
    return this.#run(() => this.#scripts.kvExpiringSetMembers(key))
  }

  async expiringSetRemove(key: string, ...members: string[]): Promise<void> {
    if (members.length === 0) return
    await this.#run(() => this.redis.zrem(key, ...members))
  }

  get #scripts(): StoreScripts {
    return this.redis as unknown as StoreScripts
  }

  async ping(): Promise<void> {
    const { redis } = this
    await this.#run(async () => {
      if (redis instanceof Cluster) await pingMasters(redis)
      else await redis.ping()
    })
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit()
    } catch {
      this.redis.disconnect()
    }
  }
}

/**
 * A Cluster client that fails a command at once rather than wait out a failover (decision record
 * 019): no offline queue, no resend of a command whose connection closed (it may have run), no
 * retry on CLUSTERDOWN. MOVED still redirects and refreshes the slot map, which is how the client
 * finds a promoted replica. No auto-pipelining: ioredis 5.9 pipelines a script by the wrong key
 * and does not follow MOVED for a pipeline that spans slots.
 */
function clusterOptions(
  keyPrefix: string,
  connection: Pick<RedisOptions, 'commandTimeout' | 'username' | 'password' | 'tls'> & {
    connectTimeout: number
  },
): ClusterOptions {
  return {
    // On the Cluster, not in redisOptions: the Cluster prefixes keys and routes by the prefixed key.
    keyPrefix,
    // Reads from a replica could miss a write just made (a captcha, a session) or see a key twice.
    scaleReads: 'master',
    enableOfflineQueue: false,
    enableAutoPipelining: false,
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    slotsRefreshTimeout: connection.connectTimeout,
    // With TLS, a seed node's name is kept, not resolved to an address: the certificate names
    // the host the operator wrote (a managed cluster's endpoint), and Node checks it.
    ...(connection.tls && { dnsLookup: (address, callback) => callback(null, address) }),
    // Each node's own connection, the ones found through CLUSTER SLOTS too (so AUTH and TLS
    // reach every node, the health check's pings included); ioredis fixes its retryStrategy
    // (none) and offline queue.
    redisOptions: { ...connection, maxRetriesPerRequest: 1 },
  }
}

/**
 * A Cluster answers when every master serving a slot answers, as the client routes commands:
 * PING each master of the slot map. A master the map names but the client has no connection to
 * (its connection ended) fails the ping and asks for a fresh slot map, so once a replica has
 * taken over, the next ping finds it.
 */
async function pingMasters(cluster: Cluster): Promise<void> {
  const masters = new Set<string>()
  let covered = 0
  for (const nodes of cluster.slots) {
    if (!nodes?.[0]) continue
    covered += 1
    masters.add(nodes[0])
  }
  const connections = new Map(
    cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]),
  )
  try {
    if (covered < CLUSTER_SLOTS) throw new Error(`${CLUSTER_SLOTS - covered} slots have no master`)
    await Promise.all(
      [...masters].map((key) => {
        const node = connections.get(key)
        if (!node) throw new Error(`no connection to master ${key}`)
        return node.ping()
      }),
    )
  } catch (error) {
    cluster.refreshSlotsCache()
    throw error
  }
}

const CLUSTER_SLOTS = 16_384
