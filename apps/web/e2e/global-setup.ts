import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
} from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'

/** How the browser tests' server keeps register codes (fixtures.ts seals the codes it sets so). */
export const E2E_SMS_CODE_STORAGE = 'plain'

/** One production server for the whole run, on its own database and Redis key prefix. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const prefix = testKeyPrefix('e2e')
  const database = await createTestDatabase('e2e')
  const server = await startServer({
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SMS_PROVIDER: 'console',
    // Short, so the test sees the countdown end and the button come back.
    SMS_RESEND_SECONDS: '3',
    // Every browser test comes from 127.0.0.1: the per-IP limits are tested elsewhere.
    CAPTCHA_LIMIT_IP_MINUTE: '10000',
    SMS_LIMIT_IP_HOUR: '10000',
    SMS_LIMIT_PREFIX_HOUR: '10000',
    // The pages' tests read register codes from SMS_<mobile>, as the original's register view
    // does during a cut-over; HMAC storage, the default, is tested in apps/web/server.
    SMS_CODE_STORAGE: E2E_SMS_CODE_STORAGE,
  }).catch(async (error: unknown) => {
    await database.drop()
    throw error
  })
  process.env.E2E_BASE_URL = server.url
  process.env.E2E_DATABASE_URL = database.url
  process.env.E2E_REDIS_PREFIX = prefix
  return async () => {
    await server.stop()
    await deleteKeysWithPrefix(prefix)
    await database.drop()
  }
}
