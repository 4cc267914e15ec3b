import { SEALED_CODE, TEST_AUTH_SECRET, sealedSmsCode } from '@signup/auth/testing/test-services'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createScryptHasher, verifyPassword } from '@signup/auth/password-hash'
import type { SmsCodePurpose } from '@signup/auth/ports'
import { sessionKey, userSessionsKey } from '@signup/auth/session-store'
import { attemptLimitKeys } from '@signup/auth/sign-in-limiter'
import { captchaKey, smsCodeKey, smsCodeKeys } from '@signup/auth/stores'
import {
  countingVerifier,
  createTestCookie,
  outcome,
  scryptCostOf,
  testPasswordHasher,
} from '@signup/auth/testing/test-services'
import { freshMobile } from '@signup/db/testing/mobiles'
import type { RedisStore } from '@signup/kv/redis-store'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import { refusalDataOf } from '@signup/trpc/init'
import { RET } from '@signup/trpc/ret'
import { loadEnv } from './env.ts'
import type { Env } from './env.ts'
import { createLogger } from './logger.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import { createTestDatabase, testKeyPrefix } from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { describeOnEachRedis } from './testing/each-redis.ts'

describeOnEachRedis('sign-in', (target) => {
  // Two server instances (two sets of services, two Redis connections, two Postgres pools) over one
  // Redis prefix and one database, as two processes behind a load balancer would be.
  const prefix = testKeyPrefix('sign-in')
  const sms = createRecordingSender()
  const logger = createLogger({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  })
  const PASSWORD = 'correct horse battery'
  const NEW_PASSWORD = 'tr0ub4dor and 3'
  const MOBILE_LIMIT = 3
  const IP_LIMIT = 4
  let database: TestDatabase
  let env: Env
  let instances: [AppServices, AppServices]
  let redis: RedisStore
  let captchas = 0
  let ips = 0

  /** A client address no other test uses, so the per-IP limit only bites where it is tested. */
  const freshIp = (): string => {
    const n = ++ips
    if (n >= 1 << 16) throw new RangeError('no unused test address left')
    return `10.77.${n >> 8}.${n & 255}`
  }

  interface Outcome {
    errno: number
    retryAfter?: number
  }

  /** What a call ended with: its errno, and retryAfter when the refusal carries one. */
  async function ended(call: Promise<unknown>): Promise<Outcome> {
    try {
      await call
      return { errno: RET.OK }
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error
      const { errno, retryAfter } = refusalDataOf(error)
      return retryAfter === undefined ? { errno } : { errno, retryAfter }
    }
  }

  function callerOf(instance: AppServices, cookie = createTestCookie(), clientIp = freshIp()) {
    return createCaller(createContextInner({ services: instance, clientIp, session: cookie })).auth
  }

  /** A user with PASSWORD, hashed at the instances' (test) cost. */
  async function seedUser(mobile = freshMobile(), password: string | null = PASSWORD) {
    const passwordHash = password === null ? null : await testPasswordHasher.hash(password)
    return instances[0].db.prisma.user.create({ data: { mobile, nickName: mobile, passwordHash } })
  }

  /** Sends a code for the purpose through the procedure and answers what reached the "phone". */
  async function sendCode(instance: AppServices, mobile: string, purpose: SmsCodePurpose) {
    const imageCodeId = `sign-in-${++captchas}-0000`
    await redis.set(captchaKey(imageCodeId), 'K7PX', 300)
    const before = sms.sent.length
    await callerOf(instance).sendSmsCode({ mobile, imageCode: 'K7PX', imageCodeId, purpose })
    return sms.sent.length > before ? (sms.sent.at(-1)?.code ?? null) : null
  }

  const lastLoginAt = async (mobile: string) =>
    (await instances[0].db.prisma.user.findUnique({ where: { mobile } }))?.lastLoginAt ?? null

  beforeAll(async () => {
    database = await createTestDatabase('sign_in')
    env = loadEnv({
      NODE_ENV: 'test',
      AUTH_SECRET: TEST_AUTH_SECRET,
      DATABASE_URL: database.url,
      ...target().env,
      REDIS_KEY_PREFIX: prefix,
      LOGIN_LIMIT_MOBILE_15MIN: String(MOBILE_LIMIT),
      LOGIN_LIMIT_IP_HOUR: String(IP_LIMIT),
      SMS_LIMIT_IP_HOUR: '1000',
    })
    instances = [
      await createAppServices(env, logger, { sms, passwordHasher: testPasswordHasher }),
      await createAppServices(env, logger, { sms, passwordHasher: testPasswordHasher }),
    ]
    redis = await target().open(prefix)
  })

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.close()))
    await redis.close()
    await target().deleteKeysWithPrefix(prefix)
    await database.drop()
  })

  describe('password sign-in limits on real Redis, shared by two instances', () => {
    it('LOGIN_LIMIT_MOBILE_15MIN: failures on either instance count together; retryAfter; the window ends', async () => {
      const { mobile } = await seedUser()
      for (let i = 0; i < MOBILE_LIMIT; i++) {
        const instance = instances[i % 2] as AppServices
        expect(await outcome(callerOf(instance).login({ mobile, password: 'wrong horse' }))).toBe(
          RET.LOGINERR,
        )
      }
      expect(await redis.get(attemptLimitKeys.loginMobile15Min(mobile))).toBe(String(MOBILE_LIMIT))
      for (const instance of instances) {
        // Past the limit even the right password, from a new client, is not checked.
        const refused = await ended(callerOf(instance).login({ mobile, password: PASSWORD }))
        expect(refused.errno).toBe(RET.REQERR)
        expect(refused.retryAfter).toBeGreaterThan(800)
        expect(refused.retryAfter).toBeLessThanOrEqual(900)
      }
      const ttl = (await redis.pttl(attemptLimitKeys.loginMobile15Min(mobile))) ?? 0
      expect(ttl).toBeGreaterThan(800_000)
      expect(ttl).toBeLessThanOrEqual(900_000)
      // The window ends (as the clock would end it): the right password signs in again.
      await redis.del(attemptLimitKeys.loginMobile15Min(mobile))
      expect((await callerOf(instances[1]).login({ mobile, password: PASSWORD })).errno).toBe(0)
    })

    it('LOGIN_LIMIT_IP_HOUR: one client across mobiles and instances, an IPv6 /64 as one; the window ends', async () => {
      const ip = (i: number) => `2001:db8:14:1::${i.toString(16)}`
      for (let i = 1; i <= IP_LIMIT; i++) {
        const instance = instances[i % 2] as AppServices
        const call = callerOf(instance, undefined, ip(i)).login({
          mobile: freshMobile(),
          password: PASSWORD,
        })
        expect(await outcome(call)).toBe(RET.LOGINERR)
      }
      const { mobile } = await seedUser()
      const refused = await ended(
        callerOf(instances[0], undefined, ip(99)).login({ mobile, password: PASSWORD }),
      )
      expect(refused.errno).toBe(RET.REQERR)
      expect(refused.retryAfter).toBeGreaterThan(3500)
      expect(refused.retryAfter).toBeLessThanOrEqual(3600)
      expect(await redis.get(attemptLimitKeys.loginIpHour('2001:db8:14:1::/64'))).toBe(
        String(IP_LIMIT),
      )
      // Another /64 is another client.
      const elsewhere = callerOf(instances[1], undefined, '2001:db8:14:2::1')
      expect((await elsewhere.login({ mobile, password: PASSWORD })).errno).toBe(0)
      await redis.del(attemptLimitKeys.loginIpHour('2001:db8:14:1::/64'))
      const back = callerOf(instances[1], undefined, ip(100))
      expect((await back.login({ mobile, password: PASSWORD })).errno).toBe(0)
    })

    it('a success gives back its own count only; a password reset on the other instance clears the mobile’s', async () => {
      const { mobile } = await seedUser()
      const ip = freshIp()
      for (let i = 0; i < 2; i++) {
        await outcome(
          callerOf(instances[0], undefined, ip).login({
            mobile,
            password: 'wrong' + 'x'.repeat(8),
          }),
        )
      }
      expect(
        (await callerOf(instances[1], undefined, ip).login({ mobile, password: PASSWORD })).errno,
      ).toBe(0)
      expect(await redis.get(attemptLimitKeys.loginMobile15Min(mobile))).toBe('2')
      expect(await redis.get(attemptLimitKeys.loginIpHour(ip))).toBe('2')

      const code = await sendCode(instances[0], mobile, 'reset')
      await callerOf(instances[1], undefined, ip).resetPassword({
        mobile,
        smsCode: code ?? '',
        password: NEW_PASSWORD,
      })
      expect(await redis.get(attemptLimitKeys.loginMobile15Min(mobile))).toBeNull()
      // The client's count is its own business, not the phone owner's: it stays.
      expect(await redis.get(attemptLimitKeys.loginIpHour(ip))).toBe('2')
    })

    it('12 concurrent wrong sign-ins over both instances: exactly the limit are checked', async () => {
      const counting = countingVerifier(testPasswordHasher)
      const hasher = {
        hash: (password: string) => testPasswordHasher.hash(password),
        ...counting.verifier,
      }
      const counted = [
        await createAppServices(env, logger, { sms, passwordHasher: hasher }),
        await createAppServices(env, logger, { sms, passwordHasher: hasher }),
      ]
      try {
        const { mobile } = await seedUser()
        const outcomes = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            outcome(
              callerOf(counted[i % 2] as AppServices).login({
                mobile,
                password: `wrong horse ${i}`,
              }),
            ),
          ),
        )
        expect(outcomes.filter((errno) => errno === RET.LOGINERR)).toHaveLength(MOBILE_LIMIT)
        expect(outcomes.filter((errno) => errno === RET.REQERR)).toHaveLength(12 - MOBILE_LIMIT)
        expect(counting.calls).toHaveLength(MOBILE_LIMIT)
      } finally {
        await Promise.all(counted.map((instance) => instance.close()))
      }
    })
  })

  describe('the work an unknown mobile costs, at production’s scrypt', () => {
    it('an unknown mobile and an account without a password run the same check as a wrong password', async () => {
      // Production's hasher (decision record 007), wrapped to see each check it is asked to run.
      const production = createScryptHasher()
      const counting = countingVerifier(production)
      const instance = await createAppServices(env, logger, {
        sms,
        passwordHasher: {
          hash: (password: string) => production.hash(password),
          ...counting.verifier,
        },
      })
      try {
        const known = freshMobile()
        await instance.db.prisma.user.create({
          data: { mobile: known, nickName: known, passwordHash: await production.hash(PASSWORD) },
        })
        const { mobile: noPassword } = await seedUser(freshMobile(), null)
        for (const mobile of [known, freshMobile(), noPassword]) {
          const answer = await ended(callerOf(instance).login({ mobile, password: 'wrong horse!' }))
          expect(answer).toEqual({ errno: RET.LOGINERR })
        }
        expect(counting.calls.map((call) => call.matched)).toEqual([false, false, false])
        const costs = counting.calls.map((call) => scryptCostOf(call.stored))
        expect(costs).toEqual(Array.from({ length: 3 }, () => 'ln=15,r=8,p=3 salt:22 key:43'))
        // The stored hash for the real one; the decoy, at that same cost, for the other two.
        expect(counting.calls[1]?.stored).toBe(production.decoyHash)
        expect(counting.calls[2]?.stored).toBe(production.decoyHash)
      } finally {
        await instance.close()
      }
    })
  })

  describe('code purposes on real Redis and Postgres', () => {
    it('a register code does not sign in, and a reset code does not sign in', async () => {
      const mobile = freshMobile()
      const registerCode = await sendCode(instances[0], mobile, 'register')
      expect(
        await outcome(
          callerOf(instances[1]).loginWithSmsCode({ mobile, smsCode: registerCode ?? '' }),
        ),
      ).toBe(RET.NODATA)
      expect(await redis.get(smsCodeKey(mobile))).toBe(
        sealedSmsCode('register', mobile, registerCode ?? ''),
      )

      const { mobile: registered } = await seedUser()
      const resetCode = await sendCode(instances[1], registered, 'reset')
      expect(resetCode).toMatch(/^\d{6}$/)
      expect(
        await outcome(
          callerOf(instances[0]).loginWithSmsCode({ mobile: registered, smsCode: resetCode ?? '' }),
        ),
      ).toBe(RET.NODATA)
      expect(await redis.get(smsCodeKeys('reset').code(registered))).toBe(
        sealedSmsCode('reset', registered, resetCode ?? ''),
      )
    })

    it('a login code does not register, nor reset a password', async () => {
      const mobile = freshMobile()
      const loginCode = await sendCode(instances[0], mobile, 'login')
      expect(
        await outcome(
          callerOf(instances[1]).register({ mobile, smsCode: loginCode ?? '', password: PASSWORD }),
        ),
      ).toBe(RET.NODATA)
      const { mobile: registered, passwordHash } = await seedUser()
      const code = await sendCode(instances[1], registered, 'login')
      expect(
        await outcome(
          callerOf(instances[0]).resetPassword({
            mobile: registered,
            smsCode: code ?? '',
            password: NEW_PASSWORD,
          }),
        ),
      ).toBe(RET.NODATA)
      const row = await instances[0].db.prisma.user.findUnique({ where: { mobile: registered } })
      expect(row?.passwordHash).toBe(passwordHash)
      expect(await instances[0].db.prisma.user.count({ where: { mobile } })).toBe(0)
    })

    it('a reset code for a mobile with no account: OK, nothing sent, a code stored all the same', async () => {
      const mobile = freshMobile()
      const before = sms.sent.length
      const imageCodeId = `sign-in-${++captchas}-0000`
      await redis.set(captchaKey(imageCodeId), 'K7PX', 300)
      const answer = await callerOf(instances[0]).sendSmsCode({
        mobile,
        imageCode: 'K7PX',
        imageCodeId,
        purpose: 'reset',
      })
      expect(answer).toEqual({ errno: 0, errmsg: '发送成功', expiresIn: 300, resendIn: 60 })
      expect(sms.sent.length).toBe(before)
      expect(await redis.get(smsCodeKeys('reset').code(mobile))).toMatch(SEALED_CODE)
      expect(await redis.get(`signup:sms-resend:reset:{${mobile}}`)).toBe('1')
    })
  })

  describe('sign-in by SMS code on real Redis and Postgres', () => {
    it('10 concurrent sign-ins of a new mobile with the right code over both instances: one account, one created', async () => {
      const mobile = freshMobile()
      const code = await sendCode(instances[0], mobile, 'login')
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          callerOf(instances[i % 2] as AppServices)
            .loginWithSmsCode({ mobile, smsCode: code ?? '' })
            .then(
              (result) => result,
              () => null,
            ),
        ),
      )
      const signedIn = results.filter((result) => result !== null)
      expect(signedIn).toHaveLength(1)
      expect(signedIn[0]).toMatchObject({
        errno: 0,
        created: true,
        user: { mobile, nickName: mobile },
      })
      const rows = await instances[0].db.prisma.user.findMany({ where: { mobile } })
      expect(rows).toHaveLength(1)
      expect(rows[0]?.passwordHash).toBeNull()
      expect(rows[0]?.lastLoginAt).toBeInstanceOf(Date)
    })

    it('a registered mobile signs in with created: false and a new last_login_at', async () => {
      const { mobile, id } = await seedUser()
      expect(await lastLoginAt(mobile)).toBeNull()
      const code = await sendCode(instances[1], mobile, 'login')
      const cookie = createTestCookie()
      const result = await callerOf(instances[0], cookie).loginWithSmsCode({
        mobile,
        smsCode: code ?? '',
      })
      expect(result).toMatchObject({ errno: 0, created: false, user: { id, mobile } })
      expect(await lastLoginAt(mobile)).toBeInstanceOf(Date)
      expect(await callerOf(instances[1], createTestCookie(cookie.value)).me()).toMatchObject({
        id,
      })
    })
  })

  describe('password reset on real Redis and Postgres', () => {
    it('ends the sessions made on the other instance, and signs this client in', async () => {
      const { mobile, id } = await seedUser()
      const phone = createTestCookie()
      const laptop = createTestCookie()
      await callerOf(instances[0], phone).login({ mobile, password: PASSWORD })
      await callerOf(instances[0], laptop).login({ mobile, password: PASSWORD })
      expect(await redis.expiringSetMembers(userSessionsKey(id))).toHaveLength(2)

      const code = await sendCode(instances[1], mobile, 'reset')
      const here = createTestCookie()
      const result = await callerOf(instances[1], here).resetPassword({
        mobile,
        smsCode: code ?? '',
        password: NEW_PASSWORD,
      })
      expect(result).toMatchObject({ errno: 0, errmsg: '密码已重置', user: { id, mobile } })

      for (const ended of [phone, laptop]) {
        expect(await redis.get(sessionKey(ended.value ?? ''))).toBeNull()
        for (const instance of instances) {
          expect(await callerOf(instance, createTestCookie(ended.value)).me()).toBeNull()
        }
      }
      expect(await callerOf(instances[0], createTestCookie(here.value)).me()).toMatchObject({ id })
      expect(await redis.expiringSetMembers(userSessionsKey(id))).toHaveLength(1)

      const row = await instances[0].db.prisma.user.findUnique({ where: { mobile } })
      expect(await verifyPassword(NEW_PASSWORD, row?.passwordHash ?? '')).toBe(true)
      expect(row?.lastLoginAt).toBeInstanceOf(Date)
      // The old password is refused and the new one signs in, on either instance.
      expect(await outcome(callerOf(instances[0]).login({ mobile, password: PASSWORD }))).toBe(
        RET.LOGINERR,
      )
      expect((await callerOf(instances[1]).login({ mobile, password: NEW_PASSWORD })).errno).toBe(0)
    })
  })

  describe('the daily wrong-code limit on real Redis, shared by two instances', () => {
    it('counts wrong codes across codes and purposes; past 20, even the right code is refused', async () => {
      // Twenty, above the default 10, so that five codes of four tries each reach it.
      const capped = [
        await createAppServices({ ...env, SMS_VERIFY_LIMIT_MOBILE_DAY: 20 }, logger, {
          sms,
          passwordHasher: testPasswordHasher,
        }),
        await createAppServices({ ...env, SMS_VERIFY_LIMIT_MOBILE_DAY: 20 }, logger, {
          sms,
          passwordHasher: testPasswordHasher,
        }),
      ] as const
      onTestFinished(async () => {
        for (const instance of capped) await instance.close()
      })
      const instances = capped
      const mobile = freshMobile()
      const seed = (purpose: SmsCodePurpose) =>
        redis.set(smsCodeKeys(purpose).code(mobile), sealedSmsCode(purpose, mobile, '424242'), 300)
      // Five codes of four wrong tries each: no code dies of its own five, yet the day's count runs out.
      for (let code = 0; code < 5; code++) {
        const purpose = code % 2 === 0 ? 'login' : 'register'
        await seed(purpose)
        await redis.del(smsCodeKeys(purpose).attempts(mobile))
        for (let i = 0; i < 4; i++) {
          const instance = instances[i % 2] as AppServices
          const call =
            purpose === 'login'
              ? callerOf(instance).loginWithSmsCode({ mobile, smsCode: '000000' })
              : callerOf(instance).register({ mobile, smsCode: '000000', password: PASSWORD })
          expect(await outcome(call)).toBe(RET.DATAERR)
        }
      }
      expect(await redis.get(attemptLimitKeys.wrongCodeMobileDay(mobile))).toBe('20')
      await seed('login')
      const refused = await ended(
        callerOf(instances[1]).loginWithSmsCode({ mobile, smsCode: '424242' }),
      )
      expect(refused.errno).toBe(RET.REQERR)
      expect(refused.retryAfter).toBeGreaterThan(86_000)
      expect(await redis.get(smsCodeKeys('login').code(mobile))).toBe(
        sealedSmsCode('login', mobile, '424242'),
      )
      // The day ends: the right code signs in.
      await redis.del(attemptLimitKeys.wrongCodeMobileDay(mobile))
      expect(
        (await callerOf(instances[0]).loginWithSmsCode({ mobile, smsCode: '424242' })).created,
      ).toBe(true)
    })
  })

  describe('last_login_at', () => {
    it('is set by a password sign-in', async () => {
      const { mobile } = await seedUser()
      const started = Date.now()
      await callerOf(instances[0]).login({ mobile, password: PASSWORD })
      expect((await lastLoginAt(mobile))?.getTime()).toBeGreaterThanOrEqual(started)
    })
  })
})
