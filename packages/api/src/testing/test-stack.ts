import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
} from './test-infra.ts'
import type { TestDatabase } from './test-infra.ts'
import { RedisStore } from '@signup/kv/redis-store'
import { startServer } from './test-server.ts'
import type { RunningServer } from './test-server.ts'

/** A production server on its own database and Redis key prefix, and a view into that Redis. */
export interface TestStack {
  server: RunningServer
  database: TestDatabase
  /** Redis under the stack's key prefix: reads what the server stored, seeds what it will read. */
  redis: RedisStore
  prefix: string
  /** POSTs JSON (or whatever `headers` says) to a path of the server. */
  post(path: string, body: string, headers?: Record<string, string>): Promise<Response>
  stop(): Promise<void>
}

/** Starts the stack one HTTP test file runs against; `stop()` removes everything it made. */
export async function startTestStack(
  label: string,
  env: Record<string, string> = {},
): Promise<TestStack> {
  const prefix = testKeyPrefix(label)
  const database = await createTestDatabase(label.replace(/[^a-z0-9]/gi, '_'))
  const redis = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
  let server: RunningServer
  try {
    await redis.ready()
    server = await startServer({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SMS_PROVIDER: 'console',
      ...env,
    })
  } catch (error) {
    await redis.close()
    await database.drop()
    throw error
  }
  return {
    server,
    database,
    redis,
    prefix,
    post: (path, body, headers = {}) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      }),
    async stop() {
      await server.stop()
      await redis.close()
      await deleteKeysWithPrefix(prefix)
      await database.drop()
    },
  }
}
