import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { sealedSmsCode, TEST_CONFIG } from './testing/test-services.ts'
import { describe, expect, it } from 'vitest'
import { MemoryStore } from '@signup/kv/memory-store'
import { verifyPassword } from './password-hash.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { MAX_SMS_CODE_ATTEMPTS } from './register.ts'
import { RET } from '@signup/trpc/ret'
import { authRouter } from './router.ts'
import { sessionKey } from './session-store.ts'
import { captchaKey, resendKey, smsAttemptsKey, smsCodeKey } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  leastMsLeft,
  outcome,
  refusal,
} from './testing/test-services.ts'
import { createCallerFactory } from '@signup/trpc/init'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const CODE = '048213'
const PASSWORD = 'correct horse'
const SESSION_TTL = 7 * 86_400

async function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const env = createTestServices(options)
  // A store scripted to fail is seeded by its test through the store it wraps.
  await env.services.smsCodeStore.save(MOBILE, CODE, 300).catch(() => undefined)
  const cookie = createTestCookie()
  const callerWith = (sessionCookie = createTestCookie()) =>
    createCaller({
      services: { auth: env.services },
      clientIp: '127.0.0.1',
      session: sessionCookie,
    })
  return { ...env, cookie, caller: callerWith(cookie), callerWith }
}

const input = (overrides: Record<string, unknown> = {}) =>
  ({ mobile: MOBILE, smsCode: CODE, password: PASSWORD, ...overrides }) as never

