import { TEST_AUTH_SECRET, sealedSmsCode } from '@signup/auth/testing/test-services'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { verifyPassword } from '@signup/auth/password-hash'
import { MAX_SMS_CODE_ATTEMPTS } from '@signup/auth/register'
import { RET } from '@signup/trpc/ret'
import { sessionKey } from '@signup/auth/session-store'
import { captchaKey, smsAttemptsKey, smsCodeKey } from '@signup/auth/stores'
import { createTestCookie, outcome } from '@signup/auth/testing/test-services'
import { refusalDataOf } from '@signup/trpc/init'
import type { RedisStore } from '@signup/kv/redis-store'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import { loadEnv } from './env.ts'
import type { Env } from './env.ts'
import { createLogger } from './logger.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import { freshMobile } from '@signup/db/testing/mobiles'
import { createTestDatabase, leastMsLeft, testKeyPrefix } from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { describeOnEachRedis } from './testing/each-redis.ts'

describeOnEachRedis('register', (target) => {
  const prefix = testKeyPrefix('register')
  const sms = createRecordingSender()
  const logger = createLogger({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  })
  const PASSWORD = 'correct horse battery'
  const SESSION_TTL = 3_600
  let database: TestDatabase
  let env: Env
  let services: AppServices
  let redis: RedisStore

  /** A caller of the given server instance, with its own cookie jar of one cookie. */
  function callerOf(instance: AppServices, cookie = createTestCookie()) {
    return createCaller(
      createContextInner({ services: instance, clientIp: '127.0.0.1', session: cookie }),
    )
  }

  async function seedCode(mobile: string, code = '123456', ttlSeconds = 300): Promise<string> {
    await redis.set(smsCodeKey(mobile), sealedSmsCode('register', mobile, code), ttlSeconds)
    return code
  }

  const countUsers = (mobile: string) => services.db.prisma.user.count({ where: { mobile } })

  beforeAll(async () => {
    database = await createTestDatabase('register')
    env = loadEnv({
      NODE_ENV: 'test',
      AUTH_SECRET: TEST_AUTH_SECRET,
      DATABASE_URL: database.url,
      ...target().env,
      REDIS_KEY_PREFIX: prefix,
      SESSION_TTL_SECONDS: String(SESSION_TTL),
    })
    services = await createAppServices(env, logger, { sms })
    redis = await target().open(prefix)
  })

  afterAll(async () => {
    await services?.close()
    await redis?.close()
    await target().deleteKeysWithPrefix(prefix)
    await database?.drop()
  })

  describe('register on real Redis and Postgres', () => {
    it('sendSmsCode then register: the user row, the scrypt hash, the session in Redis', async () => {
      const mobile = freshMobile()
      await redis.set(captchaKey('reg-flow-0001'), 'K7PX', 300)
      const since = Date.now()
      await callerOf(services).auth.sendSmsCode({
        mobile,
        imageCode: 'K7PX',
        imageCodeId: 'reg-flow-0001',
      })
      const code = sms.sent.at(-1)?.code ?? ''

      const cookie = createTestCookie()
      const signUpStarted = Date.now()
      const result = await callerOf(services, cookie).auth.register({
        mobile,
        smsCode: code,
        password: PASSWORD,
      })
      expect(result).toMatchObject({
        errno: 0,
        errmsg: '注册成功',
        user: { mobile, nickName: mobile },
      })

      const row = await services.db.prisma.user.findUnique({ where: { mobile } })
      expect(row).toMatchObject({ id: result.user.id, nickName: mobile })
      // Register is a sign-in (docs/contract.md section 5): it sets last_login_at.
      expect(row?.lastLoginAt).toBeInstanceOf(Date)
      expect(row?.lastLoginAt?.getTime()).toBeGreaterThanOrEqual(signUpStarted)
      expect(row?.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$/)
      expect(await verifyPassword(PASSWORD, row?.passwordHash ?? '')).toBe(true)

      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
      expect(cookie.maxAge).toBe(SESSION_TTL)
      const sessionId = cookie.value ?? ''
      expect(await redis.get(sessionKey(sessionId))).toContain(`"userId":${result.user.id}`)
      const ttl = await redis.pttl(sessionKey(sessionId))
      expect(ttl).toBeGreaterThanOrEqual(leastMsLeft(SESSION_TTL, since))
      expect(ttl).toBeLessThanOrEqual(SESSION_TTL * 1000)

      expect(await callerOf(services, createTestCookie(sessionId)).auth.me()).toEqual(result.user)
    })

    it('counts attempts under signup:sms-attempts:{<mobile>} with the code lifetime', async () => {
      const mobile = freshMobile()
      const since = Date.now()
      await seedCode(mobile)
      expect(
        await outcome(
          callerOf(services).auth.register({ mobile, smsCode: '000000', password: PASSWORD }),
        ),
      ).toBe(RET.DATAERR)
      expect(await redis.get(`signup:sms-attempts:{${mobile}}`)).toBe('1')
      const ttl = await redis.pttl(smsAttemptsKey(mobile))
      expect(ttl).toBeGreaterThanOrEqual(leastMsLeft(300, since))
      expect(ttl).toBeLessThanOrEqual(300_000)
    })

    it('the attempt limit: 5 wrong tries remove the code, the right one is then NODATA', async () => {
      const mobile = freshMobile()
      const code = await seedCode(mobile)
      const outcomes: number[] = []
      for (let i = 0; i < MAX_SMS_CODE_ATTEMPTS; i++) {
        outcomes.push(
          await outcome(
            callerOf(services).auth.register({ mobile, smsCode: '000000', password: PASSWORD }),
          ),
        )
      }
      expect(outcomes).toEqual(Array.from({ length: 5 }, () => RET.DATAERR))
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
      expect(
        await outcome(
          callerOf(services).auth.register({ mobile, smsCode: code, password: PASSWORD }),
        ),
      ).toBe(RET.NODATA)
      expect(await countUsers(mobile)).toBe(0)
    })

    it('20 concurrent wrong guesses: exactly 5 are compared, 15 are NODATA, the code is gone', async () => {
      // A daily cap above the 20 guesses, so that only the code's own five tries are in play.
      const guarded = await createAppServices({ ...env, SMS_VERIFY_LIMIT_MOBILE_DAY: 20 }, logger, {
        sms,
      })
      onTestFinished(() => guarded.close())
      const mobile = freshMobile()
      await seedCode(mobile)
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          outcome(
            callerOf(guarded).auth.register({
              mobile,
              smsCode: String(900_000 + i),
              password: PASSWORD,
            }),
          ),
        ),
      )
      expect(outcomes.filter((errno) => errno === RET.DATAERR)).toHaveLength(5)
      expect(outcomes.filter((errno) => errno === RET.NODATA)).toHaveLength(15)
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
    })

    it('10 concurrent registrations with the right code create exactly one account', async () => {
      const mobile = freshMobile()
      const code = await seedCode(mobile)
      const cookies = Array.from({ length: 10 }, () => createTestCookie())
      const outcomes = await Promise.all(
        cookies.map((cookie) =>
          outcome(
            callerOf(services, cookie).auth.register({ mobile, smsCode: code, password: PASSWORD }),
          ),
        ),
      )
      expect(outcomes.filter((errno) => errno === RET.OK)).toHaveLength(1)
      const allowed: number[] = [RET.OK, RET.NODATA, RET.DATAEXIST]
      expect(outcomes.every((errno) => allowed.includes(errno))).toBe(true)
      expect(await countUsers(mobile)).toBe(1)
      expect(cookies.filter((cookie) => cookie.value !== null)).toHaveLength(1)
    })

    it('the same race across two server instances sharing Redis and Postgres', async () => {
      const other = await createAppServices(env, logger, { sms })
      try {
        const mobile = freshMobile()
        const code = await seedCode(mobile)
        const outcomes = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            outcome(
              callerOf(i % 2 === 0 ? services : other).auth.register({
                mobile,
                smsCode: code,
                password: PASSWORD,
              }),
            ),
          ),
        )
        expect(outcomes.filter((errno) => errno === RET.OK)).toHaveLength(1)
        expect(await countUsers(mobile)).toBe(1)
      } finally {
        await other.close()
      }
    })

    it('an expired code is NODATA, even when it was right', async () => {
      const mobile = freshMobile()
      const code = await seedCode(mobile, '654321', 1)
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect(
        await outcome(
          callerOf(services).auth.register({ mobile, smsCode: code, password: PASSWORD }),
        ),
      ).toBe(RET.NODATA)
      expect(await countUsers(mobile)).toBe(0)
    })

    it('a mobile registered in Postgres is DATAEXIST, and the code is spent', async () => {
      const mobile = freshMobile()
      await services.db.prisma.user.create({ data: { mobile, nickName: 'earlier' } })
      const code = await seedCode(mobile)
      const cookie = createTestCookie()
      expect(
        await outcome(
          callerOf(services, cookie).auth.register({ mobile, smsCode: code, password: PASSWORD }),
        ),
      ).toBe(RET.DATAEXIST)
      expect(await redis.get(smsCodeKey(mobile))).toBeNull()
      expect(cookie.value).toBeNull()
    })
  })

  describe('sessions on real Redis', () => {
    it('work across server instances: signed in on one, seen and ended on another', async () => {
      const mobile = freshMobile()
      const code = await seedCode(mobile)
      const cookie = createTestCookie()
      const { user } = await callerOf(services, cookie).auth.register({
        mobile,
        smsCode: code,
        password: PASSWORD,
      })
      const sessionId = cookie.value ?? ''

      const other = await createAppServices(env, logger, { sms })
      try {
        expect(await callerOf(other, createTestCookie(sessionId)).auth.me()).toEqual(user)
        await callerOf(other, createTestCookie(sessionId)).auth.logout()
        expect(await callerOf(services, createTestCookie(sessionId)).auth.me()).toBeNull()
        expect(await redis.get(sessionKey(sessionId))).toBeNull()
      } finally {
        await other.close()
      }
    })

    it('survive a restart: a new instance after the first closed still knows the session', async () => {
      const first = await createAppServices(env, logger, { sms })
      const mobile = freshMobile()
      const code = await seedCode(mobile)
      const cookie = createTestCookie()
      const { user } = await callerOf(first, cookie).auth.register({
        mobile,
        smsCode: code,
        password: PASSWORD,
      })
      await first.close()

      const restarted = await createAppServices(env, logger, { sms })
      try {
        expect(await callerOf(restarted, createTestCookie(cookie.value)).auth.me()).toEqual(user)
      } finally {
        await restarted.close()
      }
    })
  })

  describe('register when a store is unreachable', () => {
    it('Redis unreachable: register and me answer DBERR (4001)', async () => {
      const broken = await createAppServices(
        loadEnv({
          NODE_ENV: 'test',
          AUTH_SECRET: TEST_AUTH_SECRET,
          DATABASE_URL: database.url,
          ...target().unreachableEnv,
        }),
        logger,
        { sms },
      )
      try {
        const mobile = freshMobile()
        expect(
          await outcome(
            callerOf(broken).auth.register({ mobile, smsCode: '123456', password: PASSWORD }),
          ),
        ).toBe(RET.DBERR)
        expect(await outcome(callerOf(broken, createTestCookie('A'.repeat(43))).auth.me())).toBe(
          RET.DBERR,
        )
        expect(await countUsers(mobile)).toBe(0)
      } finally {
        await broken.close()
      }
    })

    it('Postgres unreachable: DBERR (4001), the code is spent and no session starts', async () => {
      const broken = await createAppServices(
        loadEnv({
          NODE_ENV: 'test',
          AUTH_SECRET: TEST_AUTH_SECRET,
          DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none',
          ...target().env,
          REDIS_KEY_PREFIX: prefix,
        }),
        logger,
        { sms },
      )
      try {
        const mobile = freshMobile()
        const code = await seedCode(mobile)
        const cookie = createTestCookie()
        const error = await callerOf(broken, cookie)
          .auth.register({ mobile, smsCode: code, password: PASSWORD })
          .catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(TRPCError)
        expect(refusalDataOf(error as TRPCError)).toEqual({
          errno: RET.DBERR,
          errmsg: '保存用户信息失败',
        })
        expect(await redis.get(smsCodeKey(mobile))).toBeNull()
        expect(cookie.value).toBeNull()
      } finally {
        await broken.close()
      }
    })
  })
})
