import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import type { Page, TestInfo } from '@playwright/test'
import { expect, masked, test } from './fixtures.ts'

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../../.test-results/screenshots')

/** Each page, its title in both languages, and the links to the other two. */
const PAGES = [
  { path: '/', title: '手机号注册', english: 'Sign up with your phone' },
  { path: '/login', title: '登录', english: 'Sign in' },
  { path: '/reset', title: '重置密码', english: 'Reset your password' },
] as const
const LINKS = { '/': '没有账号？注册', '/login': '已有账号？登录', '/reset': '忘记密码？' } as const

test('every page links to the other two, and a link keeps the language', async ({ page, app }) => {
  for (const from of PAGES) {
    await page.goto(`${app.url}${from.path}`)
    await expect(page).toHaveTitle(from.title)
    await expect(page.getByRole('heading', { level: 1, name: from.title })).toBeVisible()
    const links = page.getByRole('navigation', { name: '其他操作' }).getByRole('link')
    const others = PAGES.filter((to) => to.path !== from.path)
    await expect(links).toHaveCount(others.length)
    for (const to of others) {
      await expect(links.filter({ hasText: LINKS[to.path] })).toHaveAttribute('href', to.path)
    }
  }

  // Chosen on one page, English stays on the next, and the address keeps it for a reload.
  await page.goto(app.url)
  await page.getByRole('button', { name: 'English' }).click()
  await expect(page).toHaveTitle('Sign up with your phone')
  await expect(page).toHaveURL(/\?lang=en$/)
  await page.getByRole('link', { name: 'Have an account? Sign in' }).click()
  await expect(page).toHaveURL(/\/login\?lang=en$/)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  await expect(page).toHaveTitle('Sign in')
  await expect(page.locator('html')).toHaveAttribute('lang', 'en')
  await page.getByRole('link', { name: 'Forgot password?' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Reset your password' })).toBeVisible()
  await page.getByRole('button', { name: '中文' }).click()
  await expect(page).toHaveURL(/\/reset$/)
  await expect(page.getByRole('heading', { level: 1, name: '重置密码' })).toBeVisible()
  await page.getByRole('link', { name: '没有账号？注册' }).click()
  await expect(page.getByRole('heading', { level: 1, name: '手机号注册' })).toBeVisible()
})

/**
 * From the focused mobile field: types the mobile, Tab, the captcha's answer, Enter; then the
 * confirmation shows and the code's field, which appears below, takes the focus.
 */
async function sendCodeByKeyboard(page: Page, mobile: string, answer: string): Promise<void> {
  await expect(page.getByLabel('手机号')).toBeFocused()
  await page.keyboard.type(mobile)
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('图片验证码', { exact: true })).toBeFocused()
  await page.keyboard.type(answer)
  await page.keyboard.press('Enter')
  await expect(page.locator('.sent')).toContainText(masked(mobile))
  await expect(page.getByLabel('短信验证码', { exact: true })).toBeFocused()
}

test('/login by keyboard only: the password tab, signing out, the SMS-code tab', async ({
  page,
  app,
}) => {
  const mobile = app.freshMobile()
  await app.createAccount(page, mobile, 'keyboard password')
  await page.goto(`${app.url}/login`)
  // Tab order: language switch, the chosen tab (one tab stop), mobile, password, 登录.
  await page.keyboard.press('Tab')
  await expect(page.getByRole('button', { name: 'English' })).toBeFocused()
  await page.keyboard.press('Tab')
  await expect(page.getByRole('tab', { name: '密码登录' })).toBeFocused()
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('手机号')).toBeFocused()
  await page.keyboard.type(mobile)
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('密码', { exact: true })).toBeFocused()
  await page.keyboard.type('keyboard password')
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: '登录成功' })).toBeFocused()

  // Sign out: the focus comes back to the form's first field.
  await page.keyboard.press('Tab')
  await expect(page.getByRole('button', { name: '退出登录' })).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByLabel('手机号')).toBeFocused()

  // The arrow keys move between the tabs, and choose the one they move to.
  await page.keyboard.press('Shift+Tab')
  await expect(page.getByRole('tab', { name: '密码登录' })).toBeFocused()
  const captcha = await app.nextCaptcha(page, () => page.keyboard.press('ArrowRight'))
  const smsTab = page.getByRole('tab', { name: '验证码登录' })
  await expect(smsTab).toBeFocused()
  await expect(smsTab).toHaveAttribute('aria-selected', 'true')
  await expect(page.getByRole('tabpanel')).toHaveAttribute('aria-labelledby', 'login-by-smsCode')
  await page.keyboard.press('Tab')
  await sendCodeByKeyboard(page, mobile, captcha.answer)
  await page.keyboard.type(await app.smsCode(mobile, 'login'))
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: '登录成功' })).toBeFocused()
  await expect(page.getByTestId('signed-in-as')).toHaveText(`已登录：${mobile}`)
})

