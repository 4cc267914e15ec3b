import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { sealedSmsCode } from './testing/test-services.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import { createCallerFactory } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'
import { describe, expect, it } from 'vitest'
import { authRouter } from './router.ts'
import { sessionKey } from './session-store.ts'
import { attemptLimitKeys } from './sign-in-limiter.ts'
import { MAX_SMS_CODE_ATTEMPTS } from './sms-code-check.ts'
import { smsCodeKey, smsCodeKeys } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  outcome,
  refusal,
} from './testing/test-services.ts'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const CODE = '048213'
const loginCodeKey = smsCodeKeys('login').code(MOBILE)
const loginAttemptsKey = smsCodeKeys('login').attempts(MOBILE)

async function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const clock = { now: 1_000_000 }
  const limiter = options.limiter ?? new MemoryLimiter({ now: () => clock.now })
  const env = createTestServices({ ...options, limiter })
  // A store scripted to fail is seeded by its test through the store it wraps.
  await env.services.smsCodeStore
    .for('login')
    .save(MOBILE, CODE, 300)
    .catch(() => undefined)
  const callerWith = (cookie = createTestCookie()) =>
    createCaller({ services: { auth: env.services }, clientIp: '127.0.0.1', session: cookie })
  const cookie = createTestCookie()
  return { ...env, limiter, clock, cookie, caller: callerWith(cookie), callerWith }
}

const input = (overrides: Record<string, unknown> = {}) =>
  ({ mobile: MOBILE, smsCode: CODE, ...overrides }) as never

