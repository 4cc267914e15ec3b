import { sealedSmsCode } from '@signup/auth/testing/test-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshMobile } from '@signup/db/testing/mobiles'
import { startTestStack } from '@signup/api/testing/test-stack'
import type { TestStack } from '@signup/api/testing/test-stack'

const PASSWORD = 'Tr0ub4dor&3-unique-marker'
let stack: TestStack

beforeAll(async () => {
  stack = await startTestStack('http-register')
}, 120_000)

afterAll(async () => {
  await stack?.stop()
})

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  stack.post(path, body, headers)

/** A code waiting in SMS_<mobile>, sealed as sendSmsCode leaves it. */
async function seedCode(mobile: string, code = '314159'): Promise<string> {
  await stack.redis.set(`SMS_${mobile}`, sealedSmsCode('register', mobile, code), 300)
  return code
}

function registerLegacy(fields: Record<string, unknown>) {
  return post('/passport/register', JSON.stringify(fields))
}

/** `__Host-sid=<id>` out of a Set-Cookie header, for the Cookie header of the next request. */
function sessionPair(setCookie: string | null): string {
  const pair = setCookie?.split(';')[0] ?? ''
  expect(pair).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}$/)
  return pair
}

async function me(cookie?: string): Promise<{ response: Response; data: unknown }> {
  const response = await fetch(`${stack.server.url}/api/trpc/auth.me`, {
    headers: cookie ? { cookie } : {},
  })
  const body = (await response.json()) as { result: { data: unknown } }
  return { response, data: body.result.data }
}

describe('POST /passport/register', () => {
  it('registers: 200 {errno: 0}, a session cookie with the right attributes, and auth.me', async () => {
    const mobile = freshMobile()
    const code = await seedCode(mobile)
    const response = await registerLegacy({ mobile, smscode: code, password: PASSWORD })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ errno: 0, errmsg: '注册成功' })

    const setCookie = response.headers.get('set-cookie')
    const attributes = (setCookie ?? '').split(';').map((part) => part.trim())
    expect(attributes).toEqual(
      expect.arrayContaining(['HttpOnly', 'SameSite=Lax', 'Path=/', 'Max-Age=604800', 'Secure']),
    )
    expect(attributes).toHaveLength(6)
    const cookie = sessionPair(setCookie)
    expect(await stack.redis.get(`SMS_${mobile}`)).toBeNull()

    const signedIn = await me(cookie)
    expect(signedIn.response.status).toBe(200)
    expect(signedIn.response.headers.get('cache-control')).toBe('no-store')
    expect(signedIn.data).toEqual({ id: expect.any(Number) as unknown, mobile, nickName: mobile })

    // The password never reaches the log, and the mobile only masked.
    await expect.poll(() => stack.server.output(), { timeout: 20_000 }).toContain('user registered')
    expect(stack.server.output()).not.toContain(PASSWORD)
    expect(stack.server.output()).not.toContain(mobile)
  })

  it('answers business refusals with 200 and their errno, setting no cookie', async () => {
    const mobile = freshMobile()
    const code = await seedCode(mobile)
    const cases: [Record<string, unknown>, { errno: number; errmsg: string }][] = [
      [
        { mobile, smscode: '000000', password: PASSWORD },
        { errno: 4004, errmsg: '短信验证码错误' },
      ],
      [
        { mobile, smscode: code, password: 'short' },
        { errno: 4103, errmsg: '密码长度应为 8 到 128 个字符' },
      ],
      [
        { mobile, smscode: code, password: 'x'.repeat(129) },
        { errno: 4103, errmsg: '密码长度应为 8 到 128 个字符' },
      ],
      [
        { mobile, password: PASSWORD },
        { errno: 4103, errmsg: '参数不全' },
      ],
      [
        { mobile, smscode: code, password: null },
        { errno: 4103, errmsg: '参数不全' },
      ],
      [
        { mobile: '1234', smscode: code, password: PASSWORD },
        { errno: 4004, errmsg: '手机号不正确' },
      ],
      [
        { mobile: freshMobile(), smscode: code, password: PASSWORD },
        { errno: 4002, errmsg: '短信验证码已失效，请重新获取' },
      ],
    ]
    for (const [fields, expected] of cases) {
      const response = await registerLegacy(fields)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual(expected)
      expect(response.headers.get('set-cookie')).toBeNull()
    }
    // One wrong try counted; the code itself is still there for the user to type correctly.
    expect(await stack.redis.get(`signup:sms-attempts:{${mobile}}`)).toBe('1')
    expect(
      (await (
        await registerLegacy({ mobile, smscode: code, password: PASSWORD })
      ).json()) as unknown,
    ).toEqual({ errno: 0, errmsg: '注册成功' })

    const again = await registerLegacy({
      mobile,
      smscode: await seedCode(mobile),
      password: PASSWORD,
    })
    expect(await again.json()).toEqual({ errno: 4003, errmsg: '该手机已被注册' })
  })

  it('the fifth wrong code removes it: the right one is then NODATA', async () => {
    const mobile = freshMobile()
    const code = await seedCode(mobile)
    for (let i = 0; i < 4; i++) {
      const response = await registerLegacy({ mobile, smscode: '000000', password: PASSWORD })
      expect(await response.json()).toEqual({ errno: 4004, errmsg: '短信验证码错误' })
    }
    const fifth = await registerLegacy({ mobile, smscode: '000000', password: PASSWORD })
    expect(await fifth.json()).toEqual({
      errno: 4004,
      errmsg: '短信验证码错误次数过多，请重新获取',
    })
    const right = await registerLegacy({ mobile, smscode: code, password: PASSWORD })
    expect(await right.json()).toMatchObject({ errno: 4002 })
  })
})

