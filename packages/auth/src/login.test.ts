import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import type { MemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import type { UserDirectory } from '@signup/db/user-directory'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import { StoreUnavailableError } from '@signup/kv/store'
import { createCallerFactory } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'
import { describe, expect, it } from 'vitest'
import { authRouter } from './router.ts'
import { sessionKey, userSessionsKey } from './session-store.ts'
import { attemptLimitKeys } from './sign-in-limiter.ts'
import {
  countingVerifier,
  createTestCookie,
  createTestServices,
  failing,
  outcome,
  refusal,
  scryptCostOf,
  testPasswordHasher,
} from './testing/test-services.ts'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const UNKNOWN = '13987654321'
const NO_PASSWORD = '15011112222'
const PASSWORD = 'correct horse'
const IP = '203.0.113.9'

async function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const clock = { now: 1_000_000 }
  const limiter = options.limiter ?? new MemoryLimiter({ now: () => clock.now })
  const users = (options.users ?? createMemoryUserDirectory()) as MemoryUserDirectory
  const hash = await testPasswordHasher.hash(PASSWORD)
  if ('add' in users) {
    users.add(MOBILE, hash)
    users.add(NO_PASSWORD)
  }
  const counting = countingVerifier()
  const env = createTestServices({
    passwordVerifier: counting.verifier,
    ...options,
    limiter,
    users,
  })
  const callerWith = (cookie = createTestCookie(), clientIp: string | null = IP) =>
    createCaller({ services: { auth: env.services }, clientIp, session: cookie })
  const cookie = createTestCookie()
  return {
    ...env,
    users,
    limiter,
    clock,
    hash,
    calls: counting.calls,
    cookie,
    caller: callerWith(cookie),
    callerWith,
  }
}

const input = (overrides: Record<string, unknown> = {}) =>
  ({ mobile: MOBILE, password: PASSWORD, ...overrides }) as never

