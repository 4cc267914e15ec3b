import type { Page } from '@playwright/test'
import { RET, RET_MESSAGE } from '@signup/trpc/ret'
import { expect, masked, sendCodeOnPage, signOut, test } from './fixtures.ts'
import type { SignupApp } from './fixtures.ts'

const signedInAs = (page: Page) => page.getByTestId('signed-in-as')
const passwordField = (page: Page) => page.getByLabel('密码', { exact: true })
const loginButton = (page: Page) => page.getByRole('button', { name: '登录', exact: true })
const smsCodeTab = (page: Page) => page.getByRole('tab', { name: '验证码登录' })

/** /login's password tab, filled in and sent. */
async function loginByPassword(page: Page, mobile: string, password: string): Promise<void> {
  await page.getByLabel('手机号').fill(mobile)
  await passwordField(page).fill(password)
  await loginButton(page).click()
}

/** Makes every answer of `procedure` the refusal `name` (with `extra` data), from a real one. */
async function refuseWith(
  page: Page,
  procedure: string,
  name: 'DBERR' | 'REQERR',
  extra: Record<string, unknown> = {},
): Promise<void> {
  await page.route(`**/api/trpc/${procedure}`, async (route) => {
    const response = await route.fetch()
    const body = (await response.json()) as { error?: { data: Record<string, unknown> } }
    const data = { ...body.error?.data, errno: RET[name], errmsg: RET_MESSAGE[name], ...extra }
    const status = name === 'REQERR' ? 429 : 500
    await route.fulfill({ response, status, json: { error: { ...body.error, data } } })
  })
}

/** Opens /login's SMS-code tab and has a login code sent to `mobile`; returns the code. */
async function sendLoginCode(page: Page, app: SignupApp, mobile: string): Promise<string> {
  await page.goto(`${app.url}/login`)
  return sendCodeOnPage(page, app, {
    mobile,
    purpose: 'login',
    open: () => smsCodeTab(page).click(),
  })
}

const PASSWORD = 'the right password'

/** A fresh mobile with an account whose password is PASSWORD, and /login open, signed out. */
async function accountOnLogin(page: Page, app: SignupApp): Promise<string> {
  const mobile = app.freshMobile()
  await app.createAccount(page, mobile, PASSWORD)
  await page.goto(`${app.url}/login`)
  return mobile
}

