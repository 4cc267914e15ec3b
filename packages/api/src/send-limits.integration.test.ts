import { TEST_AUTH_SECRET, sealedSmsCode } from '@signup/auth/testing/test-services'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { sendLimitKeys } from '@signup/auth/send-limiter'
import { captchaKey, resendKey, smsCodeKey } from '@signup/auth/stores'
import { createTestCookie } from '@signup/auth/testing/test-services'
import { refusalDataOf } from '@signup/trpc/init'
import { RedisStore } from '@signup/kv/redis-store'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import { loadEnv } from './env.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import { freshMobileIn } from '@signup/db/testing/mobiles'
import {
  createCapturingLogger,
  createTestDatabase,
  deleteKeysWithPrefix,
  leastMsLeft,
  leastSecondsLeft,
  TEST_REDIS_URL,
  testKeyPrefix,
} from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'

// Two server instances (two sets of services, two Redis connections) over one Redis prefix.
const prefix = testKeyPrefix('limits')
const GLOBAL_LIMIT = 10_000
const sms = createRecordingSender()
const { logger, lines: logLines } = createCapturingLogger()
let database: TestDatabase
let instances: [AppServices, AppServices]
let redis: RedisStore
let captchas = 0

interface Outcome {
  errno: number
  retryAfter?: number
}

async function send(instance: 0 | 1, mobile: string, clientIp: string | null): Promise<Outcome> {
  const imageCodeId = `limits-${++captchas}-0000`
  await redis.set(captchaKey(imageCodeId), 'K7PX', 300)
  const caller = createCaller(
    createContextInner({ services: instances[instance], clientIp, session: createTestCookie() }),
  )
  try {
    await caller.auth.sendSmsCode({ mobile, imageCode: 'k7px', imageCodeId })
    return { errno: RET.OK }
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    const { errno, retryAfter } = refusalDataOf(error)
    return retryAfter === undefined ? { errno } : { errno, retryAfter }
  }
}

/** Ends a limit's window now, as the clock would: the next send starts a new one. */
async function endWindow(key: string): Promise<void> {
  await redis.del(key)
}

beforeAll(async () => {
  database = await createTestDatabase('limits')
  const env = loadEnv({
    NODE_ENV: 'test',
    AUTH_SECRET: TEST_AUTH_SECRET,
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SMS_LIMIT_MOBILE_HOUR: '3',
    SMS_LIMIT_MOBILE_DAY: '4',
    SMS_LIMIT_IP_HOUR: '4',
    SMS_LIMIT_PREFIX_HOUR: '5',
    SMS_LIMIT_GLOBAL_HOUR: String(GLOBAL_LIMIT),
    CAPTCHA_LIMIT_IP_MINUTE: '3',
    SMS_TEST_NUMBERS: '13800000000:123456',
  })
  instances = [
    await createAppServices(env, logger, { sms }),
    await createAppServices(env, logger, { sms }),
  ]
  redis = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
  await redis.ready()
})

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.close()))
  await redis.close()
  await deleteKeysWithPrefix(prefix)
  await database.drop()
})

