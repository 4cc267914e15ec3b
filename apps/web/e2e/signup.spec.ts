import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import type { Page } from '@playwright/test'
import { RET, RET_MESSAGE } from '@signup/trpc/ret'
import { expect, test } from './fixtures.ts'
import type { SignupApp } from './fixtures.ts'

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../../.test-results/screenshots')

async function open(page: Page, app: SignupApp) {
  return app.nextCaptcha(page, () => page.goto(app.url))
}

const mobileField = (page: Page) => page.getByLabel('手机号')
const captchaField = (page: Page) => page.getByLabel('图片验证码', { exact: true })
const submit = (page: Page) => page.locator('#send-code')

/** The confirmation naming the masked mobile, as a visitor reads it. */
const sentTo = (page: Page, mobile: string) =>
  page.getByText(`验证码已发送至 ${mobile.slice(0, 3)}****${mobile.slice(-4)}`)

/** SMS_RESEND_SECONDS is 3 for this run: the button counts down, then comes back. */
async function expectCountdownThenButtonBack(page: Page): Promise<void> {
  await expect(submit(page)).toBeDisabled()
  await expect(submit(page)).toHaveText(/^[1-3] 秒后重发$/)
  // The countdown's 3 s, and then the 10 s any other expectation here may wait for the page.
  await expect(submit(page)).toBeEnabled({ timeout: 3_000 + 10_000 })
  await expect(submit(page)).toHaveText('获取验证码')
}

test('the whole happy path: code sent, confirmation, countdown, button back', async ({
  page,
  app,
}) => {
  const captcha = await open(page, app)
  const mobile = app.freshMobile()
  await mobileField(page).fill(mobile)
  await captchaField(page).fill(captcha.answer.toLowerCase())
  const next = app.nextCaptcha(page)
  await submit(page).click()

  await expect(sentTo(page, mobile)).toBeVisible()
  await expectCountdownThenButtonBack(page)
  expect(await app.redis.get(`SMS_${mobile}`)).toMatch(/^\d{6}$/)
  // The captcha was spent: a new one replaced it, and its field is empty again.
  const fresh = await next
  expect(fresh.id).not.toBe(captcha.id)
  await expect(captchaField(page)).toHaveValue('')
})

test('a wrong captcha: its message appears and a new image replaces the old one', async ({
  page,
  app,
}) => {
  const captcha = await open(page, app)
  const oldSrc = await page.getByTestId('captcha-image').getAttribute('src')
  await mobileField(page).fill(app.freshMobile())
  await captchaField(page).fill(captcha.answer === 'ZZZZ' ? 'YYYY' : 'ZZZZ')
  const fresh = app.nextCaptcha(page, () => submit(page).click())

  await expect(page.getByText('验证码输入错误')).toBeVisible()
  const { id } = await fresh
  expect(id).not.toBe(captcha.id)
  await expect(page.getByTestId('captcha-image')).not.toHaveAttribute('src', oldSrc ?? '')
  await expect(captchaField(page)).toBeFocused()
  await expect(captchaField(page)).toHaveAttribute('aria-invalid', 'true')
})

test('an invalid mobile: the message appears, nothing moves and no request is sent', async ({
  page,
  app,
}) => {
  const captcha = await open(page, app)
  const sends: string[] = []
  page.on('request', (request) => {
    if (request.url().includes('auth.sendSmsCode')) sends.push(request.url())
  })
  const before = await submit(page).boundingBox()
  await mobileField(page).fill('1381234567')
  await captchaField(page).fill(captcha.answer)
  await submit(page).click()

  await expect(page.getByText('手机号不正确')).toBeVisible()
  await expect(mobileField(page)).toBeFocused()
  expect(await submit(page).boundingBox()).toEqual(before)
  await page.waitForTimeout(300)
  expect(sends).toEqual([])
  // The captcha was not used: it is still in Redis.
  expect(await app.redis.get(`ImageCode_${captcha.id}`)).toBe(captcha.answer)
})