test('sign up, out, in by password, out, in by SMS code, reset; then the old password is refused and the new one signs in', async ({
  page,
  app,
}) => {
  const mobile = app.freshMobile()
  const first = 'first password 1'
  const second = 'second password 2'

  // Sign up on /.
  const registerCode = await sendCodeOnPage(page, app, {
    mobile,
    purpose: 'register',
    open: () => page.goto(app.url),
  })
  await expect(page.getByLabel('短信验证码', { exact: true })).toBeFocused()
  await page.getByLabel('短信验证码', { exact: true }).fill(registerCode)
  await page.getByLabel('设置密码').fill(first)
  await page.getByRole('button', { name: '注册', exact: true }).click()
  await expect(page.getByRole('heading', { name: '注册成功' })).toBeFocused()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
  await signOut(page)

  // By password on /login, reached by its link.
  await page.getByRole('link', { name: '已有账号？登录' }).click()
  await expect(page).toHaveURL(/\/login$/)
  await loginByPassword(page, mobile, first)
  await expect(page.getByRole('heading', { name: '登录成功' })).toBeFocused()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
  await page.reload()
  await expect(page.getByRole('heading', { name: '欢迎回来' })).toBeVisible()
  await signOut(page)

  // By SMS code: the account exists, so nothing is created.
  const loginCode = await sendCodeOnPage(page, app, {
    mobile,
    purpose: 'login',
    open: () => smsCodeTab(page).click(),
  })
  await page.getByLabel('短信验证码', { exact: true }).fill(loginCode)
  await loginButton(page).click()
  await expect(page.getByRole('heading', { name: '登录成功' })).toBeFocused()
  await expect(page.getByTestId('account-created')).toHaveCount(0)
  await signOut(page)
  // The SMS-code tab is back with a new captcha: its answer must not be taken for /reset's.
  await expect(page.getByTestId('captcha-image')).toHaveAttribute('src', /^data:image\/png/)

  // The reset, on /reset, reached by its link.
  const resetCode = await sendCodeOnPage(page, app, {
    mobile,
    purpose: 'reset',
    open: () => page.getByRole('link', { name: '忘记密码？' }).click(),
  })
  await expect(page).toHaveURL(/\/reset$/)
  await expect(page.locator('.sent')).toHaveText(`如 ${masked(mobile)} 已注册，验证码已发送`)
  await page.getByLabel('短信验证码', { exact: true }).fill(resetCode)
  await page.getByLabel('新密码', { exact: true }).fill(second)
  await page.getByRole('button', { name: '重置密码', exact: true }).click()
  await expect(page.getByRole('heading', { name: '密码已重置' })).toBeFocused()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
  await signOut(page)

  // The old password is refused, beside the password field; the new one signs in.
  await page.getByRole('link', { name: '已有账号？登录' }).click()
  await loginByPassword(page, mobile, first)
  const refusal = page.getByText('手机号或密码错误')
  await expect(refusal).toBeVisible()
  await expect(passwordField(page)).toBeFocused()
  await expect(passwordField(page)).toHaveAttribute('aria-invalid', 'true')
  await expect(passwordField(page)).toHaveAttribute(
    'aria-describedby',
    (await refusal.getAttribute('id')) ?? '',
  )
  await expect(signedInAs(page)).toHaveCount(0)
  await loginByPassword(page, mobile, second)
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)

  const { rows } = await app.db.query<{ last_login_at: Date | null }>(
    'SELECT last_login_at FROM users WHERE mobile = $1',
    [mobile],
  )
  expect(rows[0]?.last_login_at).toBeInstanceOf(Date)
})

test('an SMS-code sign-in of a new number lands signed in, its account made', async ({
  page,
  app,
}) => {
  const mobile = app.freshMobile()
  const code = await sendLoginCode(page, app, mobile)
  await expect(page.getByText('未注册的手机号验证后将自动创建账号。')).toBeVisible()
  await page.getByLabel('短信验证码', { exact: true }).fill(code)
  await loginButton(page).click()

  await expect(page.getByRole('heading', { name: '登录成功' })).toBeFocused()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
  await expect(page.getByTestId('account-created')).toContainText('已为你创建账号')
  const { rows } = await app.db.query<{ nick_name: string; password_hash: string | null }>(
    'SELECT nick_name, password_hash FROM users WHERE mobile = $1',
    [mobile],
  )
  expect(rows).toEqual([{ nick_name: mobile, password_hash: null }])
  await page.reload()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
})

test('password sign-in refusals: a short password stays in the page; LOGINERR re-worded in English', async ({
  page,
  app,
}) => {
  const mobile = await accountOnLogin(page, app)
  const logins: string[] = []
  page.on('request', (r) => {
    if (r.url().includes('auth.login')) logins.push(r.url())
  })
  await loginByPassword(page, mobile, 'short')
  await expect(page.getByText('密码长度应为 8 到 128 个字符')).toBeVisible()
  await expect(passwordField(page)).toBeFocused()
  await loginByPassword(page, '1381234567', 'long enough password')
  await expect(page.getByText('手机号不正确')).toBeVisible()
  await expect(page.getByLabel('手机号')).toBeFocused()

  await loginByPassword(page, mobile, 'the wrong password')
  await expect(page.getByText('手机号或密码错误')).toBeVisible()
  // The one request is this last sign-in's: the two before it never left the page.
  expect(logins).toHaveLength(1)
  await page.getByRole('button', { name: 'English' }).click()
  await expect(page.getByText('The mobile number or the password is wrong')).toBeVisible()
  await expect(page).toHaveTitle('Sign in')
})

