import { sealedSmsCode, TEST_AUTH_SECRET } from '@signup/auth/testing/test-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { captchaKey, resendKey, smsCodeKey } from '@signup/auth/stores'
import { createTestCookie, outcome } from '@signup/auth/testing/test-services'
import type { RedisStore } from '@signup/kv/redis-store'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import { loadEnv } from './env.ts'
import { createLogger } from './logger.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import { freshMobile } from '@signup/db/testing/mobiles'
import { createTestDatabase, leastMsLeft, testKeyPrefix } from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { describeOnEachRedis } from './testing/each-redis.ts'

describeOnEachRedis('sendSmsCode', (target) => {
  const prefix = testKeyPrefix('send')
  const sms = createRecordingSender()
  let database: TestDatabase
  let services: AppServices
  let redis: RedisStore
  const caller = () =>
    createCaller(
      createContextInner({ services, clientIp: '127.0.0.1', session: createTestCookie() }),
    )

  async function seedCaptcha(id: string, text = 'K7PX'): Promise<void> {
    await redis.set(captchaKey(id), text, 300)
  }

  const logger = createLogger({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  })

  beforeAll(async () => {
    database = await createTestDatabase('send')
    const env = loadEnv({
      NODE_ENV: 'test',
      AUTH_SECRET: TEST_AUTH_SECRET,
      DATABASE_URL: database.url,
      ...target().env,
      REDIS_KEY_PREFIX: prefix,
    })
    services = await createAppServices(env, logger, { sms })
    redis = await target().open(prefix)
  })

  afterAll(async () => {
    await services.close()
    await redis.close()
    await target().deleteKeysWithPrefix(prefix)
    await database.drop()
  })

  describe('sendSmsCode on real Redis and Postgres', () => {
    it('stores the captcha answer and the code under the original key names, with their TTLs', async () => {
      const issuedSince = Date.now()
      const image = await caller().auth.getImageCode()
      const answer = await redis.get(captchaKey(image.imageCodeId))
      expect(answer).toMatch(/^[A-Z2-9]{4}$/)
      expect(await redis.pttl(captchaKey(image.imageCodeId))).toBeGreaterThanOrEqual(
        leastMsLeft(300, issuedSince),
      )

      const mobile = freshMobile()
      const sentSince = Date.now()
      const result = await caller().auth.sendSmsCode({
        mobile,
        imageCode: answer!.toLowerCase(),
        imageCodeId: image.imageCodeId,
      })
      expect(result.errno).toBe(0)
      const code = sms.sent.at(-1)?.code ?? ''
      expect(code).toMatch(/^\d{6}$/)
      expect(sms.sent.at(-1)).toEqual({ mobile, code, ttlMinutes: 5 })
      // What Redis holds is the code's HMAC, never its digits (docs/contract.md section 5).
      expect(await redis.get(smsCodeKey(mobile))).toBe(sealedSmsCode('register', mobile, code))
      expect(await redis.pttl(smsCodeKey(mobile))).toBeGreaterThanOrEqual(
        leastMsLeft(300, sentSince),
      )
      expect(await redis.pttl(resendKey(mobile))).toBeGreaterThanOrEqual(leastMsLeft(60, sentSince))
      expect(await redis.get(captchaKey(image.imageCodeId))).toBeNull()
    })

    it('a captcha used twice: the second use is NODATA', async () => {
      await seedCaptcha('twice-0001')
      const input = { imageCode: 'K7PX', imageCodeId: 'twice-0001' }
      expect(await outcome(caller().auth.sendSmsCode({ ...input, mobile: freshMobile() }))).toBe(0)
      expect(await outcome(caller().auth.sendSmsCode({ ...input, mobile: freshMobile() }))).toBe(
        RET.NODATA,
      )
    })

    it('a wrong captcha is DATAERR and spends the captcha', async () => {
      await seedCaptcha('wrong-0001')
      const mobile = freshMobile()
      expect(
        await outcome(
          caller().auth.sendSmsCode({ mobile, imageCode: 'AAAA', imageCodeId: 'wrong-0001' }),
        ),
      ).toBe(RET.DATAERR)
      expect(await redis.get(captchaKey('wrong-0001'))).toBeNull()
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
    })

    it('a mobile with an account in Postgres is DATAEXIST', async () => {
      const mobile = freshMobile()
      await services.db.prisma.user.create({ data: { mobile, nickName: mobile } })
      await seedCaptcha('exists-0001')
      expect(
        await outcome(
          caller().auth.sendSmsCode({ mobile, imageCode: 'K7PX', imageCodeId: 'exists-0001' }),
        ),
      ).toBe(RET.DATAEXIST)
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
    })

    it('20 concurrent sends with one captcha give exactly one success, the rest NODATA', async () => {
      await seedCaptcha('race-0001')
      const sentBefore = sms.sent.length
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          outcome(
            caller().auth.sendSmsCode({
              mobile: freshMobile(),
              imageCode: 'K7PX',
              imageCodeId: 'race-0001',
            }),
          ),
        ),
      )
      expect(outcomes.filter((errno) => errno === RET.OK)).toHaveLength(1)
      expect(outcomes.filter((errno) => errno === RET.NODATA)).toHaveLength(19)
      expect(sms.sent.length - sentBefore).toBe(1)
    })

    it('10 concurrent sends to one mobile give exactly one SMS, the rest REQERR', async () => {
      const mobile = freshMobile()
      const ids = Array.from({ length: 10 }, (_, i) => `same-mobile-${i}-0001`)
      await Promise.all(ids.map((id) => seedCaptcha(id)))
      const outcomes = await Promise.all(
        ids.map((imageCodeId) =>
          outcome(caller().auth.sendSmsCode({ mobile, imageCode: 'K7PX', imageCodeId })),
        ),
      )
      expect(outcomes.filter((errno) => errno === RET.OK)).toHaveLength(1)
      expect(outcomes.filter((errno) => errno === RET.REQERR)).toHaveLength(9)
      expect(sms.sent.filter((message) => message.mobile === mobile)).toHaveLength(1)
    })

    it('a failing provider gives THIRDERR and leaves neither the code nor the resend window', async () => {
      const mobile = freshMobile()
      await seedCaptcha('provider-0001')
      sms.failNext()
      expect(
        await outcome(
          caller().auth.sendSmsCode({ mobile, imageCode: 'K7PX', imageCodeId: 'provider-0001' }),
        ),
      ).toBe(RET.THIRDERR)
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
      expect(await redis.get(resendKey(mobile))).toBeNull()
    })
  })

  describe('sendSmsCode when a store is unreachable', () => {
    it('Redis unreachable gives DBERR (4001), not a server error', async () => {
      const env = loadEnv({
        NODE_ENV: 'test',
        AUTH_SECRET: TEST_AUTH_SECRET,
        DATABASE_URL: database.url,
        ...target().unreachableEnv,
      })
      const broken = await createAppServices(env, logger, { sms })
      try {
        const call = createCaller(
          createContextInner({ services: broken, clientIp: null, session: createTestCookie() }),
        )
        expect(
          await outcome(
            call.auth.sendSmsCode({
              mobile: freshMobile(),
              imageCode: 'K7PX',
              imageCodeId: 'x-00000001',
            }),
          ),
        ).toBe(RET.DBERR)
        expect(await outcome(call.auth.getImageCode())).toBe(RET.DBERR)
        expect((await broken.health()).checks).toEqual({ postgres: 'ok', redis: 'down' })
      } finally {
        await broken.close()
      }
    })

    it('Postgres unreachable gives DBERR (4001) and spends the captcha, sending nothing', async () => {
      const env = loadEnv({
        NODE_ENV: 'test',
        AUTH_SECRET: TEST_AUTH_SECRET,
        DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none',
        ...target().env,
        REDIS_KEY_PREFIX: prefix,
      })
      const broken = await createAppServices(env, logger, { sms })
      const sentBefore = sms.sent.length
      try {
        await seedCaptcha('pg-down-0001')
        const call = createCaller(
          createContextInner({ services: broken, clientIp: null, session: createTestCookie() }),
        )
        const mobile = freshMobile()
        expect(
          await outcome(
            call.auth.sendSmsCode({ mobile, imageCode: 'K7PX', imageCodeId: 'pg-down-0001' }),
          ),
        ).toBe(RET.DBERR)
        expect(sms.sent.length).toBe(sentBefore)
        expect(await redis.get(smsCodeKey(mobile))).toBeNull()
        expect((await broken.health()).checks).toEqual({ postgres: 'down', redis: 'ok' })
      } finally {
        await broken.close()
      }
    })
  })
})
