import { createMemoryUserDirectory } from '@signup/db/testing/memory-user-directory'
import { SEALED_CODE, sealedSmsCode } from './testing/test-services.ts'
import type { UserDirectory } from '@signup/db/user-directory'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import type { KeyValueStore } from '@signup/kv/store'
import { createCallerFactory } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'
import { describe, expect, it } from 'vitest'
import { legacySendSmsCode } from './legacy-routes.ts'
import type { AuthConfig, SmsCodePurpose } from './ports.ts'
import { authRouter } from './router.ts'
import { sendLimitKeys } from './send-limiter.ts'
import { captchaKey, resendKey, smsAttemptsKey, smsCodeKey, smsCodeKeys } from './stores.ts'
import { createTestCookie, createTestServices, outcome, refusal } from './testing/test-services.ts'

const createCaller = createCallerFactory(authRouter)
const MOBILE = '13812345678'
const REGISTERED = '13912345678'

/** A store that writes down each call it gets, the mobiles in its keys replaced by `<m>`. */
function recordingStore(inner: KeyValueStore = new MemoryStore()) {
  const calls: string[] = []
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const key = typeof args[0] === 'string' ? args[0].replace(/1[3-9]\d{9}/, '<m>') : ''
        calls.push(`${String(property)} ${key}`)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store, calls }
}

function setup(
  options: { config?: Partial<AuthConfig>; kv?: KeyValueStore; users?: UserDirectory } = {},
) {
  const clock = { now: Date.UTC(2026, 11, 1) }
  const limiter = new MemoryLimiter({ now: () => clock.now })
  const users = options.users ?? createMemoryUserDirectory([REGISTERED])
  const env = createTestServices({ limiter, users, ...options })
  let captcha = 0
  const caller = createCaller({
    services: { auth: env.services },
    clientIp: '203.0.113.7',
    session: createTestCookie(),
  })
  const send = async (mobile: string, purpose?: SmsCodePurpose) => {
    const imageCodeId = `captcha-${++captcha}-0000`
    await env.kv.set(captchaKey(imageCodeId), 'AB3K', 300)
    return caller.sendSmsCode({ mobile, imageCode: 'AB3K', imageCodeId, purpose })
  }
  const advance = (seconds: number) => {
    clock.now += seconds * 1000
  }
  return { ...env, limiter, caller, send, advance }
}