describe('auth.register through createCaller', () => {
  it('OK: creates the user, consumes the code, hashes the password and starts a session', async () => {
    const users = createMemoryUserDirectory()
    const { caller, cookie, kv, logger } = await setup({ users })
    const result = await caller.register(input())
    expect(result).toEqual({
      errno: 0,
      errmsg: '注册成功',
      user: { id: 1, mobile: MOBILE, nickName: MOBILE },
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()

    const hash = users.passwordHashOf(MOBILE)
    expect(hash).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
    expect(await verifyPassword(PASSWORD, hash!)).toBe(true)
    expect(await verifyPassword('wrong horse', hash!)).toBe(false)

    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie.maxAge).toBe(SESSION_TTL)
    // Redis holds a digest of the id, never the id itself.
    expect(await kv.get(sessionKey(cookie.value!))).toContain('"userId":1')
    expect(await kv.get(`signup:session:${cookie.value}`)).toBeNull()
    expect(await kv.pttl(sessionKey(cookie.value!))).toBeGreaterThan((SESSION_TTL - 5) * 1000)

    expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD)
    expect(JSON.stringify(logger.lines)).not.toContain(MOBILE)
  })

  it('accepts and strips +86, and passwords of exactly 8 and 128 characters', async () => {
    const { caller } = await setup()
    const result = await caller.register(input({ mobile: `+86${MOBILE}`, password: '12345678' }))
    expect(result.user.mobile).toBe(MOBILE)

    const long = await setup()
    expect((await long.caller.register(input({ password: 'p'.repeat(128) }))).errno).toBe(0)
  })

  it('counts password characters as the user sees them (an emoji is one)', async () => {
    const { caller } = await setup()
    expect((await caller.register(input({ password: '🔑'.repeat(8) }))).errno).toBe(0)
    const tooLong = await setup()
    const r = await refusal(tooLong.caller.register(input({ password: '🔑'.repeat(129) })))
    expect(r).toMatchObject({ errno: RET.PARAMERR, errmsg: '密码长度应为 8 到 128 个字符' })
  })

  it.each([
    ['7 characters', 'abcdefg'],
    ['129 characters', 'x'.repeat(129)],
  ])(
    'PARAMERR (4103) with a message saying so for a password of %s; the code is untouched',
    async (_name, password) => {
      const { caller, kv, cookie } = await setup()
      const r = await refusal(caller.register(input({ password })))
      expect(r).toMatchObject({
        code: 'BAD_REQUEST',
        errno: RET.PARAMERR,
        errmsg: '密码长度应为 8 到 128 个字符',
        field: 'password',
      })
      expect(await kv.get(smsCodeKey(MOBILE))).toBe(sealedSmsCode('register', MOBILE, CODE))
      expect(await kv.get(smsAttemptsKey(MOBILE))).toBeNull()
      expect(cookie.value).toBeNull()
    },
  )

  it.each([
    ['no mobile', { mobile: undefined }],
    ['an empty mobile', { mobile: '' }],
    ['no code', { smsCode: undefined }],
    ['an empty code', { smsCode: '' }],
    ['no password', { password: undefined }],
    ['an empty password', { password: '' }],
    ['a code of the wrong type', { smsCode: 48213 }],
    ['a password of the wrong type', { password: 12345678 }],
  ])('PARAMERR (4103) 参数不全 for %s, and nothing changes', async (_name, overrides) => {
    const { caller, kv, users } = await setup()
    const r = await refusal(caller.register(input(overrides)))
    expect(r).toMatchObject({ code: 'BAD_REQUEST', errno: RET.PARAMERR, errmsg: '参数不全' })
    expect(await kv.get(smsCodeKey(MOBILE))).toBe(sealedSmsCode('register', MOBILE, CODE))
    expect(await kv.get(smsAttemptsKey(MOBILE))).toBeNull()
    expect(await users.existsByMobile(MOBILE)).toBe(false)
  })

  it('a bad password length (step 1) wins over a malformed mobile (step 2)', async () => {
    const { caller } = await setup()
    const r = await refusal(caller.register(input({ mobile: '1234', password: 'short' })))
    expect(r).toMatchObject({ errno: RET.PARAMERR, errmsg: '密码长度应为 8 到 128 个字符' })
  })

  it('DATAERR (4004) 手机号不正确 for a malformed mobile', async () => {
    const { caller } = await setup()
    const r = await refusal(caller.register(input({ mobile: '138 1234 5678' })))
    expect(r).toMatchObject({ errno: RET.DATAERR, errmsg: '手机号不正确', field: 'mobile' })
  })

  it.each(['12345', '1234567', 'abcdef', '１２３４５６', ' 48213'])(
    'DATAERR (4004) for the malformed code %j, without spending an attempt',
    async (smsCode) => {
      const { caller, kv } = await setup()
      const r = await refusal(caller.register(input({ smsCode })))
      expect(r).toMatchObject({ errno: RET.DATAERR, errmsg: '短信验证码错误', field: 'smsCode' })
      expect(await kv.get(smsCodeKey(MOBILE))).toBe(sealedSmsCode('register', MOBILE, CODE))
      expect(await kv.get(smsAttemptsKey(MOBILE))).toBeNull()
    },
  )

  it('DATAERR (4004) for a wrong code: the code stays, one attempt is counted', async () => {
    const since = Date.now()
    const { caller, kv, users, cookie } = await setup()
    const r = await refusal(caller.register(input({ smsCode: '999999' })))
    expect(r).toMatchObject({
      code: 'BAD_REQUEST',
      errno: RET.DATAERR,
      errmsg: '短信验证码错误',
      field: 'smsCode',
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBe(sealedSmsCode('register', MOBILE, CODE))
    expect(await kv.get(smsAttemptsKey(MOBILE))).toBe('1')
    expect(await kv.pttl(smsAttemptsKey(MOBILE))).toBeGreaterThanOrEqual(leastMsLeft(300, since))
    expect(await users.existsByMobile(MOBILE)).toBe(false)
    expect(cookie.value).toBeNull()
  })

  it('NODATA (4002) when no code was sent', async () => {
    const { caller } = await setup()
    const r = await refusal(caller.register(input({ mobile: '13900000000' })))
    expect(r).toMatchObject({
      code: 'BAD_REQUEST',
      errno: RET.NODATA,
      errmsg: '短信验证码已失效，请重新获取',
      field: 'smsCode',
    })
  })

  it('NODATA (4002) once the code has expired, even with the right code', async () => {
    let now = 1_000_000
    const kv = new MemoryStore({ now: () => now })
    const { caller, users } = await setup({ kv })
    now += 300_000
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({ errno: RET.NODATA })
    expect(await users.existsByMobile(MOBILE)).toBe(false)
  })

  it('5 wrong tries: the fifth says so and removes the code; the right code is then NODATA', async () => {
    const { caller, kv, users } = await setup()
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      const r = await refusal(caller.register(input({ smsCode: `00000${attempt}` })))
      expect(r).toMatchObject({ errno: RET.DATAERR, errmsg: '短信验证码错误' })
      expect(await kv.get(smsCodeKey(MOBILE))).toBe(sealedSmsCode('register', MOBILE, CODE))
    }
    const fifth = await refusal(caller.register(input({ smsCode: '000005' })))
    expect(fifth).toMatchObject({
      errno: RET.DATAERR,
      errmsg: '短信验证码错误次数过多，请重新获取',
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
    expect(await refusal(caller.register(input()))).toMatchObject({ errno: RET.NODATA })
    expect(await users.existsByMobile(MOBILE)).toBe(false)
  })

  it('4 wrong tries and then the right code: OK', async () => {
    const { caller } = await setup()
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      await refusal(caller.register(input({ smsCode: `00000${attempt}` })))
    }
    expect((await caller.register(input())).errno).toBe(0)
  })

  it('a new code sent by auth.sendSmsCode gets a fresh count of 5 tries', async () => {
    const { caller, kv, limiter, sms } = await setup()
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      await refusal(caller.register(input({ smsCode: `00000${attempt}` })))
    }
    await kv.set(captchaKey('captcha-id-0001'), 'AB3K', 300)
    await caller.sendSmsCode({ mobile: MOBILE, imageCode: 'AB3K', imageCodeId: 'captcha-id-0001' })
    const code = sms.sent[0]?.code ?? ''
    expect(await kv.get(smsAttemptsKey(MOBILE))).toBeNull()
    expect(limiter.peek(resendKey(MOBILE))?.count).toBe(1)
    const wrong = code === '111111' ? '222222' : '111111'
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      expect(await outcome(caller.register(input({ smsCode: wrong })))).toBe(RET.DATAERR)
    }
    expect((await caller.register(input({ smsCode: code }))).errno).toBe(0)
  })

  it('20 concurrent guesses: exactly 5 are compared, the rest NODATA, and the code is gone', async () => {
    // A daily cap above the 20 guesses, so that only the code's own five tries are in play.
    const { caller, kv, users } = await setup({
      config: {
        attemptLimits: { ...TEST_CONFIG.attemptLimits, wrongCodeMobileDay: 20 },
      },
    })
    // The right code is the tenth guess: past the limit, it is never compared.
    const guesses = Array.from({ length: 20 }, (_, i) => (i === 9 ? CODE : `1000${10 + i}`))
    const outcomes = await Promise.all(
      guesses.map((smsCode) => outcome(caller.register(input({ smsCode })))),
    )
    expect(outcomes.filter((errno) => errno === RET.DATAERR)).toHaveLength(5)
    expect(outcomes.filter((errno) => errno === RET.NODATA)).toHaveLength(15)
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
    expect(await users.existsByMobile(MOBILE)).toBe(false)
  })

  it('10 concurrent registrations with the right code: one account, the others NODATA', async () => {
    const users = createMemoryUserDirectory()
    const { callerWith } = await setup({ users })
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => outcome(callerWith().register(input()))),
    )
    expect(outcomes.filter((errno) => errno === RET.OK)).toHaveLength(1)
    expect(outcomes.filter((errno) => errno === RET.NODATA)).toHaveLength(9)
    expect(await users.findById(2)).toBeNull()
  })

  it('DATAEXIST (4003) for a registered mobile: the code is spent, no session starts', async () => {
    const { caller, kv, cookie } = await setup({ users: createMemoryUserDirectory([MOBILE]) })
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({
      code: 'CONFLICT',
      errno: RET.DATAEXIST,
      errmsg: '该手机已被注册',
      field: 'mobile',
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBeNull()
    expect(cookie.value).toBeNull()
  })

  it('DATAEXIST (4003) when the insert loses a race the directory decides', async () => {
    const users: UserDirectory = {
      ...createMemoryUserDirectory(),
      create: () => Promise.resolve({ kind: 'taken' }),
    }
    const { caller } = await setup({ users })
    expect(await refusal(caller.register(input()))).toMatchObject({ errno: RET.DATAEXIST })
  })

  it.each([
    ['reading the code', ['get']],
    ['counting the attempt', ['increment']],
    ['consuming the code', ['deleteIfEqual']],
  ] as const)('DBERR (4001) when Redis fails %s', async (_name, methods) => {
    const kv = new MemoryStore()
    const { caller, users, cookie } = await setup({ kv: failing(kv, [...methods]) })
    await kv.set(smsCodeKey(MOBILE), sealedSmsCode('register', MOBILE, CODE), 300)
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errno: RET.DBERR,
      errmsg: '读取短信验证码失败',
    })
    expect(await users.existsByMobile(MOBILE)).toBe(false)
    expect(cookie.value).toBeNull()
  })

  it('DBERR (4001) when the user cannot be stored', async () => {
    const users: UserDirectory = {
      ...createMemoryUserDirectory(),
      create: () => Promise.reject(new Error('connection refused')),
    }
    const { caller, cookie } = await setup({ users })
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({ errno: RET.DBERR, errmsg: '保存用户信息失败' })
    expect(cookie.value).toBeNull()
  })

  it('DBERR (4001) when the session cannot be stored: the account exists, and says so', async () => {
    const kv = new MemoryStore()
    const users = createMemoryUserDirectory()
    const { caller, cookie, logger } = await setup({ kv: failing(kv, ['set']), users })
    await kv.set(smsCodeKey(MOBILE), sealedSmsCode('register', MOBILE, CODE), 300)
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({
      errno: RET.DBERR,
      errmsg: '注册成功，但保存登录状态失败，请稍后登录',
    })
    expect(await users.existsByMobile(MOBILE)).toBe(true)
    expect(cookie.value).toBeNull()
    expect(logger.lines.some((line) => line.level === 'error')).toBe(true)
    expect(JSON.stringify(logger.lines)).not.toContain(PASSWORD)
  })

  it('SERVERERR (4500) when hashing fails, without the error text', async () => {
    const { caller } = await setup({
      passwordHasher: { hash: () => Promise.reject(new Error('secret internals')) },
    })
    const r = await refusal(caller.register(input()))
    expect(r).toMatchObject({ errno: RET.SERVERERR, errmsg: '内部错误' })
  })

  it('replaces a session the browser already had', async () => {
    const { callerWith, services, kv } = await setup()
    const previous = await services.sessions.create(42, 600)
    const cookie = createTestCookie(previous)
    await callerWith(cookie).register(input())
    expect(cookie.value).not.toBe(previous)
    expect(await kv.get(sessionKey(previous))).toBeNull()
  })
})