test('/reset by keyboard only', async ({ page, app }) => {
  const mobile = app.freshMobile()
  await app.createAccount(page, mobile, 'the old password')
  const captcha = await app.nextCaptcha(page, () => page.goto(`${app.url}/reset`))
  // Tab order: language switch, mobile, captcha, captcha image, the send button.
  await page.keyboard.press('Tab')
  await expect(page.getByRole('button', { name: 'English' })).toBeFocused()
  await page.keyboard.press('Tab')
  await sendCodeByKeyboard(page, mobile, captcha.answer)
  await page.keyboard.type(await app.smsCode(mobile, 'reset'))
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('新密码', { exact: true })).toBeFocused()
  await page.keyboard.type('the new password')
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: '密码已重置' })).toBeFocused()
  await expect(page.getByTestId('signed-in-as')).toHaveText(`已登录：${mobile}`)
})

/** Saves a full-page screenshot (kept in .test-results/screenshots) and checks it with axe. */
async function expectAxeClean(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true })
  const shot = await page.screenshot({
    path: path.join(SCREENSHOTS, `${name}.png`),
    fullPage: true,
  })
  await testInfo.attach(name, { body: shot, contentType: 'image/png' })
  expect((await new AxeBuilder({ page }).analyze()).violations).toEqual([])
}

for (const width of [375, 1280]) {
  test(`axe-core finds no violations on /login at ${width} px, both tabs, empty and with messages`, async ({
    page,
    app,
  }, testInfo) => {
    await page.setViewportSize({ width, height: width === 375 ? 740 : 800 })
    await page.goto(`${app.url}/login`)
    await expect(page.getByRole('tab', { name: '密码登录' })).toHaveAttribute(
      'aria-selected',
      'true',
    )
    await expectAxeClean(page, testInfo, `login-${width}`)

    await page.getByLabel('手机号').fill(app.freshMobile())
    await page.getByLabel('密码', { exact: true }).fill('not the password')
    await page.getByRole('button', { name: '登录', exact: true }).click()
    await expect(page.getByText('手机号或密码错误')).toBeVisible()
    await expectAxeClean(page, testInfo, `login-${width}-errors`)

    await app.nextCaptcha(page, () => page.getByRole('tab', { name: '验证码登录' }).click())
    await expectAxeClean(page, testInfo, `login-code-${width}`)
    await page.getByLabel('手机号').fill('12')
    await page.locator('#send-code').click()
    await expect(page.getByText('手机号不正确')).toBeVisible()
    await expectAxeClean(page, testInfo, `login-code-${width}-errors`)
  })

  test(`axe-core finds no violations on /reset at ${width} px, empty and with messages`, async ({
    page,
    app,
  }, testInfo) => {
    await page.setViewportSize({ width, height: width === 375 ? 740 : 800 })
    const mobile = app.freshMobile()
    const captcha = await app.nextCaptcha(page, () => page.goto(`${app.url}/reset`))
    await expectAxeClean(page, testInfo, `reset-${width}`)

    await page.getByLabel('手机号').fill(mobile)
    await page.getByLabel('图片验证码', { exact: true }).fill(captcha.answer)
    await page.locator('#send-code').click()
    await expect(page.locator('.sent')).toContainText(masked(mobile))
    // The code step, with a refusal beside the code.
    await page.getByLabel('短信验证码', { exact: true }).fill('12')
    await page.getByLabel('新密码', { exact: true }).fill('a long new password')
    await page.getByRole('button', { name: '重置密码', exact: true }).click()
    await expect(page.getByText('短信验证码错误')).toBeVisible()
    await expectAxeClean(page, testInfo, `reset-${width}-errors`)
  })
}
