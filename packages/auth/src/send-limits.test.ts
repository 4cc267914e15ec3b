import { TRPCError } from '@trpc/server'
import { sealedSmsCode } from './testing/test-services.ts'
import { describe, expect, it } from 'vitest'
import { MemoryLimiter } from '@signup/kv/memory-limiter'
import { MemoryStore } from '@signup/kv/memory-store'
import type { WriteOnCount } from '@signup/kv/rate-limiter'
import { StoreUnavailableError } from '@signup/kv/store'
import type { KeyValueStore } from '@signup/kv/store'
import { legacyImageCode, legacySendSmsCode } from './legacy-routes.ts'
import { RET } from '@signup/trpc/ret'
import type { AuthConfig } from './ports.ts'
import { authRouter } from './router.ts'
import { sendLimitKeys } from './send-limiter.ts'
import { captchaKey, resendKey, smsAttemptsKey, smsCodeKey, smsCodeKeys } from './stores.ts'
import {
  createTestCookie,
  createTestServices,
  failing,
  refusal,
  TEST_CONFIG,
} from './testing/test-services.ts'
import { createCallerFactory, refusalDataOf } from '@signup/trpc/init'

const createCaller = createCallerFactory(authRouter)

/** Services on a MemoryLimiter whose clock the test moves, so windows end without waiting. */
function setup(config: Partial<AuthConfig> = {}, kv?: KeyValueStore) {
  let now = Date.UTC(2025, 0, 1)
  const limiter = new MemoryLimiter({ now: () => now })
  const env = createTestServices({ limiter, config, kv })
  let captcha = 0
  const send = async (mobile: string, clientIp: string | null = '203.0.113.7') => {
    const imageCodeId = `captcha-${++captcha}-0000`
    await env.kv.set(captchaKey(imageCodeId), 'AB3K', 300)
    const caller = createCaller({
      services: { auth: env.services },
      clientIp,
      session: createTestCookie(),
    })
    try {
      await caller.sendSmsCode({ mobile, imageCode: 'AB3K', imageCodeId })
      return { errno: 0 as number, retryAfter: undefined as number | undefined }
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error
      const { errno, retryAfter } = refusalDataOf(error)
      return { errno: errno as number, retryAfter }
    }
  }
  const advance = (seconds: number) => {
    now += seconds * 1000
  }
  return { ...env, limiter, send, advance }
}

const mobile = (i: number) => `139${String(i).padStart(8, '0')}`

describe('per-mobile limits', () => {
  it('the resend window: one send per 60 s, retryAfter counting down, then free again', async () => {
    const { send, advance } = setup()
    expect((await send(mobile(1))).errno).toBe(0)
    expect(await send(mobile(1))).toEqual({ errno: RET.REQERR, retryAfter: 60 })
    advance(45)
    expect(await send(mobile(1))).toEqual({ errno: RET.REQERR, retryAfter: 15 })
    advance(15)
    expect((await send(mobile(1))).errno).toBe(0)
  })

  it('SMS_LIMIT_MOBILE_HOUR: the sixth send in an hour waits for the hour to end', async () => {
    const { send, advance, sms } = setup()
    for (let i = 0; i < 5; i++) {
      expect((await send(mobile(2))).errno).toBe(0)
      advance(61)
    }
    const refused = await send(mobile(2))
    expect(refused.errno).toBe(RET.REQERR)
    expect(refused.retryAfter).toBe(3600 - 5 * 61)
    expect(sms.sent).toHaveLength(5)
    advance(refused.retryAfter ?? 0)
    expect((await send(mobile(2))).errno).toBe(0)
  })

  it('SMS_LIMIT_MOBILE_DAY: the eleventh send in a day waits for the day to end', async () => {
    const { send, advance } = setup()
    for (let hour = 0; hour < 2; hour++) {
      for (let i = 0; i < 5; i++) {
        expect((await send(mobile(3))).errno).toBe(0)
        advance(61)
      }
      advance(3600 - 5 * 61)
    }
    const refused = await send(mobile(3))
    expect(refused.errno).toBe(RET.REQERR)
    expect(refused.retryAfter).toBe(86_400 - 7200)
    advance(refused.retryAfter ?? 0)
    expect((await send(mobile(3))).errno).toBe(0)
  })

  it('a provider failure gives back every count it took', async () => {
    const { send, sms, limiter } = setup()
    sms.failNext()
    expect((await send(mobile(4))).errno).toBe(RET.THIRDERR)
    for (const key of [
      resendKey(mobile(4)),
      sendLimitKeys.mobileHour(mobile(4)),
      sendLimitKeys.mobileDay(mobile(4)),
      sendLimitKeys.prefixHour('1390000'),
      sendLimitKeys.ipHour('203.0.113.7'),
      sendLimitKeys.globalHour(),
    ]) {
      expect(limiter.peek(key)).toBeNull()
    }
    expect((await send(mobile(4))).errno).toBe(0)
  })

  it('a refused captcha is not counted', async () => {
    const { services, limiter, kv } = setup()
    await kv.set(captchaKey('wrong-captcha-0000'), 'AB3K', 300)
    const caller = createCaller({
      services: { auth: services },
      clientIp: '203.0.113.7',
      session: createTestCookie(),
    })
    await expect(
      caller.sendSmsCode({
        mobile: mobile(5),
        imageCode: 'ZZZZ',
        imageCodeId: 'wrong-captcha-0000',
      }),
    ).rejects.toThrow()
    expect(limiter.peek(sendLimitKeys.ipHour('203.0.113.7'))).toBeNull()
    expect(limiter.peek(resendKey(mobile(5)))).toBeNull()
  })
})

