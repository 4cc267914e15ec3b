import type { Page } from '@playwright/test'
import { expect, test } from './fixtures.ts'
import type { SignupApp } from './fixtures.ts'

/** Gets a code sent to a fresh mobile through the page, and returns the mobile and the code. */
async function sendCode(page: Page, app: SignupApp): Promise<{ mobile: string; code: string }> {
  const captcha = await app.nextCaptcha(page, () => page.goto(app.url))
  const mobile = app.freshMobile()
  await page.getByLabel('手机号').fill(mobile)
  await page.getByLabel('图片验证码', { exact: true }).fill(captcha.answer)
  await page.getByRole('button', { name: '获取验证码' }).click()
  await expect(page.getByText(/验证码已发送至/)).toBeVisible()
  const code = await app.redis.get(`SMS_${mobile}`)
  if (!code) throw new Error('no code stored')
  return { mobile, code }
}

test('the whole signup: empty page to signed in, a reload keeps the session, then log out', async ({
  page,
  app,
}) => {
  const { mobile, code } = await sendCode(page, app)
  await expect(page.getByRole('heading', { name: '完成注册' })).toBeVisible()
  await page.getByLabel('短信验证码').fill(code)
  await page.getByLabel('设置密码').fill('correct horse battery')
  await page.getByRole('button', { name: '注册', exact: true }).click()

  await expect(page.getByTestId('signed-in-as')).toHaveText(`已登录：${mobile}`)
  const cookie = (await page.context().cookies()).find((c) => c.name === '__Host-sid')
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
  const { rows } = await app.db.query<{ nick_name: string; password_hash: string }>(
    'SELECT nick_name, password_hash FROM users WHERE mobile = $1',
    [mobile],
  )
  expect(rows[0]?.nick_name).toBe(mobile)
  expect(rows[0]?.password_hash).toMatch(/^\$scrypt\$/)
  expect(await app.redis.get(`SMS_${mobile}`)).toBeNull()

  await page.reload()
  await expect(page.getByTestId('signed-in-as')).toHaveText(`已登录：${mobile}`)

  await page.getByRole('button', { name: '退出登录' }).click()
  await expect(page.getByRole('button', { name: '获取验证码' })).toBeVisible()
  await page.reload()
  await expect(page.getByRole('button', { name: '获取验证码' })).toBeVisible()
  await expect(page.getByTestId('signed-in-as')).toHaveCount(0)
})

test('register refusals show beside their field; a short password never leaves the page', async ({
  page,
  app,
}) => {
  const { code } = await sendCode(page, app)
  const registers: string[] = []
  page.on('request', (request) => {
    if (request.url().includes('auth.register')) registers.push(request.url())
  })
  await page.getByLabel('短信验证码').fill(code)
  await page.getByLabel('设置密码').fill('short')
  await page.getByRole('button', { name: '注册', exact: true }).click()
  await expect(page.getByText('密码长度应为 8 到 128 个字符')).toBeVisible()
  await expect(page.getByLabel('设置密码')).toBeFocused()
  expect(registers).toEqual([])

  const wrong = code === '000000' ? '111111' : '000000'
  await page.getByLabel('短信验证码').fill(wrong)
  await page.getByLabel('设置密码').fill('long enough password')
  await page.getByRole('button', { name: '注册', exact: true }).click()
  await expect(page.getByText('短信验证码错误')).toBeVisible()
  await expect(page.getByLabel('短信验证码')).toHaveAttribute('aria-invalid', 'true')
  await expect(page.getByTestId('signed-in-as')).toHaveCount(0)
})