describe('auth.login through createCaller', () => {
  it('OK: the user, a session in the cookie and the index, last_login_at, no failure counted', async () => {
    const { caller, cookie, kv, users, limiter, calls, hash } = await setup()
    const result = await caller.login(input())
    expect(result).toEqual({
      errno: 0,
      errmsg: '登录成功',
      user: { id: 1, mobile: MOBILE, nickName: MOBILE },
    })
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie.maxAge).toBe(7 * 86_400)
    expect(await kv.get(sessionKey(cookie.value!))).toContain('"userId":1')
    expect(await kv.expiringSetMembers(userSessionsKey(1))).toHaveLength(1)
    expect(users.lastLoginAtOf(MOBILE)).toBeInstanceOf(Date)
    expect(calls).toEqual([{ stored: hash, matched: true }])
    // The count taken before the check went back: a success is no failure.
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toBeNull()
    expect(limiter.peek(attemptLimitKeys.loginIpHour(IP))).toBeNull()
  })

  it('accepts and strips +86, and ends a session the browser had before', async () => {
    const { callerWith, services, kv } = await setup()
    const previous = await services.sessions.create(42, 600)
    const cookie = createTestCookie(previous)
    const result = await callerWith(cookie).login(input({ mobile: `+86${MOBILE}` }))
    expect(result.user.mobile).toBe(MOBILE)
    expect(cookie.value).not.toBe(previous)
    expect(await kv.get(sessionKey(previous))).toBeNull()
  })

  it.each([
    ['a wrong password', { password: 'wrong horse' }],
    ['an unknown mobile', { mobile: UNKNOWN }],
    ['an account without a password', { mobile: NO_PASSWORD }],
  ])(
    'LOGINERR (4102) 手机号或密码错误 for %s, with no field and no cookie',
    async (_name, fields) => {
      const { caller, cookie, users } = await setup()
      const r = await refusal(caller.login(input(fields)))
      expect(r).toEqual({ code: 'UNAUTHORIZED', errno: RET.LOGINERR, errmsg: '手机号或密码错误' })
      expect(cookie.value).toBeNull()
      expect(users.lastLoginAtOf(MOBILE)).toBeUndefined()
    },
  )

  it('an unknown mobile and an account without a password cost the hasher what a wrong password does', async () => {
    const { caller, calls, hash } = await setup()
    await refusal(caller.login(input({ password: 'wrong horse' })))
    await refusal(caller.login(input({ mobile: UNKNOWN })))
    await refusal(caller.login(input({ mobile: NO_PASSWORD })))
    // One scrypt check each, every one at the cost of the stored hash.
    expect(calls.map((call) => call.matched)).toEqual([false, false, false])
    expect(calls[0]?.stored).toBe(hash)
    const costs = calls.map((call) => scryptCostOf(call.stored))
    expect(costs[0]).toBe('ln=10,r=8,p=1 salt:22 key:43')
    expect(costs).toEqual([costs[0], costs[0], costs[0]])
  })

  it('counts each failure against the mobile and the client IP', async () => {
    const { caller, limiter } = await setup()
    await refusal(caller.login(input({ password: 'wrong horse' })))
    await refusal(caller.login(input({ mobile: UNKNOWN })))
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toMatchObject({ count: 1 })
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(UNKNOWN))).toMatchObject({ count: 1 })
    expect(limiter.peek(attemptLimitKeys.loginIpHour(IP))).toMatchObject({ count: 2 })
    const ttl = limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))?.ttlMs ?? 0
    expect(ttl).toBeGreaterThan(899_000)
    expect(ttl).toBeLessThanOrEqual(900_000)
  })

  it('REQERR (4201) past LOGIN_LIMIT_MOBILE_15MIN, with retryAfter; the password is not checked', async () => {
    const { caller, calls, clock, cookie } = await setup()
    for (let i = 0; i < 10; i++) {
      expect(await outcome(caller.login(input({ password: `wrong horse ${i}` })))).toBe(
        RET.LOGINERR,
      )
    }
    clock.now += 60_000
    const r = await refusal(caller.login(input()))
    expect(r).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      errno: RET.REQERR,
      errmsg: '请求过于频繁，请稍后再试',
      field: 'mobile',
      retryAfter: 840,
    })
    // The right password was not checked: ten checks, all of the wrong ones.
    expect(calls).toHaveLength(10)
    expect(cookie.value).toBeNull()
    // The window ends 15 minutes after the first failure: then the right password signs in.
    clock.now += 840_000
    expect((await caller.login(input())).errno).toBe(0)
  })

  it('the per-mobile limit holds from any client IP, and an unknown mobile has one too', async () => {
    const { callerWith } = await setup()
    for (let i = 0; i < 10; i++) {
      await outcome(callerWith(undefined, `198.51.100.${i}`).login(input({ mobile: UNKNOWN })))
    }
    expect(
      await refusal(callerWith(undefined, '198.51.100.99').login(input({ mobile: UNKNOWN }))),
    ).toMatchObject({ errno: RET.REQERR })
  })

  it('REQERR past LOGIN_LIMIT_IP_HOUR across mobiles, an IPv6 /64 counted as one client', async () => {
    const { callerWith, calls } = await setup({
      config: {
        attemptLimits: { loginMobile15Min: 10, loginIpHour: 3, wrongCodeMobileDay: 20 },
      },
    })
    const mobiles = ['13900000001', '13900000002', '13900000003']
    for (const [i, mobile] of mobiles.entries()) {
      const ip = `2001:db8:5:6::${i + 1}`
      expect(await outcome(callerWith(undefined, ip).login(input({ mobile })))).toBe(RET.LOGINERR)
    }
    const r = await refusal(callerWith(undefined, '2001:db8:5:6::ff').login(input()))
    expect(r).toMatchObject({ errno: RET.REQERR })
    expect(r.retryAfter).toBe(3600)
    expect(calls).toHaveLength(3)
    // Another /64 and another IPv4 client are not affected; nor is a client with no known address.
    expect((await callerWith(undefined, '2001:db8:5:7::1').login(input())).errno).toBe(0)
    expect((await callerWith(undefined, null).login(input())).errno).toBe(0)
  })

  it('a success gives back its own count only: earlier failures stay counted', async () => {
    const { caller, limiter } = await setup()
    for (let i = 0; i < 3; i++) await outcome(caller.login(input({ password: 'wrong horse' })))
    expect((await caller.login(input())).errno).toBe(0)
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toMatchObject({ count: 3 })
    expect(limiter.peek(attemptLimitKeys.loginIpHour(IP))).toMatchObject({ count: 3 })
  })

  it('20 concurrent wrong sign-ins: exactly 10 are checked, the other 10 are REQERR', async () => {
    const { callerWith, calls } = await setup()
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(callerWith().login(input({ password: `wrong horse ${i}` }))),
      ),
    )
    expect(outcomes.filter((errno) => errno === RET.LOGINERR)).toHaveLength(10)
    expect(outcomes.filter((errno) => errno === RET.REQERR)).toHaveLength(10)
    expect(calls).toHaveLength(10)
  })

  it.each([
    ['no mobile', { mobile: undefined }],
    ['an empty mobile', { mobile: '' }],
    ['no password', { password: undefined }],
    ['an empty password', { password: '' }],
    ['a password of the wrong type', { password: 12345678 }],
  ])('PARAMERR (4103) 参数不全 for %s: nothing is counted or checked', async (_name, fields) => {
    const { caller, calls, limiter } = await setup()
    const r = await refusal(caller.login(input(fields)))
    expect(r).toMatchObject({ code: 'BAD_REQUEST', errno: RET.PARAMERR, errmsg: '参数不全' })
    expect(calls).toHaveLength(0)
    expect(limiter.peek(attemptLimitKeys.loginIpHour(IP))).toBeNull()
  })

  it.each(['short', 'x'.repeat(129)])(
    'PARAMERR (4103) with the length message for the password %j',
    async (password) => {
      const { caller } = await setup()
      expect(await refusal(caller.login(input({ password })))).toMatchObject({
        errno: RET.PARAMERR,
        errmsg: '密码长度应为 8 到 128 个字符',
        field: 'password',
      })
    },
  )

  it('DATAERR (4004) 手机号不正确 for a malformed mobile', async () => {
    const { caller } = await setup()
    expect(await refusal(caller.login(input({ mobile: '138 1234 5678' })))).toMatchObject({
      errno: RET.DATAERR,
      errmsg: '手机号不正确',
      field: 'mobile',
    })
  })

  it('DBERR (4001) when the limits cannot be counted: nothing is checked', async () => {
    const limiter = new MemoryLimiter()
    limiter.take = () => Promise.reject(new StoreUnavailableError('scripted outage'))
    const { caller, calls } = await setup({ limiter })
    expect(await refusal(caller.login(input()))).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errno: RET.DBERR,
      errmsg: '读取登录限制失败',
    })
    expect(calls).toHaveLength(0)
  })

  it('DBERR (4001) when the user lookup fails; the count goes back', async () => {
    const users: UserDirectory = {
      ...createMemoryUserDirectory(),
      findCredentials: () => Promise.reject(new Error('connection refused')),
    }
    const { caller, limiter } = await setup({ users })
    expect(await refusal(caller.login(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '数据库查询错误',
    })
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toBeNull()
  })

  it('DBERR (4001) when the sign-in cannot be recorded, with no session', async () => {
    const base = createMemoryUserDirectory()
    const users: UserDirectory = {
      ...base,
      recordSignIn: () => Promise.reject(new Error('connection refused')),
    }
    base.add(MOBILE, await testPasswordHasher.hash(PASSWORD))
    const { caller, cookie } = await setup({ users })
    expect(await refusal(caller.login(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '保存登录信息失败',
    })
    expect(cookie.value).toBeNull()
  })

  it('DBERR (4001) when the session cannot be stored: no cookie', async () => {
    const kv = new MemoryStore()
    const { caller, cookie, logger } = await setup({ kv: failing(kv, ['set']) })
    expect(await refusal(caller.login(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '登录失败：保存登录状态失败，请稍后再试',
    })
    expect(cookie.value).toBeNull()
    expect(logger.lines.some((line) => line.level === 'error')).toBe(true)
  })

  it('SERVERERR (4500) when the verifier fails, without its text; the count goes back', async () => {
    const { caller, limiter } = await setup({
      passwordVerifier: {
        decoyHash: testPasswordHasher.decoyHash,
        verify: () => Promise.reject(new Error('secret internals')),
      },
    })
    expect(await refusal(caller.login(input()))).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      errno: RET.SERVERERR,
      errmsg: '内部错误',
    })
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toBeNull()
  })

  it('LOGINERR when a reset changes the password during the check: the new session ends', async () => {
    const base = createMemoryUserDirectory()
    base.add(MOBILE, await testPasswordHasher.hash(PASSWORD))
    let reads = 0
    const users: UserDirectory = {
      ...base,
      // The second read, after the session was stored, finds the hash a reset just wrote.
      async findCredentials(mobile) {
        const found = await base.findCredentials(mobile)
        return ++reads === 1 || !found ? found : { ...found, passwordHash: '$scrypt$new' }
      },
    }
    const { caller, cookie, kv } = await setup({ users })
    expect(await refusal(caller.login(input()))).toMatchObject({ errno: RET.LOGINERR })
    expect(cookie.value).toBeNull()
    const [digest] = await kv.expiringSetMembers(userSessionsKey(1))
    expect(digest).toBeDefined()
    expect(await kv.get(`signup:session:${digest}`)).toBeNull()
  })

  it('never logs the password, and the mobile only masked', async () => {
    const { caller, logger } = await setup()
    await caller.login(input())
    await refusal(caller.login(input({ password: 'wrong horse' })))
    const logged = JSON.stringify(logger.lines)
    expect(logged).toContain('138****5678')
    expect(logged).not.toContain(PASSWORD)
    expect(logged).not.toContain('wrong horse')
    expect(logged).not.toContain(MOBILE)
  })
})