describe('auth.sendSmsCode with a purpose', () => {
  it('no purpose is register, as the original front end sends it: SMS_<mobile>', async () => {
    const { send, kv, sms, limiter } = setup()
    expect(await send(MOBILE)).toEqual({
      errno: 0,
      errmsg: '发送成功',
      expiresIn: 300,
      resendIn: 60,
    })
    expect(await kv.get(smsCodeKey(MOBILE))).toBe(
      sealedSmsCode('register', MOBILE, sms.sent[0]?.code ?? ''),
    )
    expect(limiter.peek(resendKey(MOBILE))).toMatchObject({ count: 1 })
    expect(await kv.get(smsCodeKeys('login').code(MOBILE))).toBeNull()
  })

  it('each purpose stores its code under its own key, hash-tagged on the mobile', async () => {
    const { send, kv, sms } = setup()
    await send(REGISTERED, 'login')
    await send(REGISTERED, 'reset')
    expect(smsCodeKeys('login').code(REGISTERED)).toBe(`signup:sms-code:login:{${REGISTERED}}`)
    expect(smsCodeKeys('reset').code(REGISTERED)).toBe(`signup:sms-code:reset:{${REGISTERED}}`)
    expect(await kv.get(`signup:sms-code:login:{${REGISTERED}}`)).toBe(
      sealedSmsCode('login', REGISTERED, sms.sent[0]?.code ?? ''),
    )
    expect(await kv.get(`signup:sms-code:reset:{${REGISTERED}}`)).toBe(
      sealedSmsCode('reset', REGISTERED, sms.sent[1]?.code ?? ''),
    )
    expect(await kv.get(smsCodeKey(REGISTERED))).toBeNull()
    expect(sms.sent.map((message) => message.mobile)).toEqual([REGISTERED, REGISTERED])
  })

  it('register refuses a registered mobile (DATAEXIST); login does not, and needs no lookup', async () => {
    const lookups: string[] = []
    const base = createMemoryUserDirectory([REGISTERED])
    const users: UserDirectory = {
      ...base,
      existsByMobile: (mobile) => {
        lookups.push(mobile)
        return base.existsByMobile(mobile)
      },
    }
    const { send } = setup({ users })
    expect(await refusal(send(REGISTERED, 'register'))).toMatchObject({
      errno: RET.DATAEXIST,
      field: 'mobile',
    })
    expect((await send(REGISTERED, 'login')).errno).toBe(0)
    expect((await send(MOBILE, 'login')).errno).toBe(0)
    expect(lookups).toEqual([REGISTERED])
  })

  it('each purpose has its own resend window', async () => {
    const { send, limiter } = setup()
    for (const purpose of ['register', 'login', 'reset'] as const) {
      expect((await send(MOBILE, purpose)).errno).toBe(0)
    }
    for (const purpose of ['register', 'login', 'reset'] as const) {
      const r = await refusal(send(MOBILE, purpose))
      expect(r).toMatchObject({ errno: RET.REQERR, retryAfter: 60 })
    }
    expect(limiter.peek(`signup:sms-resend:login:{${MOBILE}}`)).toMatchObject({ count: 1 })
    expect(limiter.peek(`signup:sms-resend:reset:{${MOBILE}}`)).toMatchObject({ count: 1 })
  })

  it('the hourly, per-IP, per-range and global limits count every purpose together', async () => {
    const { send, limiter, advance } = setup({
      config: {
        limits: {
          mobileHour: 3,
          mobileDay: 10,
          ipHour: 20,
          prefixHour: 30,
          globalHour: 1000,
          captchaIpMinute: 30,
        },
      },
    })
    await send(REGISTERED, 'login')
    await send(REGISTERED, 'reset')
    advance(61)
    await send(REGISTERED, 'login')
    expect(limiter.peek(sendLimitKeys.mobileHour(REGISTERED))).toMatchObject({ count: 3 })
    expect(limiter.peek(sendLimitKeys.mobileDay(REGISTERED))).toMatchObject({ count: 3 })
    expect(limiter.peek(sendLimitKeys.ipHour('203.0.113.7'))).toMatchObject({ count: 3 })
    expect(limiter.peek(sendLimitKeys.prefixHour('1391234'))).toMatchObject({ count: 3 })
    expect(limiter.peek(sendLimitKeys.globalHour())).toMatchObject({ count: 3 })
    // The reset window is over, but the mobile's hour is not.
    const r = await refusal(send(REGISTERED, 'reset'))
    expect(r).toMatchObject({ errno: RET.REQERR })
    expect(r.retryAfter).toBeGreaterThan(3500)
  })

  it('each purpose has its own attempt count; a new code resets its own only', async () => {
    const { send, caller, kv, sms } = setup()
    await send(MOBILE, 'register')
    await send(MOBILE, 'login')
    const registerCode = sms.sent[0]?.code ?? ''
    const wrong = (code: string) => (code === '000000' ? '111111' : '000000')
    await refusal(
      caller.register({ mobile: MOBILE, smsCode: wrong(registerCode), password: 'long enough' }),
    )
    expect(await kv.get(smsAttemptsKey(MOBILE))).toBe('1')
    expect(await kv.get(smsCodeKeys('login').attempts(MOBILE))).toBeNull()
    await refusal(
      caller.loginWithSmsCode({ mobile: MOBILE, smsCode: wrong(sms.sent[1]?.code ?? '') }),
    )
    expect(await kv.get(smsCodeKeys('login').attempts(MOBILE))).toBe('1')
    await send(MOBILE, 'reset')
    expect(await kv.get(smsAttemptsKey(MOBILE))).toBe('1')
    expect(await kv.get(smsCodeKeys('login').attempts(MOBILE))).toBe('1')
  })

  it('purposes do not mix: a login code does not register, a register code does not sign in', async () => {
    const { send, caller, sms } = setup()
    await send(MOBILE, 'login')
    const loginCode = sms.sent[0]?.code ?? ''
    expect(
      await outcome(
        caller.register({ mobile: MOBILE, smsCode: loginCode, password: 'long enough' }),
      ),
    ).toBe(RET.NODATA)
    await send(MOBILE, 'register')
    // Compared with the login code waiting for this mobile, a register code is a wrong one.
    expect(
      await outcome(caller.loginWithSmsCode({ mobile: MOBILE, smsCode: sms.sent[1]?.code ?? '' })),
    ).toBe(RET.DATAERR)
    // Each is still good for its own purpose.
    expect((await caller.loginWithSmsCode({ mobile: MOBILE, smsCode: loginCode })).created).toBe(
      true,
    )
  })

  it('PARAMERR (4103) for a purpose it does not know, and the captcha is not spent', async () => {
    const { caller, kv } = setup()
    await kv.set(captchaKey('captcha-x-0000'), 'AB3K', 300)
    for (const purpose of ['signup', '', 'LOGIN', 7]) {
      const r = await refusal(
        caller.sendSmsCode({
          mobile: MOBILE,
          imageCode: 'AB3K',
          imageCodeId: 'captcha-x-0000',
          purpose: purpose as never,
        }),
      )
      expect(r).toMatchObject({ errno: RET.PARAMERR, errmsg: '参数不全', field: 'purpose' })
    }
    expect(await kv.get(captchaKey('captcha-x-0000'))).toBe('AB3K')
  })

  it('test numbers get their fixed code for every purpose, and no SMS', async () => {
    const testNumbers = new Map([['13800000000', '123456']])
    const { send, kv, sms, caller } = setup({ config: { testNumbers } })
    for (const purpose of ['register', 'login', 'reset'] as const) {
      expect((await send('13800000000', purpose)).errno).toBe(0)
      expect(await kv.get(smsCodeKeys(purpose).code('13800000000'))).toBe(
        sealedSmsCode(purpose, '13800000000', '123456'),
      )
    }
    expect(sms.sent).toHaveLength(0)
    expect(
      (await caller.loginWithSmsCode({ mobile: '13800000000', smsCode: '123456' })).created,
    ).toBe(true)
    expect(
      (
        await caller.resetPassword({
          mobile: '13800000000',
          smsCode: '123456',
          password: 'long enough',
        })
      ).errno,
    ).toBe(0)
  })
})

