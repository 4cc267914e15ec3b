import { randomUUID } from 'node:crypto'
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
  waitUntil,
} from './test-infra.ts'
import type { TestDatabase } from './test-infra.ts'
import { RET } from '@signup/trpc/ret'
import { captchaKey, resendKey, smsCodeKeys } from '@signup/auth/stores'
import type { SmsCodePurpose } from '@signup/auth/ports'
import { sealedSmsCode } from '@signup/auth/testing/test-services'
import { freshMobile } from '@signup/db/testing/mobiles'
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
  /**
   * Resolves once everything the server logged before the call is in `server.output()`. The log
   * is written in order but buffered (production flushes every 250 ms), so a test that checks
   * the log lacks something waits for a line logged after it, instead of sleeping for as long as
   * the flush takes here. The line is a send refused by the resend window, opened beforehand in
   * Redis: no SMS, no code, no limit counted.
   */
  logsFlushed(): Promise<void>
  /**
   * Replaces the code waiting for this purpose and mobile with `code`, sealed as the server seals
   * it, with a fresh attempt count, as a send would: Redis holds an HMAC (decision record 017), so
   * a test that needs the digits sets them.
   */
  seedSmsCode(purpose: SmsCodePurpose, mobile: string, code: string): Promise<string>
  stop(): Promise<void>
}

/**
 * Starts the stack one HTTP test file runs against; `stop()` removes everything it made. `env`
 * may be worked out from the stack's database (a pooler's URL for it, say), which is made on
 * `postgresAdminUrl`'s server (the shared test server by default).
 */
export async function startTestStack(
  label: string,
  env: Record<string, string> | ((database: TestDatabase) => Record<string, string>) = {},
  { postgresAdminUrl }: { postgresAdminUrl?: string } = {},
): Promise<TestStack> {
  const prefix = testKeyPrefix(label)
  const database = await createTestDatabase(label.replace(/[^a-z0-9]/gi, '_'), postgresAdminUrl)
  const redis = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
  let server: RunningServer
  try {
    await redis.ready()
    server = await startServer({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SMS_PROVIDER: 'console',
      ...(typeof env === 'function' ? env(database) : env),
    })
  } catch (error) {
    await redis.close()
    await database.drop()
    throw error
  }
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    })
  return {
    server,
    database,
    redis,
    prefix,
    post,
    async logsFlushed() {
      const mobile = freshMobile()
      const imageCodeId = randomUUID()
      const requestId = `logs-flushed-${randomUUID()}`
      await redis.set(captchaKey(imageCodeId), 'Q7RT', 300)
      await redis.set(resendKey(mobile), '1', 60)
      const response = await post(
        '/passport/sms_code',
        JSON.stringify({ mobile, image_code: 'Q7RT', image_code_id: imageCodeId }),
        { 'x-request-id': requestId },
      )
      const answer = (await response.json()) as { errno: number }
      if (answer.errno !== RET.REQERR)
        throw new Error(`logsFlushed: the send answered ${answer.errno}`)
      await waitUntil('the server logs the refused send', () => server.output().includes(requestId))
    },
    async seedSmsCode(purpose, mobile, code) {
      const keys = smsCodeKeys(purpose)
      await redis.set(keys.code(mobile), sealedSmsCode(purpose, mobile, code), 300)
      await redis.del(keys.attempts(mobile))
      return code
    },
    async stop() {
      await server.stop()
      await redis.close()
      await deleteKeysWithPrefix(prefix)
      await database.drop()
    },
  }
}
