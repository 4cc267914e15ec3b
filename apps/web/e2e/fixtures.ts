import { randomInt, randomUUID } from 'node:crypto'
import { test as base, expect, request } from '@playwright/test'
import type { Page } from '@playwright/test'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { SmsCodePurpose } from '@signup/auth/schemas'
import { smsCodeKeys } from '@signup/auth/stores'
import { sealedSmsCode } from '@signup/auth/testing/test-services'
import { E2E_SMS_CODE_STORAGE } from './global-setup.ts'
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
  sendCodeElsewhere(page: Page, mobile: string, purpose?: SmsCodePurpose): Promise<void>
  /** The code the server stored for `purpose` (the console provider sends no SMS to read). */
  smsCode(mobile: string, purpose?: SmsCodePurpose): Promise<string>
  /** An account with this password, registered by another client (the browser stays signed out). */
  createAccount(page: Page, mobile: string, password: string): Promise<void>
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
      async sendCodeElsewhere(page, mobile, purpose) {
        const id = randomUUID()
        const image = await page.request.get(`${url}/passport/image_code?imageCodeId=${id}`)
        expect(image.status()).toBe(200)
        const answer = await storedAnswer(id)
        const sent = await page.request.post(`${url}/passport/sms_code`, {
          data: { mobile, image_code: answer, image_code_id: id, purpose },
        })
        expect(await sent.json()).toMatchObject({ errno: 0 })
      },
      async smsCode(mobile, purpose = 'register') {
        const key = smsCodeKeys(purpose).code(mobile)
        if (!(await redis.get(key))) throw new Error(`no ${purpose} code stored for ${mobile}`)
        // Codes are kept as HMACs, so the digits sent cannot be read back: the sent code is
        // replaced by one this test knows, sealed as the server seals (as TestStack.seedSmsCode).
        const code = String(randomInt(1_000_000)).padStart(6, '0')
        await redis.set(key, sealedSmsCode(purpose, mobile, code, E2E_SMS_CODE_STORAGE), 'EX', 300)
        return code
      },
      async createAccount(page, mobile, password) {
        await app.sendCodeElsewhere(page, mobile)
        const smsCode = await app.smsCode(mobile)
        // Its own request context: the session cookie register sets stays out of the browser.
        const client = await request.newContext()
        try {
          const registered = await client.post(`${url}/api/trpc/auth.register`, {
            data: { mobile, smsCode, password },
          })
          expect(registered.status()).toBe(200)
        } finally {
          await client.dispose()
        }
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

/** The masked mobile the pages name in their confirmations: 178****1234. */
export const masked = (mobile: string): string => `${mobile.slice(0, 3)}****${mobile.slice(-4)}`

/**
 * Sends a `purpose` code to `mobile` through a page's SendCodeForm, which `open` shows (a
 * navigation, the SMS-code tab), and returns the code the server stored once the page confirms.
 */
export async function sendCodeOnPage(
  page: Page,
  app: SignupApp,
  options: { mobile: string; purpose: SmsCodePurpose; open: () => Promise<unknown> },
): Promise<string> {
  const { mobile, purpose } = options
  const captcha = await app.nextCaptcha(page, options.open)
  await page.getByLabel('手机号').fill(mobile)
  await page.getByLabel('图片验证码', { exact: true }).fill(captcha.answer)
  await page.locator('#send-code').click()
  await expect(page.locator('.sent')).toContainText(masked(mobile))
  return app.smsCode(mobile, purpose)
}

/** Signs out from the signed-in state and waits for the page's forms to be back. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: '退出登录' }).click()
  await expect(page.getByTestId('signed-in-as')).toHaveCount(0)
  await expect(page.getByLabel('手机号')).toBeFocused()
}