describe('auth.loginWithSmsCode through createCaller', () => {
  it('OK for a new mobile: makes the account (nick_name = mobile, no password), created: true', async () => {
    const users = createMemoryUserDirectory()
    const { caller, cookie, kv, logger } = await setup({ users })
    const result = await caller.loginWithSmsCode(input())
    expect(result).toEqual({
      errno: 0,
      errmsg: '登录成功',
      user: { id: 1, mobile: MOBILE, nickName: MOBILE },
      created: true,
    })
    expect(users.passwordHashOf(MOBILE)).toBeUndefined()
    expect((await users.findCredentials(MOBILE))?.passwordHash).toBeNull()
    expect(users.lastLoginAtOf(MOBILE)).toBeInstanceOf(Date)
    expect(await kv.get(loginCodeKey)).toBeNull()
    expect(await kv.get(sessionKey(cookie.value!))).toContain('"userId":1')
    expect(JSON.stringify(logger.lines)).not.toContain(MOBILE)
  })

  it('OK for a registered mobile: signs it in, created: false, its password untouched', async () => {
    const users = createMemoryUserDirectory()
    users.add('13900000000')
    users.add(MOBILE, '$scrypt$kept')
    const { caller, cookie } = await setup({ users })
    const result = await caller.loginWithSmsCode(input())
    expect(result).toMatchObject({ errno: 0, user: { id: 2, mobile: MOBILE }, created: false })
    expect(users.passwordHashOf(MOBILE)).toBe('$scrypt$kept')
    expect(users.lastLoginAtOf(MOBILE)).toBeInstanceOf(Date)
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('a register code does not sign in, and is left as it was', async () => {
    const { caller, kv, services, users } = await setup()
    await services.smsCodeStore.save('13900000001', '111111', 300)
    const r = await refusal(
      caller.loginWithSmsCode(input({ mobile: '13900000001', smsCode: '111111' })),
    )
    expect(r).toMatchObject({ errno: RET.NODATA, errmsg: '短信验证码已失效，请重新获取' })
    expect(await kv.get(smsCodeKey('13900000001'))).toBe(
      sealedSmsCode('register', '13900000001', '111111'),
    )
    expect(await kv.get(smsCodeKeys('register').attempts('13900000001'))).toBeNull()
    expect(await users.existsByMobile('13900000001')).toBe(false)
  })

  it('a reset code does not sign in', async () => {
    const { caller, services } = await setup()
    await services.smsCodeStore.for('reset').save('13900000002', '222222', 300)
    expect(
      await outcome(caller.loginWithSmsCode(input({ mobile: '13900000002', smsCode: '222222' }))),
    ).toBe(RET.NODATA)
  })

  it('the code is consumed: the same code a second time is NODATA', async () => {
    const { caller } = await setup()
    await caller.loginWithSmsCode(input())
    expect(await outcome(caller.loginWithSmsCode(input()))).toBe(RET.NODATA)
  })

  it('DATAERR (4004) for a wrong code: the code stays, one attempt is counted on it', async () => {
    const { caller, kv, cookie, users } = await setup()
    const r = await refusal(caller.loginWithSmsCode(input({ smsCode: '999999' })))
    expect(r).toMatchObject({
      code: 'BAD_REQUEST',
      errno: RET.DATAERR,
      errmsg: '短信验证码错误',
      field: 'smsCode',
    })
    expect(await kv.get(loginCodeKey)).toBe(sealedSmsCode('login', MOBILE, CODE))
    expect(await kv.get(loginAttemptsKey)).toBe('1')
    expect(cookie.value).toBeNull()
    expect(await users.existsByMobile(MOBILE)).toBe(false)
  })

  it('5 wrong tries: the fifth says so and removes the code; the right one is then NODATA', async () => {
    const { caller, kv } = await setup()
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      expect(
        await refusal(caller.loginWithSmsCode(input({ smsCode: `00000${attempt}` }))),
      ).toMatchObject({ errno: RET.DATAERR, errmsg: '短信验证码错误' })
    }
    expect(await refusal(caller.loginWithSmsCode(input({ smsCode: '000005' })))).toMatchObject({
      errno: RET.DATAERR,
      errmsg: '短信验证码错误次数过多，请重新获取',
    })
    expect(await kv.get(loginCodeKey)).toBeNull()
    expect(await outcome(caller.loginWithSmsCode(input()))).toBe(RET.NODATA)
  })

  it('NODATA (4002) when no login code was sent, and once it expired', async () => {
    let now = 1_000_000
    const kv = new MemoryStore({ now: () => now })
    const { caller } = await setup({ kv })
    expect(await outcome(caller.loginWithSmsCode(input({ mobile: '13900000003' })))).toBe(
      RET.NODATA,
    )
    now += 300_000
    expect(await refusal(caller.loginWithSmsCode(input()))).toMatchObject({
      errno: RET.NODATA,
      field: 'smsCode',
    })
  })

  it('10 concurrent sign-ins of a new mobile with the right code: one account, one created: true', async () => {
    const users = createMemoryUserDirectory()
    const { callerWith } = await setup({ users })
    const cookies = Array.from({ length: 10 }, () => createTestCookie())
    const results = await Promise.all(
      cookies.map((cookie) =>
        callerWith(cookie)
          .loginWithSmsCode(input())
          .then(
            (result) => result,
            (error: unknown) => error,
          ),
      ),
    )
    const signedIn = results.filter((result) => (result as { errno?: number }).errno === 0)
    expect(signedIn).toEqual([expect.objectContaining({ created: true })])
    expect(await users.findById(2)).toBeNull()
    expect(cookies.filter((cookie) => cookie.value !== null)).toHaveLength(1)
  })

  it('a sixth concurrent try, answered before the first five, leaves the code to them: one signs in', async () => {
    // The first five tries' counts come back only once the sixth (count 6) has answered, the
    // order a busy Redis can give: the sixth must not take the code from the right five.
    let openGate = (): void => undefined
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    const store = new MemoryStore()
    const kv = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'increment') {
          return async (key: string, ttlSeconds: number) => {
            const count = await target.increment(key, ttlSeconds)
            if (key === loginAttemptsKey && count <= MAX_SMS_CODE_ATTEMPTS) await gate
            return count
          }
        }
        const value: unknown = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value
      },
    })
    const { callerWith } = await setup({ kv })
    const tries = Array.from({ length: MAX_SMS_CODE_ATTEMPTS + 1 }, () =>
      callerWith()
        .loginWithSmsCode(input())
        .then(
          (result) => result.errno,
          (error: unknown) => outcome(Promise.reject(error as Error)),
        ),
    )
    // Five tries wait at the gate, so the first to answer is the sixth.
    expect(await Promise.race(tries)).toBe(RET.NODATA)
    openGate()
    const errnos = await Promise.all(tries)
    expect(errnos.filter((errno) => errno === RET.OK)).toHaveLength(1)
    expect(errnos.filter((errno) => errno === RET.NODATA)).toHaveLength(MAX_SMS_CODE_ATTEMPTS)
  })

  it('a mobile registered between the lookup and the insert is signed in, created: false', async () => {
    const base = createMemoryUserDirectory()
    let lookups = 0
    const users: UserDirectory = {
      ...base,
      // Register (on another instance) wins the insert after this sign-in's lookup found nobody.
      async findCredentials(mobile) {
        if (++lookups === 1) {
          await base.create({ mobile, nickName: mobile, passwordHash: '$scrypt$theirs' })
          return null
        }
        return base.findCredentials(mobile)
      },
    }
    const { caller } = await setup({ users })
    const result = await caller.loginWithSmsCode(input())
    expect(result).toMatchObject({ errno: 0, created: false, user: { id: 1, mobile: MOBILE } })
    expect(base.passwordHashOf(MOBILE)).toBe('$scrypt$theirs')
    expect(base.lastLoginAtOf(MOBILE)).toBeInstanceOf(Date)
  })

  it('REQERR (4201) past the daily wrong-code limit, across codes and purposes; a new code buys no more', async () => {
    const { caller, services, limiter, clock } = await setup({
      config: { attemptLimits: { loginMobile15Min: 10, loginIpHour: 100, wrongCodeMobileDay: 3 } },
    })
    await refusal(caller.loginWithSmsCode(input({ smsCode: '000001' })))
    // A register try with no register code waiting is no guess, and is not counted.
    await refusal(caller.register({ mobile: MOBILE, smsCode: '000002', password: 'long enough' }))
    expect(limiter.peek(attemptLimitKeys.wrongCodeMobileDay(MOBILE))).toMatchObject({ count: 1 })
    await services.smsCodeStore.save(MOBILE, '777777', 300)
    await refusal(caller.register({ mobile: MOBILE, smsCode: '000002', password: 'long enough' }))
    // A fresh login code: its own five tries, but the mobile's daily count goes on.
    await services.smsCodeStore.for('login').save(MOBILE, CODE, 300)
    await refusal(caller.loginWithSmsCode(input({ smsCode: '000003' })))
    expect(limiter.peek(attemptLimitKeys.wrongCodeMobileDay(MOBILE))).toMatchObject({ count: 3 })
    const r = await refusal(caller.loginWithSmsCode(input()))
    expect(r).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      errno: RET.REQERR,
      field: 'smsCode',
      retryAfter: 86_400,
    })
    // Not compared: the right code is still there for when the day ends.
    expect(await services.smsCodeStore.for('login').peek(MOBILE)).toBe(
      sealedSmsCode('login', MOBILE, CODE),
    )
    clock.now += 86_400_000
    expect((await caller.loginWithSmsCode(input())).errno).toBe(0)
  })

  it('a right code and a missing code are not counted as wrong', async () => {
    const { caller, limiter } = await setup()
    await outcome(caller.loginWithSmsCode(input({ mobile: '13900000004' })))
    await caller.loginWithSmsCode(input())
    expect(limiter.peek(attemptLimitKeys.wrongCodeMobileDay(MOBILE))).toBeNull()
    expect(limiter.peek(attemptLimitKeys.wrongCodeMobileDay('13900000004'))).toBeNull()
  })

  it.each([
    ['no mobile', { mobile: undefined }, RET.PARAMERR],
    ['no code', { smsCode: undefined }, RET.PARAMERR],
    ['an empty code', { smsCode: '' }, RET.PARAMERR],
    ['a numeric code', { smsCode: 48213 }, RET.PARAMERR],
    ['a malformed mobile', { mobile: '1381234567' }, RET.DATAERR],
    ['a code of 5 digits', { smsCode: '12345' }, RET.DATAERR],
    ['a code of full-width digits', { smsCode: '１２３４５６' }, RET.DATAERR],
  ])('input refused for %s, without spending an attempt', async (_name, fields, errno) => {
    const { caller, kv } = await setup()
    expect(await refusal(caller.loginWithSmsCode(input(fields)))).toMatchObject({
      code: 'BAD_REQUEST',
      errno,
    })
    expect(await kv.get(loginCodeKey)).toBe(sealedSmsCode('login', MOBILE, CODE))
    expect(await kv.get(loginAttemptsKey)).toBeNull()
  })

  it.each([
    ['reading the code', ['get']],
    ['counting the attempt', ['increment']],
    ['consuming the code', ['deleteIfEqual']],
  ] as const)('DBERR (4001) when Redis fails %s', async (_name, methods) => {
    const kv = new MemoryStore()
    const { caller, services, cookie } = await setup({ kv: failing(kv, [...methods]) })
    await createTestServices({ kv }).services.smsCodeStore.for('login').save(MOBILE, CODE, 300)
    expect(await refusal(caller.loginWithSmsCode(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '读取短信验证码失败',
    })
    expect(await services.users.existsByMobile(MOBILE)).toBe(false)
    expect(cookie.value).toBeNull()
  })

  it.each([
    ['looked up', { findCredentials: () => Promise.reject(new Error('connection refused')) }],
    ['created', { create: () => Promise.reject(new Error('connection refused')) }],
  ])('DBERR (4001) 保存用户信息失败 when the user cannot be %s', async (_name, broken) => {
    const users: UserDirectory = { ...createMemoryUserDirectory(), ...broken }
    const { caller, cookie } = await setup({ users })
    expect(await refusal(caller.loginWithSmsCode(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '保存用户信息失败',
    })
    expect(cookie.value).toBeNull()
  })

  it('DBERR (4001) when the session cannot be stored: the account exists, no cookie', async () => {
    const kv = new MemoryStore()
    const users = createMemoryUserDirectory()
    const { caller, cookie } = await setup({ kv: failing(kv, ['set']), users })
    await kv.set(loginCodeKey, sealedSmsCode('login', MOBILE, CODE), 300)
    expect(await refusal(caller.loginWithSmsCode(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '登录失败：保存登录状态失败，请稍后再试',
    })
    expect(await users.existsByMobile(MOBILE)).toBe(true)
    expect(cookie.value).toBeNull()
  })
})