test('an already registered mobile: its message beside the mobile field', async ({ page, app }) => {
  const mobile = app.freshMobile()
  await app.registerUser(mobile)
  const captcha = await open(page, app)
  await mobileField(page).fill(mobile)
  await captchaField(page).fill(captcha.answer)
  await submit(page).click()

  const message = page.getByText('该手机已被注册')
  await expect(message).toBeVisible()
  await expect(mobileField(page)).toHaveAttribute(
    'aria-describedby',
    (await message.getAttribute('id')) ?? '',
  )
  expect(await app.redis.get(`SMS_${mobile}`)).toBeNull()
})

test('the same flow by keyboard only', async ({ page, app }) => {
  const captcha = await open(page, app)
  const mobile = app.freshMobile()
  // Tab order: language switch, mobile, captcha, captcha image, submit.
  await page.keyboard.press('Tab')
  await expect(page.getByRole('button', { name: 'English' })).toBeFocused()
  await page.keyboard.press('Tab')
  await expect(mobileField(page)).toBeFocused()
  await page.keyboard.type(mobile)
  await page.keyboard.press('Tab')
  await expect(captchaField(page)).toBeFocused()
  await page.keyboard.type(captcha.answer)
  await page.keyboard.press('Enter')

  await expect(sentTo(page, mobile)).toBeVisible()
  expect(await app.redis.get(`SMS_${mobile}`)).toMatch(/^\d{6}$/)
})

test('clicking the captcha image gets a new one', async ({ page, app }) => {
  const captcha = await open(page, app)
  const fresh = await app.nextCaptcha(page, () => page.getByTestId('captcha-image').click())
  expect(fresh.id).not.toBe(captcha.id)
  await expect(page.getByRole('button', { name: '看不清？点击图片换一张' })).toBeVisible()
})

test('a captcha is fetched anew by itself when it expires', async ({ page, app }) => {
  // The server keeps captchas for 300 s; this page is told 1 s, so its timer fires in the test.
  await page.route('**/api/trpc/auth.getImageCode', async (route) => {
    const response = await route.fetch()
    const body = (await response.json()) as { result: { data: { expiresIn: number } } }
    body.result.data.expiresIn = 1
    await route.fulfill({ response, json: body })
  })
  const first = await open(page, app)
  // No click, no send: the page asks for the next one on its own.
  const second = await app.nextCaptcha(page)
  expect(second.id).not.toBe(first.id)
})

test('a send refused as too soon (REQERR): its message, then a countdown from retryAfter', async ({
  page,
  app,
}) => {
  const captcha = await open(page, app)
  const mobile = app.freshMobile()
  await mobileField(page).fill(mobile)
  await captchaField(page).fill(captcha.answer)
  // Another client has just had a code sent to this mobile (SMS_RESEND_SECONDS is 3 here).
  await app.sendCodeElsewhere(page, mobile)
  const refusal = page.waitForResponse((r) => r.url().includes('auth.sendSmsCode'))
  await submit(page).click()

  const body = (await (await refusal).json()) as {
    error: { data: { errno: number; retryAfter: number } }
  }
  expect(body.error.data.errno).toBe(RET.REQERR)
  expect(body.error.data.retryAfter).toBeGreaterThanOrEqual(1)
  await expect(page.getByText(RET_MESSAGE.REQERR)).toBeVisible()
  await expectCountdownThenButtonBack(page)
})

