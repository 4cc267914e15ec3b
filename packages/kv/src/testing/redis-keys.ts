import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'

/**
 * Removes every key under `prefix` from one Redis server (or one node of a cluster): SCAN, then
 * one DEL per key, which a cluster node accepts whatever the keys' slots. Tests call it once they
 * are done; the keys carry TTLs anyway.
 */
export async function deleteKeysWithPrefix(
  server: string | Pick<RedisOptions, 'host' | 'port' | 'password' | 'tls'>,
  prefix: string,
): Promise<void> {
  const options: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 1 }
  const redis =
    typeof server === 'string' ? new Redis(server, options) : new Redis({ ...server, ...options })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      await Promise.all(keys.map((key) => redis.del(key)))
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
