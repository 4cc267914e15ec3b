import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { sealedSmsCode } from './testing/test-services.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import { createCallerFactory } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'
import { describe, expect, it } from 'vitest'
import { verifyPassword } from './password-hash.ts'
import { authRouter } from './router.ts'
import { sessionKey, userSessionsKey } from './session-store.ts'
import { attemptLimitKeys } from './sign-in-limiter.ts'
import { MAX_SMS_CODE_ATTEMPTS } from './sms-code-check.ts'
import { smsCodeKeys } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  outcome,
  refusal,
  testPasswordHasher,
} from './testing/test-services.ts'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const OTHER = '13900000000'
const CODE = '271828'
const OLD_PASSWORD = 'correct horse'
const NEW_PASSWORD = 'battery staple'
const IP = '203.0.113.50'
const resetCodeKey = smsCodeKeys('reset').code(MOBILE)

async function setup(options: Parameters<typeof createTestServices>[0] = {}) {
  const limiter = options.limiter ?? new MemoryLimiter()
  const users = createMemoryUserDirectory()
  users.add(OTHER, await testPasswordHasher.hash(OLD_PASSWORD))
  users.add(MOBILE, await testPasswordHasher.hash(OLD_PASSWORD))
  const env = createTestServices({ users, ...options, limiter })
  await env.services.smsCodeStore
    .for('reset')
    .save(MOBILE, CODE, 300)
    .catch(() => undefined)
  const callerWith = (cookie = createTestCookie()) =>
    createCaller({ services: { auth: env.services }, clientIp: IP, session: cookie })
  const cookie = createTestCookie()
  return { ...env, users, limiter, cookie, caller: callerWith(cookie), callerWith }
}

const input = (overrides: Record<string, unknown> = {}) =>
  ({ mobile: MOBILE, smsCode: CODE, password: NEW_PASSWORD, ...overrides }) as never