describe('the code, stored by the take that counts the send (decision record 021)', () => {
  /** Every counter a send from 203.0.113.7 to `to` takes. */
  const countersOf = (to: string) => [
    resendKey(to),
    sendLimitKeys.mobileHour(to),
    sendLimitKeys.mobileDay(to),
    sendLimitKeys.prefixHour(to.slice(0, 7)),
    sendLimitKeys.ipHour('203.0.113.7'),
    sendLimitKeys.globalHour(),
  ]

  /** The writes each take was given, in order. */
  function recordWrites(limiter: MemoryLimiter): (WriteOnCount | undefined)[] {
    const writes: (WriteOnCount | undefined)[] = []
    const take = limiter.take.bind(limiter)
    limiter.take = (groups, write) => {
      writes.push(write)
      return take(groups, write)
    }
    return writes
  }

  let captchas = 0
  /** One send through tRPC with a fresh captcha, from 203.0.113.7. */
  async function sendThrough(env: ReturnType<typeof setup>, to: string, purpose?: 'login') {
    const imageCodeId = `write-captcha-${++captchas}-0000`
    await env.kv.set(captchaKey(imageCodeId), 'AB3K', 300)
    const caller = createCaller({
      services: { auth: env.services },
      clientIp: '203.0.113.7',
      session: createTestCookie(),
    })
    return caller.sendSmsCode({ mobile: to, imageCode: 'AB3K', imageCodeId, purpose })
  }

  it("the take is given the purpose's code, sealed, its lifetime and its attempt count to reset", async () => {
    const env = setup()
    const writes = recordWrites(env.limiter)
    await sendThrough(env, mobile(700))
    await sendThrough(env, mobile(701), 'login')
    const [register, login] = [env.sms.sent[0]?.code ?? '', env.sms.sent[1]?.code ?? '']
    expect(writes).toEqual([
      expect.objectContaining({
        key: smsCodeKey(mobile(700)),
        value: sealedSmsCode('register', mobile(700), register),
        ttlSeconds: 300,
        deleteKey: smsAttemptsKey(mobile(700)),
      }),
      expect.objectContaining({
        key: smsCodeKeys('login').code(mobile(701)),
        value: sealedSmsCode('login', mobile(701), login),
        ttlSeconds: 300,
        deleteKey: smsCodeKeys('login').attempts(mobile(701)),
      }),
    ])
    expect(await env.kv.get(smsCodeKey(mobile(700)))).toBe(writes[0]?.value)
  })

  it("a test number's fixed code is the take's write too", async () => {
    const env = setup({ testNumbers: new Map([['13800000000', '123456']]) })
    const writes = recordWrites(env.limiter)
    await sendThrough(env, '13800000000')
    expect(writes).toEqual([
      expect.objectContaining({
        key: smsCodeKey('13800000000'),
        value: sealedSmsCode('register', '13800000000', '123456'),
      }),
    ])
  })

  it('a refused send stores nothing: the waiting code and its attempt count stay', async () => {
    const env = setup()
    await sendThrough(env, mobile(710))
    const waiting = await env.kv.get(smsCodeKey(mobile(710)))
    await env.kv.set(smsAttemptsKey(mobile(710)), '2', 300)
    expect(await refusal(sendThrough(env, mobile(710)))).toMatchObject({ errno: RET.REQERR })
    expect(await env.kv.get(smsCodeKey(mobile(710)))).toBe(waiting)
    expect(await env.kv.get(smsAttemptsKey(mobile(710)))).toBe('2')
  })

  it('a code that cannot be stored: DBERR as when the limits cannot be counted, nothing left', async () => {
    const kv = new MemoryStore()
    const env = setup({}, failing(kv, ['setThenDel']))
    const unstored = await refusal(sendThrough(env, mobile(720)))
    expect(unstored).toMatchObject({ errno: RET.DBERR, errmsg: '保存短信验证码失败' })
    expect(await kv.get(smsCodeKey(mobile(720)))).toBeNull()
    for (const key of countersOf(mobile(720))) expect(env.limiter.peek(key)).toBeNull()
    expect(env.sms.sent).toHaveLength(0)

    const broken = setup()
    broken.limiter.take = () => Promise.reject(new StoreUnavailableError('scripted outage'))
    const uncounted = await refusal(sendThrough(broken, mobile(721)))
    expect(uncounted).toEqual(unstored)
    expect(await broken.kv.get(smsCodeKey(mobile(721)))).toBeNull()
    expect(broken.sms.sent).toHaveLength(0)
  })
})

