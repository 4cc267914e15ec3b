import autocannon from 'autocannon'
import type { Result } from 'autocannon'
import { Redis } from 'ioredis'
import { TEST_REDIS_URL } from '@signup/api/testing/test-infra'

/** Stores `count` captchas `ImageCode_<idPrefix>-<i>` = ABCD under the key prefix, in pipelines. */
export async function seedCaptchas(
  prefix: string,
  idPrefix: string,
  count: number,
  ttlSeconds: number,
): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { keyPrefix: prefix })
  for (let start = 0; start < count; start += 10_000) {
    const pipeline = redis.pipeline()
    for (let i = start; i < Math.min(count, start + 10_000); i++) {
      pipeline.set(`ImageCode_${idPrefix}-${i}`, 'ABCD', 'EX', ttlSeconds)
    }
    await pipeline.exec()
  }
  redis.disconnect()
}

/** One autocannon run, as a promise. */
export function runLoad(options: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error: unknown, result) =>
      error
        ? reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
        : resolve(result),
    )
  })
}

/**
 * Sends of a fresh mobile each (`<range><9 digits>`, never registered) with an unused captcha
 * `bench-<i>`, seeded under the server's key prefix by seedCaptchas, taken in order.
 */
export function freshSends(range: string, pool: number): () => autocannon.Request[] {
  let next = 0
  return () => [
    {
      method: 'POST',
      path: '/passport/sms_code',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => {
        const i = next++
        return {
          ...request,
          body: JSON.stringify({
            mobile: `${range}${String(i).padStart(9, '0')}`,
            image_code: 'abcd',
            image_code_id: `bench-${i % pool}`,
          }),
        }
      },
    },
  ]
}
