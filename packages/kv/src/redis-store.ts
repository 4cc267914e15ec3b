import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { StoreUnavailableError } from './store.ts'
import type { KeyValueStore } from './store.ts'

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