test('a send that never gets an answer: the general message and a retry that sends', async ({
  page,
  app,
}) => {
  const captcha = await open(page, app)
  const mobile = app.freshMobile()
  await page.route('**/api/trpc/auth.sendSmsCode', (route) => route.abort('internetdisconnected'))
  await mobileField(page).fill(mobile)
  await captchaField(page).fill(captcha.answer)
  const fresh = app.nextCaptcha(page, () => submit(page).click())

  await expect(page.getByText('网络异常，请检查网络后重试')).toBeVisible()
  const retry = page.getByRole('button', { name: '重试' })
  await expect(retry).toBeEnabled()
  expect(await app.redis.get(`SMS_${mobile}`)).toBeNull()

  // The network is back; the page showed a new captcha, which the visitor types before retrying.
  await page.unroute('**/api/trpc/auth.sendSmsCode')
  await captchaField(page).fill((await fresh).answer)
  await retry.click()
  await expect(sentTo(page, mobile)).toBeVisible()
  await expect(page.getByText('网络异常，请检查网络后重试')).toHaveCount(0)
  expect(await app.redis.get(`SMS_${mobile}`)).toMatch(/^\d{6}$/)
})

test('THIRDERR and DBERR show in the general message, not beside a field', async ({
  page,
  app,
}) => {
  // The server's own refusals of this kind are tested over HTTP; here the provider or database
  // "fails" by rewriting a real refusal's errno, so the page reads the exact shape tRPC sends.
  for (const name of ['THIRDERR', 'DBERR'] as const) {
    await page.route('**/api/trpc/auth.sendSmsCode', async (route) => {
      const response = await route.fetch()
      const body = (await response.json()) as { error: { data: Record<string, unknown> } }
      body.error.data = {
        ...body.error.data,
        errno: RET[name],
        errmsg: RET_MESSAGE[name],
        field: undefined,
      }
      await route.fulfill({ response, status: 502, json: body })
    })
    const captcha = await open(page, app)
    await mobileField(page).fill(app.freshMobile())
    // A wrong answer: the real refusal never sends an SMS, whatever this test rewrites it to.
    await captchaField(page).fill(captcha.answer === 'ZZZZ' ? 'YYYY' : 'ZZZZ')
    await submit(page).click()

    const general = page.locator('.general-message')
    await expect(general).toContainText(RET_MESSAGE[name])
    await expect(general.getByRole('button', { name: '重试' })).toBeVisible()
    await expect(page.locator('.field-message').filter({ hasText: RET_MESSAGE[name] })).toHaveCount(
      0,
    )
    await page.unroute('**/api/trpc/auth.sendSmsCode')
  }
})

test('switches to English and back', async ({ page, app }) => {
  await open(page, app)
  await page.getByRole('button', { name: 'English' }).click()
  await expect(page.getByRole('heading', { name: 'Sign up with your phone' })).toBeVisible()
  await expect(page.locator('html')).toHaveAttribute('lang', 'en')
  await page.getByLabel('Mobile number').fill('123')
  await page.getByLabel('Image code', { exact: true }).fill('ABCD')
  await submit(page).click()
  await expect(page.getByText('This is not a valid mobile number')).toBeVisible()
  await page.getByRole('button', { name: '中文' }).click()
  await expect(page.getByText('手机号不正确')).toBeVisible()
})

for (const width of [375, 1280]) {
  test(`axe-core finds no violations at ${width} px, empty and with messages`, async ({
    page,
    app,
  }, testInfo) => {
    await page.setViewportSize({ width, height: width === 375 ? 740 : 800 })
    await open(page, app)
    await mkdir(SCREENSHOTS, { recursive: true })
    const empty = await page.screenshot({
      path: path.join(SCREENSHOTS, `signup-${width}.png`),
      fullPage: true,
    })
    await testInfo.attach(`signup-${width}`, { body: empty, contentType: 'image/png' })
    expect((await new AxeBuilder({ page }).analyze()).violations).toEqual([])

    await mobileField(page).fill('12')
    await submit(page).click()
    await expect(page.getByText('手机号不正确')).toBeVisible()
    const withErrors = await page.screenshot({
      path: path.join(SCREENSHOTS, `signup-${width}-errors.png`),
      fullPage: true,
    })
    await testInfo.attach(`signup-${width}-errors`, { body: withErrors, contentType: 'image/png' })
    expect((await new AxeBuilder({ page }).analyze()).violations).toEqual([])
  })
}