describe('auth.me and auth.logout through createCaller', () => {
  it('me is null without a cookie, the user with the session cookie, null after logout', async () => {
    const { caller, cookie, callerWith, kv } = await setup()
    expect(await caller.me()).toBeNull()
    await caller.register(input())
    const sessionId = cookie.value!

    const signedIn = createTestCookie(sessionId)
    expect(await callerWith(signedIn).me()).toEqual({ id: 1, mobile: MOBILE, nickName: MOBILE })
    expect(signedIn.value).toBe(sessionId)

    const leaving = createTestCookie(sessionId)
    expect(await callerWith(leaving).logout()).toEqual({ errno: 0, errmsg: '已退出登录' })
    expect(leaving.value).toBeNull()
    expect(leaving.maxAge).toBe(0)
    expect(await kv.get(sessionKey(sessionId))).toBeNull()

    // The same id replayed after logout no longer signs anyone in, and its cookie is cleared.
    const replayed = createTestCookie(sessionId)
    expect(await callerWith(replayed).me()).toBeNull()
    expect(replayed.value).toBeNull()
  })

  it.each(['', 'short', 'x'.repeat(43), `${'A'.repeat(42)}=`])(
    'me is null for the unknown or malformed session id %j',
    async (id) => {
      const { callerWith } = await setup()
      expect(await callerWith(createTestCookie(id)).me()).toBeNull()
    },
  )

  it('me is null, and the session ends, when the user no longer exists', async () => {
    const { callerWith, services, kv } = await setup()
    const orphan = await services.sessions.create(99, 600)
    const cookie = createTestCookie(orphan)
    expect(await callerWith(cookie).me()).toBeNull()
    expect(await kv.get(sessionKey(orphan))).toBeNull()
    expect(cookie.value).toBeNull()
  })

  it('logout without a session is OK and clears the cookie', async () => {
    const { caller, cookie } = await setup()
    expect(await caller.logout()).toEqual({ errno: 0, errmsg: '已退出登录' })
    expect(cookie.maxAge).toBe(0)
  })

  it('DBERR (4001) from me when Redis fails, and from logout, which still clears the cookie', async () => {
    const kv = new MemoryStore()
    const { services } = await setup({ kv })
    const id = await services.sessions.create(1, 600)
    const broken = createTestServices({ kv: failing(kv, ['get', 'del']) })
    const call = (cookie: ReturnType<typeof createTestCookie>) =>
      createCaller({ services: { auth: broken.services }, clientIp: null, session: cookie })
    expect(await refusal(call(createTestCookie(id)).me())).toMatchObject({
      errno: RET.DBERR,
      errmsg: '读取登录状态失败',
    })
    const cookie = createTestCookie(id)
    expect(await refusal(call(cookie).logout())).toMatchObject({
      errno: RET.DBERR,
      errmsg: '退出登录失败',
    })
    expect(cookie.value).toBeNull()
    // The store never heard of the logout: the session lives on until its TTL, hence the DBERR.
    expect(await kv.get(sessionKey(id))).not.toBeNull()
  })

  it('DBERR (4001) from me when the user lookup fails', async () => {
    const users: UserDirectory = {
      ...createMemoryUserDirectory(),
      findById: () => Promise.reject(new Error('connection refused')),
    }
    const { services, callerWith } = await setup({ users })
    const id = await services.sessions.create(1, 600)
    expect(await refusal(callerWith(createTestCookie(id)).me())).toMatchObject({
      errno: RET.DBERR,
      errmsg: '数据库查询错误',
    })
  })
})