test('a password sign-in refused as too many (REQERR): beside the mobile, then a countdown from retryAfter', async ({
  page,
  app,
}) => {
  const mobile = await accountOnLogin(page, app)
  // A real refusal (a wrong password) rewritten: the real limit's window is 15 minutes, and the
  // page is told 3 s, so that the test sees the button come back.
  await refuseWith(page, 'auth.login', 'REQERR', { field: 'mobile', retryAfter: 3 })
  await loginByPassword(page, mobile, 'the wrong password')

  await expect(page.getByText(RET_MESSAGE.REQERR)).toBeVisible()
  await expect(page.getByLabel('手机号')).toHaveAttribute('aria-invalid', 'true')
  const button = page.locator('#login-panel button.primary')
  await expect(button).toBeDisabled()
  await expect(button).toHaveText(/^[1-3] 秒后重试$/)
  // The countdown's 3 s, and then the 10 s any other expectation here may wait for the page.
  await expect(button).toBeEnabled({ timeout: 3_000 + 10_000 })
  await expect(button).toHaveText('登录')

  await page.unroute('**/api/trpc/auth.login')
  await passwordField(page).fill(PASSWORD)
  await button.click()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
})

test('a sign-in the service fails (DBERR): the general message, then a retry that signs in', async ({
  page,
  app,
}) => {
  const mobile = await accountOnLogin(page, app)
  await refuseWith(page, 'auth.login', 'DBERR', { field: undefined })
  await loginByPassword(page, mobile, 'the wrong password')

  const general = page.locator('.general-message')
  await expect(general).toContainText(RET_MESSAGE.DBERR)
  await expect(page.locator('.field-message').filter({ hasText: RET_MESSAGE.DBERR })).toHaveCount(0)
  await page.unroute('**/api/trpc/auth.login')
  await passwordField(page).fill(PASSWORD)
  await general.getByRole('button', { name: '重试' }).click()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
})

test('a wrong SMS code is refused beside the code field, and the right one then signs in', async ({
  page,
  app,
}) => {
  const mobile = app.freshMobile()
  const code = await sendLoginCode(page, app, mobile)
  await page.getByLabel('短信验证码', { exact: true }).fill(code === '000000' ? '111111' : '000000')
  await loginButton(page).click()
  await expect(page.getByText('短信验证码错误')).toBeVisible()
  await expect(page.getByLabel('短信验证码', { exact: true })).toHaveAttribute(
    'aria-invalid',
    'true',
  )
  await expect(page.getByLabel('短信验证码', { exact: true })).toBeFocused()

  await page.getByLabel('短信验证码', { exact: true }).fill(code)
  await loginButton(page).click()
  await expect(signedInAs(page)).toHaveText(`已登录：${mobile}`)
})

test('a reset asked for a number with no account: the same confirmation, its code refused as expired', async ({
  page,
  app,
}) => {
  const mobile = app.freshMobile()
  // The reset answers as for a registered mobile and stores a code (sent to no one).
  const code = await sendCodeOnPage(page, app, {
    mobile,
    purpose: 'reset',
    open: () => page.goto(`${app.url}/reset`),
  })
  await expect(page.locator('.sent')).toHaveText(`如 ${masked(mobile)} 已注册，验证码已发送`)
  await page.getByLabel('短信验证码', { exact: true }).fill(code)
  await page.getByLabel('新密码', { exact: true }).fill('a new password')
  await page.getByRole('button', { name: '重置密码', exact: true }).click()
  await expect(page.getByText('短信验证码已失效，请重新获取')).toBeVisible()
  await expect(page.getByLabel('短信验证码', { exact: true })).toHaveAttribute(
    'aria-invalid',
    'true',
  )
  await expect(signedInAs(page)).toHaveCount(0)
})