// Each test uses its own number range (freshMobileIn), so the per-range limit only bites where
// it is tested.
describe('send limits on real Redis, shared by two server instances', () => {
  it('the resend window holds across instances, with retryAfter, and ends with its key', async () => {
    const mobile = freshMobileIn('1350001')
    const since = Date.now()
    expect(await send(0, mobile, '10.0.0.1')).toEqual({ errno: RET.OK })
    const refused = await send(1, mobile, '10.0.0.2')
    expect(refused.errno).toBe(RET.REQERR)
    expect(refused.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    expect(refused.retryAfter).toBeLessThanOrEqual(60)
    expect(await redis.pttl(resendKey(mobile))).toBeGreaterThanOrEqual(leastMsLeft(60, since))
    await endWindow(resendKey(mobile))
    expect(await send(1, mobile, '10.0.0.2')).toEqual({ errno: RET.OK })
  })

  it('SMS_LIMIT_MOBILE_HOUR and SMS_LIMIT_MOBILE_DAY across instances, each with its reset', async () => {
    const mobile = freshMobileIn('1350002')
    const since = Date.now()
    for (let i = 0; i < 3; i++) {
      expect((await send((i % 2) as 0 | 1, mobile, `10.0.1.${i}`)).errno).toBe(RET.OK)
      await endWindow(resendKey(mobile))
    }
    const hourly = await send(0, mobile, '10.0.1.9')
    expect(hourly.errno).toBe(RET.REQERR)
    expect(hourly.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(3600, since))
    expect(hourly.retryAfter).toBeLessThanOrEqual(3600)
    expect(await redis.get(sendLimitKeys.mobileHour(mobile))).toBe('3')

    await endWindow(sendLimitKeys.mobileHour(mobile))
    expect((await send(1, mobile, '10.0.1.10')).errno).toBe(RET.OK)
    await endWindow(resendKey(mobile))
    const daily = await send(0, mobile, '10.0.1.11')
    expect(daily.errno).toBe(RET.REQERR)
    expect(daily.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(86_400, since))
    expect(await redis.get(sendLimitKeys.mobileDay(mobile))).toBe('4')

    await endWindow(sendLimitKeys.mobileDay(mobile))
    expect((await send(0, mobile, '10.0.1.12')).errno).toBe(RET.OK)
  })

  it('SMS_LIMIT_IP_HOUR holds across instances and groups an IPv6 /64', async () => {
    const ip = (i: number) => `2001:db8:77:1::${i.toString(16)}`
    const since = Date.now()
    for (let i = 1; i <= 4; i++) {
      expect((await send((i % 2) as 0 | 1, freshMobileIn('1350003'), ip(i))).errno).toBe(RET.OK)
    }
    const refused = await send(0, freshMobileIn('1350004'), ip(99))
    expect(refused.errno).toBe(RET.REQERR)
    expect(refused.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(3600, since))
    expect(await redis.get(sendLimitKeys.ipHour('2001:db8:77:1::/64'))).toBe('4')
    expect((await send(1, freshMobileIn('1350004'), '2001:db8:77:2::1')).errno).toBe(RET.OK)
    await endWindow(sendLimitKeys.ipHour('2001:db8:77:1::/64'))
    expect((await send(1, freshMobileIn('1350004'), ip(5))).errno).toBe(RET.OK)
  })

  it('SMS_LIMIT_PREFIX_HOUR: a number range across instances and client IPs', async () => {
    const since = Date.now()
    for (let i = 0; i < 5; i++) {
      expect((await send((i % 2) as 0 | 1, freshMobileIn('1350005'), `10.0.5.${i}`)).errno).toBe(
        RET.OK,
      )
    }
    const refused = await send(1, freshMobileIn('1350005'), '10.0.5.99')
    expect(refused.errno).toBe(RET.REQERR)
    expect(refused.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(3600, since))
    await endWindow(sendLimitKeys.prefixHour('1350005'))
    expect((await send(0, freshMobileIn('1350005'), '10.0.5.100')).errno).toBe(RET.OK)
  })

  it('concurrent sends on both instances never pass a limit: exactly 4 of 20 from one IP', async () => {
    const sentBefore = sms.sent.length
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send((i % 2) as 0 | 1, freshMobileIn(`13600${String(10 + i)}`), '192.0.2.55'),
      ),
    )
    expect(outcomes.filter((outcome) => outcome.errno === RET.OK)).toHaveLength(4)
    expect(outcomes.filter((outcome) => outcome.errno === RET.REQERR)).toHaveLength(16)
    expect(sms.sent.length - sentBefore).toBe(4)
    expect(await redis.get(sendLimitKeys.ipHour('192.0.2.55'))).toBe('4')
  })

  it('SMS_LIMIT_GLOBAL_HOUR pauses every send on both instances, with an alert, until reset', async () => {
    const key = sendLimitKeys.globalHour()
    const used = Number((await redis.get(key)) ?? '0')
    // Stand in for a busy hour: the budget is two sends short of its end.
    await redis.redis.set(key, String(GLOBAL_LIMIT - 2), 'KEEPTTL')
    logLines.length = 0
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send((i % 2) as 0 | 1, freshMobileIn(`13700${String(10 + i)}`), `10.0.6.${i}`),
      ),
    )
    expect(outcomes.filter((outcome) => outcome.errno === RET.OK)).toHaveLength(2)
    const refused = outcomes.filter((outcome) => outcome.errno === RET.REQERR)
    expect(refused).toHaveLength(4)
    expect(refused[0]?.retryAfter).toBeGreaterThan(0)
    const alerts = logLines.filter((line) => line.alert === 'sms-global-budget')
    // One alert per instance at most, not one per refused send.
    expect(alerts.length).toBeGreaterThanOrEqual(1)
    expect(alerts.length).toBeLessThanOrEqual(2)
    expect(alerts[0]).toMatchObject({ level: 50, limit: GLOBAL_LIMIT })
    await redis.redis.set(key, String(used + 2), 'KEEPTTL')
    expect((await send(0, freshMobileIn('1350007'), '10.0.6.99')).errno).toBe(RET.OK)
  })

  it('a provider failure gives back what the send took, on every counter', async () => {
    const mobile = freshMobileIn('1350008')
    const before = await redis.get(sendLimitKeys.globalHour())
    sms.failNext()
    expect((await send(1, mobile, '10.0.8.1')).errno).toBe(RET.THIRDERR)
    expect(await redis.get(smsCodeKey(mobile))).toBeNull()
    for (const key of [
      resendKey(mobile),
      sendLimitKeys.mobileHour(mobile),
      sendLimitKeys.mobileDay(mobile),
      sendLimitKeys.prefixHour('1350008'),
      sendLimitKeys.ipHour('10.0.8.1'),
    ]) {
      expect(await redis.get(key)).toBeNull()
    }
    expect(await redis.get(sendLimitKeys.globalHour())).toBe(before)
  })

  it('test numbers skip the provider and the per-mobile limits, not the per-IP one', async () => {
    const sentBefore = sms.sent.length
    for (let i = 0; i < 4; i++) {
      expect((await send((i % 2) as 0 | 1, '13800000000', '10.0.9.1')).errno).toBe(RET.OK)
    }
    expect(await redis.get(smsCodeKey('13800000000'))).toBe(
      sealedSmsCode('register', '13800000000', '123456'),
    )
    expect(sms.sent.length).toBe(sentBefore)
    expect((await send(0, '13800000000', '10.0.9.1')).errno).toBe(RET.REQERR)
    expect((await send(1, '13800000000', '10.0.9.2')).errno).toBe(RET.OK)
  })

  it('CAPTCHA_LIMIT_IP_MINUTE across instances, with retryAfter and reset', async () => {
    const caller = (instance: 0 | 1) =>
      createCaller(
        createContextInner({
          services: instances[instance],
          clientIp: '10.0.10.1',
          session: createTestCookie(),
        }),
      )
    const since = Date.now()
    for (let i = 0; i < 3; i++) await caller((i % 2) as 0 | 1).auth.getImageCode()
    const error = await caller(1)
      .auth.getImageCode()
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TRPCError)
    const refusal = refusalDataOf(error as TRPCError)
    expect(refusal.errno).toBe(RET.REQERR)
    expect(refusal.retryAfter).toBeGreaterThanOrEqual(leastSecondsLeft(60, since))
    await endWindow(sendLimitKeys.captchaIpMinute('10.0.10.1'))
    expect((await caller(0).auth.getImageCode()).imageCodeId).toBeTruthy()
  })
})
