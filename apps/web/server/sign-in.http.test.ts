import { SEALED_CODE, sealedSmsCode } from '@signup/auth/testing/test-services'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

// The sign-in routes of the original's passport and the new procedures, against the production
// server: the same request checks as /passport/sms_code (JSON only, Origin, 16 KiB) and the same
// business answers as the procedures.
const PASSWORD = 'Tr0ub4dor&3-sign-in'
const MOBILE_LIMIT = 3
let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('http-sign-in', {
    LOGIN_LIMIT_MOBILE_15MIN: String(MOBILE_LIMIT),
    SMS_LIMIT_IP_HOUR: '100000',
    SMS_LIMIT_PREFIX_HOUR: '100000',
  })
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

const url = (path: string) => `${stack.server.url}${path}`
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  stack.post(path, body, headers)
const json = (path: string, fields: unknown, headers: Record<string, string> = {}) =>
  post(path, JSON.stringify(fields), headers)

/** `__Host-sid=<id>` out of a Set-Cookie header, for the Cookie header of the next request. */
function sessionPair(response: Response): string {
  const pair = response.headers.get('set-cookie')?.split(';')[0] ?? ''
  expect(pair).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}$/)
  return pair
}

/** Who the cookie signs in, as auth.me answers over HTTP (null: nobody). */
async function me(cookie: string): Promise<{ mobile: string } | null> {
  const response = await fetch(url('/api/trpc/auth.me'), { headers: { cookie } })
  return ((await response.json()) as { result: { data: { mobile: string } | null } }).result.data
}

/** A registered mobile with PASSWORD, and the cookie of the session register started. */
async function account(): Promise<{ mobile: string; cookie: string }> {
  const mobile = freshMobile()
  await stack.redis.set(`SMS_${mobile}`, sealedSmsCode('register', mobile, '314159'), 300)
  const response = await json('/passport/register', {
    mobile,
    smscode: '314159',
    password: PASSWORD,
  })
  expect(await response.json()).toEqual({ errno: 0, errmsg: '注册成功' })
  return { mobile, cookie: sessionPair(response) }
}

async function seedCaptcha(text = 'Q7RT'): Promise<string> {
  const id = randomUUID()
  await stack.redis.set(`ImageCode_${id}`, text, 300)
  return id
}

describe('POST /passport/login', () => {
  it('signs in: 200 {errno: 0}, a session cookie with the right attributes, seen by auth.me', async () => {
    const { mobile } = await account()
    const response = await json('/passport/login', { mobile, password: PASSWORD })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ errno: 0, errmsg: '登录成功' })
    const attributes = (response.headers.get('set-cookie') ?? '')
      .split(';')
      .map((part) => part.trim())
    expect(attributes).toEqual(
      expect.arrayContaining(['HttpOnly', 'SameSite=Lax', 'Path=/', 'Max-Age=604800', 'Secure']),
    )
    expect(await me(sessionPair(response))).toMatchObject({ mobile })
    expect(stack.server.output()).not.toContain(PASSWORD)
  })

  it('answers business refusals with 200 and their errno, setting no cookie', async () => {
    const { mobile } = await account()
    const cases: [Record<string, unknown>, { errno: number; errmsg: string }][] = [
      [
        { mobile, password: 'wrong horse battery' },
        { errno: 4102, errmsg: '手机号或密码错误' },
      ],
      [
        { mobile: freshMobile(), password: PASSWORD },
        { errno: 4102, errmsg: '手机号或密码错误' },
      ],
      [{ mobile }, { errno: 4103, errmsg: '参数不全' }],
      [
        { mobile, password: null },
        { errno: 4103, errmsg: '参数不全' },
      ],
      [
        { mobile, password: 'short' },
        { errno: 4103, errmsg: '密码长度应为 8 到 128 个字符' },
      ],
      [
        { mobile: '1234', password: PASSWORD },
        { errno: 4004, errmsg: '手机号不正确' },
      ],
    ]
    for (const [fields, expected] of cases) {
      const response = await json('/passport/login', fields)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual(expected)
      expect(response.headers.get('set-cookie')).toBeNull()
    }
  })

  it('past LOGIN_LIMIT_MOBILE_15MIN: 200 REQERR with Retry-After, and the right password is not checked', async () => {
    const { mobile } = await account()
    for (let i = 0; i < MOBILE_LIMIT; i++) {
      const response = await json('/passport/login', { mobile, password: `wrong horse ${i}` })
      expect(((await response.json()) as { errno: number }).errno).toBe(4102)
    }
    const refused = await json('/passport/login', { mobile, password: PASSWORD })
    expect(refused.status).toBe(200)
    expect(await refused.json()).toEqual({ errno: 4201, errmsg: '请求过于频繁，请稍后再试' })
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(800)
    expect(retryAfter).toBeLessThanOrEqual(900)
    expect(refused.headers.get('set-cookie')).toBeNull()
    // auth.login is held by the same count, as 429 with retryAfter in error.data and the header.
    const trpc = await json('/api/trpc/auth.login', { mobile, password: PASSWORD })
    expect(trpc.status).toBe(429)
    expect(Number(trpc.headers.get('retry-after'))).toBeGreaterThan(800)
    const body = (await trpc.json()) as { error: { data: Record<string, unknown> } }
    expect(body.error.data).toMatchObject({
      errno: 4201,
      retryAfter: expect.any(Number) as unknown,
    })
  })
})

