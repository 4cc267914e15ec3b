import { randomUUID } from 'node:crypto'
import { test as base, expect } from '@playwright/test'
import type { Page } from '@playwright/test'
import { Redis } from 'ioredis'
import pg from 'pg'
import { freshMobile } from '@signup/db/testing/mobiles'

export interface SignupApp {
  url: string
  /** Redis under the run's key prefix, to read what the server stored (captcha answers, codes). */
  redis: Redis
  db: pg.Client
  freshMobile(): string
  /** Waits for the page's next captcha and returns its id and answer from Redis. */
  nextCaptcha(page: Page, trigger?: () => Promise<unknown>): Promise<{ id: string; answer: string }>
  registerUser(mobile: string): Promise<void>
  /** Has a code sent to `mobile` by another client, through the legacy HTTP endpoint. */
  sendCodeElsewhere(page: Page, mobile: string): Promise<void>
}

export const test = base.extend<{ app: SignupApp }>({
  // Playwright reads a fixture's dependencies from this destructuring; this one has none.
  // eslint-disable-next-line no-empty-pattern
  app: async ({}, use) => {
    const url = process.env.E2E_BASE_URL
    if (!url) throw new Error('E2E_BASE_URL is unset: global setup did not run')
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', {
      keyPrefix: process.env.E2E_REDIS_PREFIX,
    })
    const db = new pg.Client({ connectionString: process.env.E2E_DATABASE_URL })
    await db.connect()
    /** The captcha's answer as the server stored it in Redis. */
    const storedAnswer = async (id: string): Promise<string> => {
      const answer = await redis.get(`ImageCode_${id}`)
      if (!answer) throw new Error(`no answer stored for captcha ${id}`)
      return answer
    }
    const app: SignupApp = {
      url,
      redis,
      db,
      freshMobile,
      async nextCaptcha(page, trigger) {
        const [response] = await Promise.all([
          page.waitForResponse(
            (r) => r.url().includes('/api/trpc/auth.getImageCode') && r.status() === 200,
          ),
          trigger?.(),
        ])
        const body = (await response.json()) as { result: { data: { imageCodeId: string } } }
        const id = body.result.data.imageCodeId
        const answer = await storedAnswer(id)
        // The image the page shows must be this captcha before the test types its answer.
        await expect(page.getByTestId('captcha-image')).toHaveAttribute('src', /^data:image\/png/)
        return { id, answer }
      },
      async sendCodeElsewhere(page, mobile) {
        const id = randomUUID()
        const image = await page.request.get(`${url}/passport/image_code?imageCodeId=${id}`)
        expect(image.status()).toBe(200)
        const answer = await storedAnswer(id)
        const sent = await page.request.post(`${url}/passport/sms_code`, {
          data: { mobile, image_code: answer, image_code_id: id },
        })
        expect(await sent.json()).toMatchObject({ errno: 0 })
      },
      async registerUser(mobile) {
        await db.query(
          'INSERT INTO users (mobile, nick_name, updated_at) VALUES ($1, $1, now()) ON CONFLICT DO NOTHING',
          [mobile],
        )
      },
    }
    await use(app)
    redis.disconnect()
    await db.end()
  },
})

export { expect }
