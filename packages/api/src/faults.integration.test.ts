import { RONGLIAN, RONGLIAN_ACCOUNT } from '@signup/sms/testing/example-credentials'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { TRPCError } from '@trpc/server'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RET } from '@signup/trpc/ret'
import { captchaKey, resendKey, smsCodeKey } from '@signup/auth/stores'
import { createTestCookie } from '@signup/auth/testing/test-services'
import { refusalDataOf } from '@signup/trpc/init'
import { RedisStore } from '@signup/kv/redis-store'
import { createRecordingSender } from '@signup/sms/testing/recording-sender'
import { startFakeRonglian } from '@signup/sms/testing/fake-ronglian'
import { loadEnv } from './env.ts'
import { createLogger } from './logger.ts'
import { createCaller, createContextInner } from './root.ts'
import { createAppServices } from './services.ts'
import type { AppServices } from './services.ts'
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  testKeyPrefix,
} from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'

const logger = createLogger({ NODE_ENV: 'test', LOG_LEVEL: 'silent' })
// Wide limits: these tests are about failures, and send from one address far past 20 an hour.
const WIDE = {
  SMS_LIMIT_IP_HOUR: '1000000',
  SMS_LIMIT_PREFIX_HOUR: '1000000',
  SMS_LIMIT_GLOBAL_HOUR: '1000000',
}
let database: TestDatabase
let mobiles = 0
/** A mobile never used before in `range` (3 digits): a fast machine sends tens of thousands here. */
const freshMobile = (range: string): string =>
  `${range}${String(++mobiles).padStart(11 - range.length, '0')}`

beforeAll(async () => {
  database = await createTestDatabase('faults')
})
afterAll(async () => {
  await database?.drop()
})

interface Sent {
  mobile: string
  errno: number
}

/** One send with a freshly seeded captcha (seeding may fail while Redis is down: then NODATA/DBERR). */
async function sendOnce(services: AppServices, seed: RedisStore, mobile: string): Promise<Sent> {
  const imageCodeId = `fault-${randomUUID()}`
  await seed.set(captchaKey(imageCodeId), 'K7PX', 300).catch(() => undefined)
  const caller = createCaller(
    createContextInner({ services, clientIp: '127.0.0.1', session: createTestCookie() }),
  )
  try {
    await caller.auth.sendSmsCode({ mobile, imageCode: 'k7px', imageCodeId })
    return { mobile, errno: RET.OK }
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error
    return { mobile, errno: refusalDataOf(error).errno }
  }
}

/** `workers` loops of sends until stop() is called; every outcome is kept. */
function sendUnderLoad(services: AppServices, seed: RedisStore, range: string, workers = 8) {
  const outcomes: (Sent & { at: number })[] = []
  let running = true
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const outcome = await sendOnce(services, seed, freshMobile(range))
      outcomes.push({ ...outcome, at: Date.now() })
      // Failing sends return at once; a short pause keeps the loop from spinning.
      if (outcome.errno !== RET.OK) await sleep(5)
    }
  })
  return {
    outcomes,
    async stop() {
      running = false
      await Promise.all(loops)
      return outcomes
    },
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(50)
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  const probe = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 })
  try {
    await waitFor(
      () =>
        probe.ping().then(
          () => true,
          () => false,
        ),
      10_000,
    )
  } finally {
    await probe.close()
  }
  return child
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** No SMS without an OK, no OK without exactly one SMS: each send used its own mobile. */
function expectNothingLost(outcomes: Sent[], sent: { mobile: string }[]): void {
  const smsPerMobile = new Map<string, number>()
  for (const message of sent) {
    smsPerMobile.set(message.mobile, (smsPerMobile.get(message.mobile) ?? 0) + 1)
  }
  for (const { mobile, errno } of outcomes) {
    expect({ mobile, sms: smsPerMobile.get(mobile) ?? 0 }).toEqual({
      mobile,
      sms: errno === RET.OK ? 1 : 0,
    })
  }
}

describe('Redis stopped and started again under load', () => {
  let port: number
  let redisProcess: ChildProcess | undefined
  let services: AppServices
  let seed: RedisStore

  beforeAll(async () => {
    port = await freePort()
    redisProcess = await startRedis(port)
    const env = loadEnv({
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      ...WIDE,
    })
    services = await createAppServices(env, logger, { sms: createRecordingSender() })
    seed = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 })
    await seed.ready()
  })

  afterAll(async () => {
    await services?.close()
    await seed?.close()
    if (redisProcess) await stopProcess(redisProcess)
  })

  it('answers DBERR while it is down, loses nothing, and recovers without a restart', async () => {
    const sms = createRecordingSender()
    services.auth.sms = sms
    const load = sendUnderLoad(services, seed, '133')
    await sleep(800)
    const killedAt = Date.now()
    if (redisProcess) await stopProcess(redisProcess)
    await sleep(1_200)
    expect((await services.health()).checks.redis).toBe('down')
    const restartedAt = Date.now()
    redisProcess = await startRedis(port)
    // The same services reconnect by themselves (ioredis retries every 2 s at most).
    await waitFor(async () => (await services.health()).checks.redis === 'ok', 10_000)
    await sleep(800)
    const outcomes = await load.stop()

    const errnos = new Set(outcomes.map((outcome) => outcome.errno))
    // NODATA: a captcha seeded just before the kill, in the Redis that lost it.
    expect(
      [...errnos].every((errno) => ([RET.OK, RET.DBERR, RET.NODATA] as number[]).includes(errno)),
    ).toBe(true)
    const before = outcomes.filter((outcome) => outcome.at < killedAt)
    const during = outcomes.filter(
      (outcome) => outcome.at > killedAt + 200 && outcome.at < restartedAt,
    )
    const after = outcomes.filter((outcome) => outcome.at > restartedAt + 3_000)
    expect(before.filter((outcome) => outcome.errno === RET.OK).length).toBeGreaterThan(10)
    expect(during.length).toBeGreaterThan(10)
    expect(during.every((outcome) => outcome.errno === RET.DBERR)).toBe(true)
    expectNothingLost(outcomes, sms.sent)

    // Recovered: sends succeed again, and each stored code is the one that was sent.
    const recovered = outcomes.filter(
      (outcome) => outcome.errno === RET.OK && outcome.at > restartedAt,
    )
    expect(recovered.length).toBeGreaterThan(0)
    for (const { mobile } of recovered) {
      const message = sms.sent.find((candidate) => candidate.mobile === mobile)
      expect(await seed.get(smsCodeKey(mobile))).toBe(message?.code)
    }
    expect(after.length === 0 || after.some((outcome) => outcome.errno === RET.OK)).toBe(true)
  }, 30_000)
})