describe('POST and GET /passport/logout', () => {
  it('POST {} ends the session and clears the cookie; the old cookie signs no one in', async () => {
    const { cookie } = await account()
    const response = await json('/passport/logout', {}, { cookie })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ errno: 0, errmsg: '已退出登录' })
    expect(response.headers.get('set-cookie')).toMatch(/^__Host-sid=; Max-Age=0;/)
    expect(await me(cookie)).toBeNull()
  })

  it('GET, as the original front end calls it, from this site or typed in: ends the session', async () => {
    const variants: Record<string, string>[] = [
      {},
      { 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
    ]
    for (const headers of variants) {
      const { cookie } = await account()
      const response = await fetch(url('/passport/logout'), { headers: { cookie, ...headers } })
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      expect(await response.json()).toEqual({ errno: 0, errmsg: '已退出登录' })
      expect(response.headers.get('set-cookie')).toMatch(/^__Host-sid=; Max-Age=0;/)
      expect(await me(cookie)).toBeNull()
    }
  })

  it('without a session both answer OK and clear the cookie', async () => {
    expect(await (await fetch(url('/passport/logout'))).json()).toEqual({
      errno: 0,
      errmsg: '已退出登录',
    })
    expect((await json('/passport/logout', {})).status).toBe(200)
  })

  it.each([
    ['a link on another site (Sec-Fetch-Site: cross-site)', { 'sec-fetch-site': 'cross-site' }],
    ['a sibling subdomain (Sec-Fetch-Site: same-site)', { 'sec-fetch-site': 'same-site' }],
    ['a cross-site Origin', { origin: 'https://evil.example' }],
  ])('GET from %s: 403, and the user stays signed in', async (_name, headers) => {
    const { mobile, cookie } = await account()
    const response = await fetch(url('/passport/logout'), { headers: { cookie, ...headers } })
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
    expect(response.headers.get('set-cookie')).toBeNull()
    expect(await me(cookie)).toMatchObject({ mobile })
  })

  it('POST with a cross-site Origin: 403, and the user stays signed in', async () => {
    const { mobile, cookie } = await account()
    const response = await json('/passport/logout', {}, { cookie, origin: 'https://evil.example' })
    expect(response.status).toBe(403)
    expect(await me(cookie)).toMatchObject({ mobile })
  })

  it('HEAD changes nothing: 405 with Allow', async () => {
    const { mobile, cookie } = await account()
    const response = await fetch(url('/passport/logout'), { method: 'HEAD', headers: { cookie } })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET, POST')
    expect(await me(cookie)).toMatchObject({ mobile })
  })
})

const twoMegabytes = JSON.stringify({ mobile: '13800000000', pad: 'x'.repeat(2 * 1024 * 1024) })

describe('the new legacy routes refuse bad requests without a 5xx', () => {
  const bad = (path: string): [string, () => Promise<Response>, number][] => [
    [`${path}: a JSON array`, () => post(path, '[]'), 400],
    [`${path}: a JSON string`, () => post(path, '"13800000000"'), 400],
    [`${path}: JSON null`, () => post(path, 'null'), 400],
    [`${path}: malformed JSON`, () => post(path, '{"mobile":'), 400],
    [`${path}: an empty body`, () => post(path, ''), 400],
    [`${path}: a 2 MB body`, () => post(path, twoMegabytes), 413],
    [`${path}: text/plain`, () => post(path, '{}', { 'content-type': 'text/plain' }), 400],
    [
      `${path}: a form`,
      () =>
        post(path, 'mobile=13800000000&password=x', {
          'content-type': 'application/x-www-form-urlencoded',
        }),
      400,
    ],
    [
      `${path}: a cross-site Origin`,
      () => post(path, '{}', { origin: 'https://evil.example' }),
      403,
    ],
  ]
  const cases: [string, () => Promise<Response>, number][] = [
    ...bad('/passport/login'),
    ...bad('/passport/logout'),
    [
      '/passport/login: a numeric password',
      () => json('/passport/login', { mobile: '13800000000', password: 12345678 }),
      400,
    ],
    [
      '/passport/login: an object for the mobile',
      () => json('/passport/login', { mobile: { n: 1 }, password: PASSWORD }),
      400,
    ],
    ['/passport/login: a GET', () => fetch(url('/passport/login')), 405],
    [
      '/passport/sms_code: a numeric purpose',
      () =>
        json('/passport/sms_code', {
          mobile: '13800000000',
          image_code: 'Q7RT',
          image_code_id: 'nope-0000',
          purpose: 2,
        }),
      400,
    ],
  ]

  it.each(cases)('%s', async (_name, send, status) => {
    const response = await send()
    expect(response.status).toBe(status)
    expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('still serves after all of them', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200)
    expect(stack.server.process.exitCode).toBeNull()
  })
})