describe('per-client, per-range and global limits', () => {
  it('SMS_LIMIT_IP_HOUR: 20 sends per IP per hour; another IP is not affected', async () => {
    const { send, advance } = setup()
    for (let i = 0; i < 20; i++) expect((await send(mobile(100 + i))).errno).toBe(0)
    advance(10)
    expect(await send(mobile(200))).toEqual({ errno: RET.REQERR, retryAfter: 3590 })
    expect((await send(mobile(201), '198.51.100.1')).errno).toBe(0)
    advance(3590)
    expect((await send(mobile(202))).errno).toBe(0)
  })

  it('groups IPv6 clients by /64 and IPv4-mapped addresses with their IPv4 form', async () => {
    const { send } = setup({ limits: { ...TEST_CONFIG.limits, ipHour: 2 } })
    expect((await send(mobile(300), '2001:db8:1:2::1')).errno).toBe(0)
    expect((await send(mobile(301), '2001:db8:1:2:ffff::9')).errno).toBe(0)
    expect((await send(mobile(302), '2001:db8:1:2::77')).errno).toBe(RET.REQERR)
    expect((await send(mobile(303), '2001:db8:1:3::1')).errno).toBe(0)
    expect((await send(mobile(304), '198.51.100.9')).errno).toBe(0)
    expect((await send(mobile(305), '::ffff:198.51.100.9')).errno).toBe(0)
    expect((await send(mobile(306), '198.51.100.9')).errno).toBe(RET.REQERR)
  })

  it('SMS_LIMIT_PREFIX_HOUR: 30 sends per number range (first 7 digits) per hour', async () => {
    const { send } = setup()
    for (let i = 0; i < 30; i++) {
      expect((await send(`1391234${String(i).padStart(4, '0')}`, `10.0.${i}.1`)).errno).toBe(0)
    }
    expect((await send('13912349999', '10.1.0.1')).errno).toBe(RET.REQERR)
    expect((await send('13912359999', '10.1.0.1')).errno).toBe(0)
  })

  it('SMS_LIMIT_GLOBAL_HOUR pauses all sending and logs one alert', async () => {
    const { send, advance, logger, sms } = setup({
      limits: { ...TEST_CONFIG.limits, globalHour: 3 },
    })
    for (let i = 0; i < 3; i++) expect((await send(mobile(400 + i), `10.2.${i}.1`)).errno).toBe(0)
    for (let i = 0; i < 3; i++) {
      expect((await send(`13${i + 5}00000000`, `10.3.${i}.1`)).errno).toBe(RET.REQERR)
    }
    const alerts = logger.lines.filter((line) => line.fields.alert === 'sms-global-budget')
    expect(alerts).toHaveLength(1)
    expect(alerts[0]?.level).toBe('error')
    expect(JSON.stringify(alerts)).not.toMatch(/13[5-7]00000000/)
    expect(sms.sent).toHaveLength(3)
    advance(3600)
    expect((await send(mobile(410), '10.4.0.1')).errno).toBe(0)
  })

  it('a client without a known IP is still held by the per-mobile and global limits', async () => {
    const { send } = setup({ limits: { ...TEST_CONFIG.limits, globalHour: 1 } })
    expect((await send(mobile(500), null)).errno).toBe(0)
    expect((await send(mobile(501), null)).errno).toBe(RET.REQERR)
  })
})