describe('a reset code tells no one which mobiles have accounts', () => {
  it('an unknown mobile: the same answer, the same store work, the same limits, and no SMS', async () => {
    const known = recordingStore()
    const unknown = recordingStore()
    const a = setup({ kv: known.store })
    const b = setup({ kv: unknown.store })
    const answers = [await a.send(REGISTERED, 'reset'), await b.send(MOBILE, 'reset')]
    expect(answers[0]).toEqual(answers[1])
    expect(answers[0]).toEqual({ errno: 0, errmsg: '发送成功', expiresIn: 300, resendIn: 60 })
    expect(unknown.calls).toEqual(known.calls)
    expect(unknown.calls).toContain('setThenDel signup:sms-code:reset:{<m>}')
    expect(a.sms.sent).toHaveLength(1)
    expect(b.sms.sent).toHaveLength(0)
    // A code is waiting for the unknown mobile too; nobody knows it, and the limits counted it.
    expect(await b.kv.get(smsCodeKeys('reset').code(MOBILE))).toMatch(SEALED_CODE)
    expect(b.limiter.peek(sendLimitKeys.mobileHour(MOBILE))).toMatchObject({ count: 1 })
    expect(await refusal(b.send(MOBILE, 'reset'))).toMatchObject({ errno: RET.REQERR })
  })

  it('the provider is not waited for: its failure answers OK, then the code and counts are undone', async () => {
    const { send, sms, kv, limiter, logger } = setup()
    sms.failNext()
    expect((await send(REGISTERED, 'reset')).errno).toBe(0)
    await expect.poll(() => kv.get(smsCodeKeys('reset').code(REGISTERED))).toBeNull()
    await expect.poll(() => limiter.peek(`signup:sms-resend:reset:{${REGISTERED}}`)).toBeNull()
    expect(limiter.peek(sendLimitKeys.mobileHour(REGISTERED))).toBeNull()
    expect(logger.lines.some((line) => line.level === 'warn')).toBe(true)
    // Freed at once: the user can ask again.
    expect((await send(REGISTERED, 'reset')).errno).toBe(0)
    expect(sms.sent).toHaveLength(1)
  })

  it('a failed user lookup is DBERR, whoever the mobile', async () => {
    const users: UserDirectory = {
      ...createMemoryUserDirectory(),
      existsByMobile: () => Promise.reject(new Error('connection refused')),
    }
    const { send } = setup({ users })
    expect(await refusal(send(MOBILE, 'reset'))).toMatchObject({
      errno: RET.DBERR,
      errmsg: '数据库查询错误',
    })
  })
})

describe('POST /passport/sms_code with a purpose (the legacy adapter)', () => {
  it('takes an optional purpose; null or absent is register', async () => {
    const { services, kv } = setup()
    const body = async (fields: Record<string, unknown>, id: string) => {
      await kv.set(captchaKey(id), 'AB3K', 300)
      return legacySendSmsCode(
        services,
        { mobile: MOBILE, image_code: 'AB3K', image_code_id: id, ...fields },
        { clientIp: '203.0.113.7' },
      )
    }
    expect((await body({ purpose: 'login' }, 'legacy-0001')).body).toEqual({
      errno: 0,
      errmsg: '发送成功',
    })
    expect(await kv.get(smsCodeKeys('login').code(MOBILE))).not.toBeNull()
    expect((await body({ purpose: null }, 'legacy-0002')).body.errno).toBe(0)
    expect(await kv.get(smsCodeKey(MOBILE))).not.toBeNull()
    expect(await body({ purpose: 'nope' }, 'legacy-0003')).toMatchObject({
      status: 200,
      body: { errno: RET.PARAMERR, errmsg: '参数不全' },
    })
    expect((await body({ purpose: 1 }, 'legacy-0004')).status).toBe(400)
  })
})