describe('the Postgres connection killed (pg_terminate_backend) under load', () => {
  const applicationName = `signup_faults_${randomUUID().slice(0, 8)}`
  const prefix = testKeyPrefix('faults-pg')
  let services: AppServices
  let seed: RedisStore

  beforeAll(async () => {
    const url = new URL(database.url)
    url.searchParams.set('application_name', applicationName)
    const env = loadEnv({
      NODE_ENV: 'test',
      DATABASE_URL: url.toString(),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      ...WIDE,
    })
    services = await createAppServices(env, logger, { sms: createRecordingSender() })
    seed = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
    await seed.ready()
  })

  afterAll(async () => {
    await services?.close()
    await seed?.close()
    await deleteKeysWithPrefix(prefix)
  })

  it('answers DBERR for the queries it broke, loses nothing, and recovers by itself', async () => {
    const sms = createRecordingSender()
    services.auth.sms = sms
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL })
    await admin.connect()
    try {
      const load = sendUnderLoad(services, seed, '134')
      const inFlight = services.db.prisma.$queryRaw`SELECT pg_sleep(5)`.then(
        () => 'finished',
        () => 'failed',
      )
      await sleep(500)
      let terminated = 0
      for (let round = 0; round < 3; round++) {
        const result = await admin.query<{ killed: boolean }>(
          'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        )
        terminated += result.rows.filter((row) => row.killed).length
        await sleep(300)
      }
      const killedUntil = Date.now()
      await sleep(1_000)
      const outcomes = await load.stop()

      expect(terminated).toBeGreaterThan(0)
      // A query of the app's own pool was in flight and was killed: the kill was real. (Sends'
      // queries take a millisecond, so whether one of them is hit is left to chance.)
      expect(await inFlight).toBe('failed')
      expect(
        outcomes.every((outcome) => outcome.errno === RET.OK || outcome.errno === RET.DBERR),
      ).toBe(true)
      expectNothingLost(outcomes, sms.sent)
      for (const { mobile, errno } of outcomes.filter((outcome) => outcome.errno === RET.DBERR)) {
        expect({ mobile, errno, code: await seed.get(smsCodeKey(mobile)) }).toEqual({
          mobile,
          errno,
          code: null,
        })
      }
      const after = outcomes.filter((outcome) => outcome.at > killedUntil + 200)
      expect(after.length).toBeGreaterThan(5)
      expect(after.every((outcome) => outcome.errno === RET.OK)).toBe(true)
      expect((await services.health()).checks.postgres).toBe('ok')
    } finally {
      await admin.end()
    }
  }, 30_000)
})

describe('a provider that hangs past SMS_TIMEOUT_MS', () => {
  const prefix = testKeyPrefix('faults-sms')

  afterAll(async () => {
    await deleteKeysWithPrefix(prefix)
  })

  it('answers THIRDERR in time, leaves no code or count behind, and recovers', async () => {
    const fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
    const env = loadEnv({
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SMS_PROVIDER: 'ronglian',
      ...RONGLIAN,
      RONGLIAN_BASE_URL: fake.url,
      SMS_TIMEOUT_MS: '300',
      SMS_LIMIT_IP_HOUR: '20',
    })
    const services = await createAppServices(env, logger)
    const seed = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
    try {
      await seed.ready()
      fake.behaviour = { kind: 'hang' }
      const mobiles = Array.from({ length: 10 }, () => freshMobile('132'))
      const started = Date.now()
      const hung = await Promise.all(mobiles.map((mobile) => sendOnce(services, seed, mobile)))
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(hung.map((outcome) => outcome.errno)).toEqual(mobiles.map(() => RET.THIRDERR))
      for (const mobile of mobiles) {
        expect(await seed.get(smsCodeKey(mobile))).toBeNull()
        expect(await seed.get(resendKey(mobile))).toBeNull()
      }
      // Ten hung sends from one address took nothing from its 20 an hour: all are given back.
      fake.behaviour = { kind: 'success' }
      const recovered = await Promise.all(mobiles.map((mobile) => sendOnce(services, seed, mobile)))
      expect(recovered.map((outcome) => outcome.errno)).toEqual(mobiles.map(() => RET.OK))
      for (const mobile of mobiles) expect(await seed.get(smsCodeKey(mobile))).toMatch(/^\d{6}$/)
    } finally {
      await services.close()
      await seed.close()
      await fake.close()
    }
  }, 30_000)
})
