import { sealedSmsCode, TEST_AUTH_SECRET } from '@signup/auth/testing/test-services'
import { RONGLIAN, RONGLIAN_ACCOUNT } from '@signup/sms/testing/example-credentials'
import { TRPCError } from '@trpc/server'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { captchaKey, resendKey, smsCodeKey } from '@signup/auth/stores'
import { refusalDataOf } from '@signup/trpc/init'
import { RedisStore } from '@signup/kv/redis-store'
import { startFakeRonglian } from '@signup/sms/testing/fake-ronglian'
import type { FakeProvider } from '@signup/sms/testing/fake-server'
import { loadEnv } from './env.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import { freshMobile } from '@signup/db/testing/mobiles'
import {
  createCapturingLogger,
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
} from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'

const prefix = testKeyPrefix('smsprovider')
const { logger, lines: logLines } = createCapturingLogger()

let fake: FakeProvider
let database: TestDatabase
let services: AppServices
let redis: RedisStore
const noSession = { id: null, set: () => undefined, clear: () => undefined }
const caller = () =>
  createCaller(createContextInner({ services, clientIp: '127.0.0.1', session: noSession }))

async function send(mobile: string, captchaId: string): Promise<number> {
  await redis.set(captchaKey(captchaId), 'K7PX', 300)
  try {
    await caller().auth.sendSmsCode({ mobile, imageCode: 'k7px', imageCodeId: captchaId })
    return RET.OK
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    return refusalDataOf(error).errno
  }
}

beforeAll(async () => {
  fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
  database = await createTestDatabase('smsprovider')
  const env = loadEnv({
    NODE_ENV: 'test',
    AUTH_SECRET: TEST_AUTH_SECRET,
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SMS_PROVIDER: 'ronglian',
    ...RONGLIAN,
    RONGLIAN_BASE_URL: fake.url,
    // Every answer of the fake must come within this, and the hang must outlast it: a second
    // leaves a slow, busy machine ample time for the first.
    SMS_TIMEOUT_MS: '1000',
  })
  services = await createAppServices(env, logger)
  redis = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
  await redis.ready()
})

afterAll(async () => {
  await services.close()
  await redis.close()
  await fake.close()
  await deleteKeysWithPrefix(prefix)
  await database.drop()
})

beforeEach(() => {
  fake.requests.length = 0
  fake.problems.length = 0
  fake.behaviour = { kind: 'success' }
  logLines.length = 0
})

describe('sendSmsCode through the whole stack with SMS_PROVIDER=ronglian', () => {
  it('uses the configured provider', () => {
    expect(services.description).toContain('sms: ronglian')
  })

  it('sends exactly one correct request to the provider and answers OK', async () => {
    const mobile = freshMobile()
    expect(await send(mobile, 'ronglian-ok-0001')).toBe(RET.OK)

    expect(fake.problems).toEqual([])
    expect(fake.requests).toHaveLength(1)
    const sent = JSON.parse(fake.requests[0]?.body ?? '') as { datas?: string[] }
    const code = sent.datas?.[0] ?? ''
    expect(code).toMatch(/^\d{6}$/)
    expect(await redis.get(smsCodeKey(mobile))).toBe(sealedSmsCode('register', mobile, code))
    expect(sent).toEqual({
      to: mobile,
      appId: RONGLIAN.RONGLIAN_APP_ID,
      templateId: RONGLIAN.RONGLIAN_TEMPLATE_ID,
      datas: [code, '5'],
    })
    expect(logLines).toContainEqual(
      expect.objectContaining({
        msg: 'sms sent',
        provider: 'ronglian',
        attempts: 1,
        mobile: `${mobile.slice(0, 3)}****${mobile.slice(-4)}`,
      }),
    )
  })

  it.each([
    ['a final refusal (bad number)', { kind: 'error', code: '160042' } as const],
    ['a throttled answer', { kind: 'error', code: '160038' } as const],
    ['a 5xx', { kind: 'server-error', status: 502 } as const],
    ['a hang past the timeout', { kind: 'hang' } as const],
    ['a malformed answer', { kind: 'malformed' } as const],
  ])('answers THIRDERR after %s and leaves no code behind', async (_, behaviour) => {
    fake.behaviour = behaviour
    const mobile = freshMobile()
    expect(await send(mobile, `ronglian-fail-${mobile}`)).toBe(RET.THIRDERR)
    expect(fake.requests).toHaveLength(1)
    expect(fake.problems).toEqual([])
    expect(await redis.get(smsCodeKey(mobile))).toBeNull()
    expect(await redis.get(resendKey(mobile))).toBeNull()
  })

  it("logs the provider's error with the mobile masked, never the full mobile or the code", async () => {
    const mobile = freshMobile()
    fake.behaviour = { kind: 'error', code: '160042', message: `号码格式有误: ${mobile}` }
    expect(await send(mobile, 'ronglian-mask-0001')).toBe(RET.THIRDERR)
    const sentCode = (JSON.parse(fake.requests[0]?.body ?? '{}') as { datas?: string[] }).datas?.[0]
    const logged = JSON.stringify(logLines)
    expect(logged).toContain('statusCode 160042')
    expect(logged).toContain(`${mobile.slice(0, 3)}****${mobile.slice(-4)}`)
    expect(logged).not.toContain(mobile)
    expect(sentCode).toMatch(/^\d{6}$/)
    expect(logged).not.toContain(`"${sentCode}"`)
    expect(logged).not.toContain(`: ${sentCode}`)
  })

  it('after a failure, the same mobile can ask again at once, and gets its SMS', async () => {
    const mobile = freshMobile()
    fake.behaviour = { kind: 'server-error', status: 503 }
    expect(await send(mobile, 'ronglian-again-01')).toBe(RET.THIRDERR)
    fake.behaviour = { kind: 'success' }
    expect(await send(mobile, 'ronglian-again-02')).toBe(RET.OK)
    expect(fake.requests).toHaveLength(2)
  })
})
