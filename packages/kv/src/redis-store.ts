import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { StoreUnavailableError } from './store.ts'
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

/** The scripts above, registered with defineCommand (EVALSHA, key prefix applied to KEYS). */
interface StoreScripts {
  kvIncrement(key: string, ttlSeconds: number): Promise<number>
  kvDeleteIfEqual(key: string, expected: string): Promise<number>
}

export interface RedisStoreOptions {
  url: string
  /** Prepended to every key; lets tests and benchmarks share one Redis without collisions. */
  keyPrefix?: string
  /** A command that has no answer by then fails instead of waiting for a reconnect. */
  commandTimeoutMs?: number
  connectTimeoutMs?: number
}

/**
 * The production store. Commands fail fast while Redis is unreachable (no offline queue, one
 * retry) so a request answers DBERR at once; the client keeps reconnecting in the background and
 * the service recovers by itself when Redis is back.
 */
export class RedisStore implements KeyValueStore {
  readonly redis: Redis

  constructor(options: RedisStoreOptions) {
    const redisOptions: RedisOptions = {
      keyPrefix: options.keyPrefix ?? '',
      lazyConnect: false,
      enableOfflineQueue: false,
      // Commands issued in the same tick go out in one write: fewer syscalls under load.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    }
    this.redis = new Redis(options.url, redisOptions)
    this.redis.defineCommand('kvIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA })
    this.redis.defineCommand('kvDeleteIfEqual', { numberOfKeys: 1, lua: DELETE_IF_EQUAL_LUA })
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
    return this.#run(() => this.redis.del(...keys))
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    // Checked here: EXPIRE with 0 or less would delete the counter instead of refusing.
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
      return Promise.reject(
        new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`),
      )
    }
    return this.#run(() => this.#scripts.kvIncrement(key, ttlSeconds))
  }

  async deleteIfEqual(key: string, expected: string): Promise<boolean> {
    return (await this.#run(() => this.#scripts.kvDeleteIfEqual(key, expected))) === 1
  }

  get #scripts(): StoreScripts {
    return this.redis as unknown as StoreScripts
  }

  async ping(): Promise<void> {
    await this.#run(() => this.redis.ping())
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit()
    } catch {
      this.redis.disconnect()
    }
  }
}