describe('test numbers', () => {
  const testNumbers = new Map([['13800000000', '123456']])

  it('never reach the provider, get their fixed code and skip the per-mobile limits', async () => {
    const { send, sms, kv } = setup({ testNumbers })
    for (let i = 0; i < 12; i++) expect((await send('13800000000', `10.5.${i}.1`)).errno).toBe(0)
    expect(sms.sent).toHaveLength(0)
    expect(await kv.get(smsCodeKey('13800000000'))).toBe(
      sealedSmsCode('register', '13800000000', '123456'),
    )
  })

  it('still count against the per-IP and global limits', async () => {
    const { send } = setup({
      testNumbers,
      limits: { ...TEST_CONFIG.limits, ipHour: 2, globalHour: 3 },
    })
    expect((await send('13800000000')).errno).toBe(0)
    expect((await send('13800000000')).errno).toBe(0)
    expect((await send('13800000000')).errno).toBe(RET.REQERR)
    expect((await send('13800000000', '10.6.0.1')).errno).toBe(0)
    expect((await send('13800000000', '10.6.0.2')).errno).toBe(RET.REQERR)
  })
})

describe('the legacy surface', () => {
  it('answers REQERR with Retry-After, from the same limits', async () => {
    const { services, kv } = setup()
    const body = (id: string) => ({ mobile: mobile(600), image_code: 'AB3K', image_code_id: id })
    await kv.set(captchaKey('legacy-1-0000'), 'AB3K', 300)
    await kv.set(captchaKey('legacy-2-0000'), 'AB3K', 300)
    const request = { clientIp: '203.0.113.9' }
    expect((await legacySendSmsCode(services, body('legacy-1-0000'), request)).body.errno).toBe(0)
    const refused = await legacySendSmsCode(services, body('legacy-2-0000'), request)
    expect(refused).toMatchObject({ status: 200, body: { errno: RET.REQERR } })
    expect(refused.headers['retry-after']).toBe('60')
  })
})

describe('CAPTCHA_LIMIT_IP_MINUTE', () => {
  it('30 captchas per IP per minute on both surfaces, then REQERR / 429 with Retry-After', async () => {
    const { services, advance } = setup()
    const caller = createCaller({
      services: { auth: services },
      clientIp: '203.0.113.8',
      session: createTestCookie(),
    })
    for (let i = 0; i < 15; i++) await caller.getImageCode()
    for (let i = 0; i < 15; i++) {
      const answer = await legacyImageCode(services, `legacy-image-${i}`, {
        clientIp: '203.0.113.8',
      })
      expect(answer.kind).toBe('image')
    }
    const error = await caller.getImageCode().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TRPCError)
    expect(refusalDataOf(error as TRPCError)).toMatchObject({ errno: RET.REQERR, retryAfter: 60 })
    expect((error as TRPCError).code).toBe('TOO_MANY_REQUESTS')
    advance(20)
    expect(await legacyImageCode(services, 'legacy-image-x', { clientIp: '203.0.113.8' })).toEqual({
      kind: 'json',
      response: {
        status: 429,
        body: { errno: RET.REQERR, errmsg: '请求过于频繁，请稍后再试' },
        headers: { 'retry-after': '40' },
      },
    })
    const other = createCaller({
      services: { auth: services },
      clientIp: '203.0.113.99',
      session: createTestCookie(),
    })
    expect((await other.getImageCode()).imageCodeId).toBeTruthy()
    advance(40)
    expect((await caller.getImageCode()).imageCodeId).toBeTruthy()
  })
})