const twoMegabytes = JSON.stringify({ mobile: '13800000000', pad: 'x'.repeat(2 * 1024 * 1024) })

describe('POST /passport/register refuses bad requests without a 5xx', () => {
  const cases: [string, () => Promise<Response>, number][] = [
    ['a JSON array', () => post('/passport/register', '[]'), 400],
    ['a JSON string', () => post('/passport/register', '"13800000000"'), 400],
    ['a JSON number', () => post('/passport/register', '42'), 400],
    ['JSON null', () => post('/passport/register', 'null'), 400],
    ['malformed JSON', () => post('/passport/register', '{"mobile":'), 400],
    ['an empty body', () => post('/passport/register', ''), 400],
    [
      'a numeric password',
      () => registerLegacy({ mobile: '13800000000', smscode: '123456', password: 12345678 }),
      400,
    ],
    [
      'a numeric code',
      () => registerLegacy({ mobile: '13800000000', smscode: 123456, password: PASSWORD }),
      400,
    ],
    [
      'an object for the mobile',
      () => registerLegacy({ mobile: { n: 1 }, smscode: '123456', password: PASSWORD }),
      400,
    ],
    ['a 2 MB body', () => post('/passport/register', twoMegabytes), 413],
    [
      'a text/plain content type',
      () => post('/passport/register', '{}', { 'content-type': 'text/plain' }),
      400,
    ],
    [
      'a form content type',
      () =>
        post('/passport/register', 'mobile=13800000000&smscode=123456&password=x', {
          'content-type': 'application/x-www-form-urlencoded',
        }),
      400,
    ],
    [
      'a cross-site Origin',
      () =>
        post(
          '/passport/register',
          JSON.stringify({ mobile: '13800000000', smscode: '123456', password: PASSWORD }),
          { origin: 'https://evil.example' },
        ),
      403,
    ],
    ['a GET', () => fetch(`${stack.server.url}/passport/register`), 405],
  ]

  it.each(cases)('%s', async (_name, send, status) => {
    const response = await send()
    expect(response.status).toBe(status)
    expect(await response.json()).toEqual({ errno: 4103, errmsg: '参数不全' })
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('a same-origin Origin is allowed', async () => {
    const mobile = freshMobile()
    const response = await post(
      '/passport/register',
      JSON.stringify({ mobile, smscode: await seedCode(mobile), password: PASSWORD }),
      { origin: stack.server.url },
    )
    expect(await response.json()).toEqual({ errno: 0, errmsg: '注册成功' })
  })

  it('still serves after all of them', async () => {
    expect((await fetch(`${stack.server.url}/healthz`)).status).toBe(200)
    expect(stack.server.process.exitCode).toBeNull()
  })
})

describe('auth.register, auth.me and auth.logout over plain HTTP', () => {
  it('me is null without a cookie, and with a cookie naming no session', async () => {
    expect((await me()).data).toBeNull()
    const unknown = await me(`__Host-sid=${'A'.repeat(43)}`)
    expect(unknown.data).toBeNull()
    // The dead cookie is cleared so the browser stops sending it.
    expect(unknown.response.headers.get('set-cookie')).toMatch(/^__Host-sid=; Max-Age=0;/)
  })

  it('register sets the cookie, me reads it, logout ends the session and clears it', async () => {
    const mobile = freshMobile()
    const registered = await post(
      '/api/trpc/auth.register',
      JSON.stringify({ mobile, smsCode: await seedCode(mobile), password: PASSWORD }),
    )
    expect(registered.status).toBe(200)
    const { result } = (await registered.json()) as {
      result: { data: { errno: number; errmsg: string; user: { id: number; mobile: string } } }
    }
    expect(result.data).toMatchObject({ errno: 0, errmsg: '注册成功', user: { mobile } })
    const cookie = sessionPair(registered.headers.get('set-cookie'))
    expect(registered.headers.get('set-cookie')).toContain('HttpOnly')

    expect((await me(cookie)).data).toMatchObject({ id: result.data.user.id, mobile })

    const loggedOut = await post('/api/trpc/auth.logout', '', { cookie })
    expect(loggedOut.status).toBe(200)
    expect(await loggedOut.json()).toEqual({
      result: { data: { errno: 0, errmsg: '已退出登录' } },
    })
    const cleared = loggedOut.headers.get('set-cookie') ?? ''
    expect(cleared).toMatch(/^__Host-sid=; Max-Age=0;/)
    expect(cleared).toContain('HttpOnly')

    // The old cookie, replayed, signs no one in.
    expect((await me(cookie)).data).toBeNull()
  })

  it('a refusal carries errno, errmsg and field, with the fitting status', async () => {
    const mobile = freshMobile()
    const short = await post(
      '/api/trpc/auth.register',
      JSON.stringify({ mobile, smsCode: await seedCode(mobile), password: '1234567' }),
    )
    expect(short.status).toBe(400)
    const body = (await short.json()) as { error: { data: Record<string, unknown> } }
    expect(body.error.data).toMatchObject({
      errno: 4103,
      errmsg: '密码长度应为 8 到 128 个字符',
      field: 'password',
    })
    const wrong = await post(
      '/api/trpc/auth.register',
      JSON.stringify({ mobile, smsCode: '000000', password: PASSWORD }),
    )
    expect(wrong.status).toBe(400)
    expect(((await wrong.json()) as { error: { data: unknown } }).error.data).toMatchObject({
      errno: 4004,
      field: 'smsCode',
    })
    expect(wrong.headers.get('set-cookie')).toBeNull()
  })

  it('a cross-site logout is refused (403), so another site cannot sign the user out', async () => {
    const response = await post('/api/trpc/auth.logout', '', {
      origin: 'https://evil.example',
      cookie: `__Host-sid=${'A'.repeat(43)}`,
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('set-cookie')).toBeNull()
  })
})