describe('auth.resetPassword through createCaller', () => {
  it('OK: stores the new hash, consumes the code, signs this client in', async () => {
    const { caller, cookie, kv, users } = await setup()
    const result = await caller.resetPassword(input())
    expect(result).toEqual({
      errno: 0,
      errmsg: '密码已重置',
      user: { id: 2, mobile: MOBILE, nickName: MOBILE },
    })
    const hash = users.passwordHashOf(MOBILE) ?? ''
    expect(await verifyPassword(NEW_PASSWORD, hash)).toBe(true)
    expect(await verifyPassword(OLD_PASSWORD, hash)).toBe(false)
    expect(await kv.get(resetCodeKey)).toBeNull()
    expect(await kv.get(sessionKey(cookie.value!))).toContain('"userId":2')
    expect(cookie.maxAge).toBe(7 * 86_400)
    expect(users.lastLoginAtOf(MOBILE)).toBeInstanceOf(Date)
  })

  it('ends every session of the user, and only that user’s; this client’s new one lives', async () => {
    const { callerWith, services, kv } = await setup()
    const phone = createTestCookie()
    await callerWith(phone).login({ mobile: MOBILE, password: OLD_PASSWORD })
    const laptop = await services.sessions.create(2, 600)
    const someoneElse = await services.sessions.create(1, 600)
    const here = createTestCookie(await services.sessions.create(2, 600))
    await callerWith(here).resetPassword(input())

    for (const ended of [phone.value!, laptop, here.id!]) {
      expect(await kv.get(sessionKey(ended))).toBeNull()
      expect(await callerWith(createTestCookie(ended)).me()).toBeNull()
    }
    expect(await callerWith(createTestCookie(someoneElse)).me()).toMatchObject({ id: 1 })
    expect(await callerWith(createTestCookie(here.value)).me()).toMatchObject({ id: 2 })
    // The index lists the new session only.
    expect(await kv.expiringSetMembers(userSessionsKey(2))).toHaveLength(1)
  })

  it('then the old password is refused and the new one signs in', async () => {
    const { caller, callerWith } = await setup()
    await caller.resetPassword(input())
    expect(await outcome(callerWith().login({ mobile: MOBILE, password: OLD_PASSWORD }))).toBe(
      RET.LOGINERR,
    )
    expect((await callerWith().login({ mobile: MOBILE, password: NEW_PASSWORD })).errno).toBe(0)
  })

  it('gives an account made by SMS code its first password', async () => {
    const { caller, services, users } = await setup()
    await services.smsCodeStore.for('reset').save('15000000000', CODE, 300)
    users.add('15000000000')
    await caller.resetPassword(input({ mobile: '15000000000' }))
    expect(await verifyPassword(NEW_PASSWORD, users.passwordHashOf('15000000000') ?? '')).toBe(true)
  })

  it('forgets the mobile’s failed password sign-ins, not the client IP’s', async () => {
    const { caller, callerWith, limiter } = await setup()
    for (let i = 0; i < 10; i++) {
      await outcome(callerWith().login({ mobile: MOBILE, password: `wrong horse ${i}` }))
    }
    expect(await outcome(callerWith().login({ mobile: MOBILE, password: OLD_PASSWORD }))).toBe(
      RET.REQERR,
    )
    await caller.resetPassword(input())
    expect(limiter.peek(attemptLimitKeys.loginMobile15Min(MOBILE))).toBeNull()
    expect(limiter.peek(attemptLimitKeys.loginIpHour(IP))).toMatchObject({ count: 10 })
    expect((await callerWith().login({ mobile: MOBILE, password: NEW_PASSWORD })).errno).toBe(0)
  })

  it.each([
    ['a login code', 'login'],
    ['a register code', 'register'],
  ] as const)('%s does not reset the password, and is left as it was', async (_name, purpose) => {
    const { caller, services, users } = await setup()
    await services.smsCodeStore.for(purpose).save(OTHER, '314159', 300)
    const before = users.passwordHashOf(OTHER)
    expect(
      await refusal(caller.resetPassword(input({ mobile: OTHER, smsCode: '314159' }))),
    ).toMatchObject({ errno: RET.NODATA, errmsg: '短信验证码已失效，请重新获取' })
    expect(users.passwordHashOf(OTHER)).toBe(before)
    expect(await services.smsCodeStore.for(purpose).peek(OTHER)).toBe(
      sealedSmsCode(purpose, OTHER, '314159'),
    )
  })

  it('a mobile with no account: even its right (stored, never sent) code answers NODATA', async () => {
    const { caller, services, users, cookie } = await setup()
    await services.smsCodeStore.for('reset').save('18600000000', CODE, 300)
    expect(await refusal(caller.resetPassword(input({ mobile: '18600000000' })))).toMatchObject({
      errno: RET.NODATA,
      field: 'smsCode',
    })
    expect(await users.existsByMobile('18600000000')).toBe(false)
    expect(cookie.value).toBeNull()
  })

  it('DATAERR (4004) for a wrong code, NODATA with none; the fifth wrong try removes it', async () => {
    const { caller, kv, users } = await setup()
    const before = users.passwordHashOf(MOBILE)
    for (let attempt = 1; attempt < MAX_SMS_CODE_ATTEMPTS; attempt++) {
      expect(await refusal(caller.resetPassword(input({ smsCode: '000000' })))).toMatchObject({
        errno: RET.DATAERR,
        errmsg: '短信验证码错误',
        field: 'smsCode',
      })
    }
    expect(await refusal(caller.resetPassword(input({ smsCode: '000000' })))).toMatchObject({
      errno: RET.DATAERR,
      errmsg: '短信验证码错误次数过多，请重新获取',
    })
    expect(await kv.get(resetCodeKey)).toBeNull()
    expect(await outcome(caller.resetPassword(input()))).toBe(RET.NODATA)
    expect(users.passwordHashOf(MOBILE)).toBe(before)
  })

  it.each([
    ['no password', { password: undefined }, RET.PARAMERR, '参数不全'],
    [
      'a password of 7 characters',
      { password: 'x'.repeat(7) },
      RET.PARAMERR,
      '密码长度应为 8 到 128 个字符',
    ],
    ['no code', { smsCode: undefined }, RET.PARAMERR, '参数不全'],
    ['a malformed code', { smsCode: '12 345' }, RET.DATAERR, '短信验证码错误'],
    ['a malformed mobile', { mobile: '23812345678' }, RET.DATAERR, '手机号不正确'],
  ])('input refused for %s: the code is untouched', async (_name, fields, errno, errmsg) => {
    const { caller, kv } = await setup()
    expect(await refusal(caller.resetPassword(input(fields)))).toMatchObject({ errno, errmsg })
    expect(await kv.get(resetCodeKey)).toBe(sealedSmsCode('reset', MOBILE, CODE))
    expect(await kv.get(smsCodeKeys('reset').attempts(MOBILE))).toBeNull()
  })

  it.each([
    ['looked up', { findCredentials: () => Promise.reject(new Error('down')) }, '数据库查询错误'],
    ['updated', { setPasswordHash: () => Promise.reject(new Error('down')) }, '保存用户信息失败'],
  ])(
    'DBERR (4001) when the user cannot be %s; no session starts',
    async (_name, broken, errmsg) => {
      const base = createMemoryUserDirectory([MOBILE])
      const users: UserDirectory = { ...base, ...broken }
      const { caller, cookie } = await setup({ users })
      expect(await refusal(caller.resetPassword(input()))).toMatchObject({
        errno: RET.DBERR,
        errmsg,
      })
      expect(cookie.value).toBeNull()
    },
  )

  it('DBERR (4001) when the sessions cannot be ended: the password is set, the answer says so', async () => {
    const kv = new MemoryStore()
    const { caller, cookie, users, logger } = await setup({
      kv: failing(kv, ['expiringSetMembers']),
    })
    await kv.set(resetCodeKey, sealedSmsCode('reset', MOBILE, CODE), 300)
    expect(await refusal(caller.resetPassword(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '密码已重置，但未能退出其他登录，请重新获取验证码再试',
    })
    expect(await verifyPassword(NEW_PASSWORD, users.passwordHashOf(MOBILE) ?? '')).toBe(true)
    expect(cookie.value).toBeNull()
    expect(logger.lines.some((line) => line.level === 'error')).toBe(true)
  })

  it('DBERR (4001) when the new session cannot be stored: the password is set', async () => {
    const kv = new MemoryStore()
    const { caller, cookie } = await setup({ kv: failing(kv, ['set']) })
    await kv.set(resetCodeKey, sealedSmsCode('reset', MOBILE, CODE), 300)
    expect(await refusal(caller.resetPassword(input()))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '密码已重置，但保存登录状态失败，请用新密码登录',
    })
    expect(cookie.value).toBeNull()
  })

  it('never logs the passwords, and the mobile only masked', async () => {
    const { caller, logger } = await setup()
    await caller.resetPassword(input())
    const logged = JSON.stringify(logger.lines)
    expect(logged).not.toContain(NEW_PASSWORD)
    expect(logged).not.toContain(MOBILE)
  })
})