describe('POST /passport/sms_code with a purpose', () => {
  it('login: stored under its own key, sent; reset for a mobile with no account: OK, not sent', async () => {
    const mobile = freshMobile()
    const login = await json('/passport/sms_code', {
      mobile,
      image_code: 'q7rt',
      image_code_id: await seedCaptcha(),
      purpose: 'login',
    })
    expect(await login.json()).toEqual({ errno: 0, errmsg: '发送成功' })
    expect(await stack.redis.get(`signup:sms-code:login:{${mobile}}`)).toMatch(SEALED_CODE)
    expect(await stack.redis.get(`SMS_${mobile}`)).toBeNull()

    const unknown = freshMobile()
    const reset = await json('/passport/sms_code', {
      mobile: unknown,
      image_code: 'Q7RT',
      image_code_id: await seedCaptcha(),
      purpose: 'reset',
    })
    expect(await reset.json()).toEqual({ errno: 0, errmsg: '发送成功' })
    expect(await stack.redis.get(`signup:sms-code:reset:{${unknown}}`)).toMatch(SEALED_CODE)
    await expect
      .poll(() => stack.server.output(), { timeout: 10_000 })
      .toContain('reset code for a mobile with no account: not sent')
  })

  it('an unknown purpose is a business refusal: 200 PARAMERR', async () => {
    const response = await json('/passport/sms_code', {
      mobile: freshMobile(),
      image_code: 'Q7RT',
      image_code_id: await seedCaptcha(),
      purpose: 'signup',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
  })
})

describe('auth.login, auth.loginWithSmsCode and auth.resetPassword over plain HTTP', () => {
  it('auth.login: the user and the cookie; LOGINERR is 401 with errno in error.data', async () => {
    const { mobile } = await account()
    const response = await json('/api/trpc/auth.login', { mobile, password: PASSWORD })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      result: { data: { errno: 0, errmsg: '登录成功', user: { mobile, nickName: mobile } } },
    })
    expect(await me(sessionPair(response))).toMatchObject({ mobile })

    const wrong = await json('/api/trpc/auth.login', { mobile, password: 'wrong horse battery' })
    expect(wrong.status).toBe(401)
    expect(((await wrong.json()) as { error: { data: unknown } }).error.data).toMatchObject({
      errno: 4102,
      errmsg: '手机号或密码错误',
    })
    expect(wrong.headers.get('set-cookie')).toBeNull()
  })

  it('auth.loginWithSmsCode makes the account of a new mobile and signs it in', async () => {
    const mobile = freshMobile()
    await stack.redis.set(
      `signup:sms-code:login:{${mobile}}`,
      sealedSmsCode('login', mobile, '271828'),
      300,
    )
    const response = await json('/api/trpc/auth.loginWithSmsCode', { mobile, smsCode: '271828' })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      result: { data: { errno: 0, created: true, user: { mobile, nickName: mobile } } },
    })
    expect(await me(sessionPair(response))).toMatchObject({ mobile })
    // A register code is no login code.
    const other = freshMobile()
    await stack.redis.set(`SMS_${other}`, sealedSmsCode('register', other, '271828'), 300)
    const refused = await json('/api/trpc/auth.loginWithSmsCode', {
      mobile: other,
      smsCode: '271828',
    })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: { data: unknown } }).error.data).toMatchObject({
      errno: 4002,
      field: 'smsCode',
    })
  })

  it('auth.resetPassword ends the other sessions and signs this client in', async () => {
    const { mobile, cookie } = await account()
    await stack.redis.set(
      `signup:sms-code:reset:{${mobile}}`,
      sealedSmsCode('reset', mobile, '161803'),
      300,
    )
    const response = await json('/api/trpc/auth.resetPassword', {
      mobile,
      smsCode: '161803',
      password: 'a brand new password',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      result: { data: { errno: 0, errmsg: '密码已重置', user: { mobile } } },
    })
    expect(await me(cookie)).toBeNull()
    expect(await me(sessionPair(response))).toMatchObject({ mobile })
    const old = await json('/passport/login', { mobile, password: PASSWORD })
    expect(await old.json()).toEqual({ errno: 4102, errmsg: '手机号或密码错误' })
  })

  it.each(['auth.login', 'auth.loginWithSmsCode', 'auth.resetPassword'])(
    '%s refuses text/plain (415) and a cross-site Origin (403)',
    async (procedure) => {
      const path = `/api/trpc/${procedure}`
      expect((await post(path, '{}', { 'content-type': 'text/plain' })).status).toBe(415)
      const crossSite = await post(path, '{}', { origin: 'https://evil.example' })
      expect(crossSite.status).toBe(403)
      expect(((await crossSite.json()) as { error: { data: unknown } }).error.data).toMatchObject({
        errno: 4103,
      })
    },
  )
})
