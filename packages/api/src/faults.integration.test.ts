import { SEALED_CODE, TEST_AUTH_SECRET, sealedSmsCode } from '@signup/auth/testing/test-services'
import { RONGLIAN, RONGLIAN_ACCOUNT } from '@signup/sms/testing/example-credentials'
import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
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
import { freshMobile } from '@signup/db/testing/mobiles'
import { freePort } from '@signup/db/testing/server-process'
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  testKeyPrefix,
  waitUntil,
} from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { startPrivateRedis, stopProcess } from './testing/private-redis.ts'

const logger = createLogger({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
})
// Wide limits: these tests are about failures, and send from one address far past 20 an hour.
const WIDE = {
  SMS_LIMIT_IP_HOUR: '1000000',
  SMS_LIMIT_PREFIX_HOUR: '1000000',
  SMS_LIMIT_GLOBAL_HOUR: '1000000',
}
// The load is bounded by the clock, not by the machine's speed: each of its workers starts at
// most one send every LOAD_PERIOD_MS (8 workers: 1,600 a second at most, however fast the
// machine), and it stops at MAX_SENDS whatever happens. Both stay far below the WIDE limits.
const LOAD_WORKERS = 8
const LOAD_PERIOD_MS = 5
const MAX_SENDS = 100_000
const OUTAGE_MS = 1_200
let database: TestDatabase

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

/** A send's outcome, with when it started and when it ended (Date.now()). */
type Timed = Sent & { startedAt: number; at: number }

/** LOAD_WORKERS loops of sends, each to a fresh mobile, until stop(); every outcome is kept. */
function sendUnderLoad(services: AppServices, seed: RedisStore) {
  const outcomes: Timed[] = []
  let running = true
  const loops = Array.from({ length: LOAD_WORKERS }, async () => {
    while (running && outcomes.length < MAX_SENDS) {
      const startedAt = Date.now()
      const outcome = await sendOnce(services, seed, freshMobile())
      outcomes.push({ ...outcome, startedAt, at: Date.now() })
      // Failing sends return at once: the period keeps the loop from spinning, and a fast
      // machine from sending more than the bound above.
      await sleep(startedAt + LOAD_PERIOD_MS - Date.now())
    }
  })
  return {
    outcomes,
    /** Waits until `count` outcomes pass `filter` (the load must not have ended meanwhile). */
    async waitFor(what: string, count: number, filter: (outcome: Timed) => boolean) {
      await waitUntil(what, () => {
        if (!running || outcomes.length >= MAX_SENDS) {
          throw new Error(`the load ended before: ${what}`)
        }
        return outcomes.filter(filter).length >= count
      })
    },
    async stop() {
      running = false
      await Promise.all(loops)
      return outcomes
    },
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

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
    redisProcess = await startPrivateRedis(port)
    const env = loadEnv({
      NODE_ENV: 'test',
      AUTH_SECRET: TEST_AUTH_SECRET,
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
    const load = sendUnderLoad(services, seed)
    const ok = (outcome: Timed) => outcome.errno === RET.OK
    await load.waitFor('11 sends succeed before Redis is stopped', 11, ok)
    // Those recorded so far ended before the kill (a count: a timestamp could equal the kill's).
    const endedBeforeKill = load.outcomes.length
    if (redisProcess) await stopProcess(redisProcess)
    // The process has exited, so its sockets are closed: every send from now on meets a dead Redis.
    const deadAt = Date.now()
    await load.waitFor(
      '11 sends start and end while Redis is down',
      11,
      (o) => o.startedAt > deadAt,
    )
    // An outage of 1.2 s at least, so the clients go through several reconnect attempts
    // (100 ms, 200 ms, ... apart) before Redis is back; how many sends fit in it does not matter.
    await sleep(deadAt + OUTAGE_MS - Date.now())
    expect((await services.health()).checks.redis).toBe('down')
    const restartedAt = Date.now()
    redisProcess = await startPrivateRedis(port)
    // The same services reconnect by themselves (ioredis retries every 2 s at most).
    await waitUntil('the services find Redis again', async () => {
      return (await services.health()).checks.redis === 'ok'
    })
    const healthyAt = Date.now()
    await load.waitFor('a send started after the recovery succeeds', 1, (o) => {
      return o.startedAt > healthyAt && ok(o)
    })
    const outcomes = await load.stop()

    const errnos = new Set(outcomes.map((outcome) => outcome.errno))
    // NODATA: a captcha seeded just before the kill, in the Redis that lost it.
    expect(
      [...errnos].every((errno) => ([RET.OK, RET.DBERR, RET.NODATA] as number[]).includes(errno)),
    ).toBe(true)
    const before = outcomes.slice(0, endedBeforeKill)
    // Started once Redis was gone and ended before it was started again, however long each took.
    const during = outcomes.filter(
      (outcome) => outcome.startedAt > deadAt && outcome.at < restartedAt,
    )
    const after = outcomes.filter((outcome) => outcome.startedAt > healthyAt)
    expect(before.filter(ok).length).toBeGreaterThan(10)
    expect(during.length).toBeGreaterThan(10)
    expect(during.every((outcome) => outcome.errno === RET.DBERR)).toBe(true)
    expectNothingLost(outcomes, sms.sent)

    // Recovered: sends succeed again, and each stored code is the one that was sent.
    const recovered = outcomes.filter((outcome) => ok(outcome) && outcome.at > restartedAt)
    expect(recovered.length).toBeGreaterThan(0)
    for (const { mobile } of recovered) {
      const message = sms.sent.find((candidate) => candidate.mobile === mobile)
      expect(await seed.get(smsCodeKey(mobile))).toBe(
        sealedSmsCode('register', mobile, message?.code ?? ''),
      )
    }
    expect(after.some(ok)).toBe(true)
  }, 60_000)
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
      AUTH_SECRET: TEST_AUTH_SECRET,
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
    /** The app pool's backends (all of them, or those running pg_sleep). */
    const backends = async (sleeping = false): Promise<number[]> => {
      const result = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1' +
          (sleeping ? " AND state = 'active' AND query LIKE '%pg_sleep%'" : ''),
        [applicationName],
      )
      return result.rows.map((row) => row.pid)
    }
    try {
      const load = sendUnderLoad(services, seed)
      const inFlight = services.db.prisma.$queryRaw`SELECT pg_sleep(10)`.then(
        () => 'finished',
        () => 'failed',
      )
      await load.waitFor('sends succeed before the kill', 5, (o) => o.errno === RET.OK)
      await waitUntil('the pool runs pg_sleep', async () => (await backends(true)).length > 0)
      // Three rounds: every backend of the pool, then each time the pool has connected anew.
      const killed = new Set<number>()
      for (let round = 0; round < 3; round++) {
        await waitUntil('the pool has a backend not killed yet', async () =>
          (await backends()).some((pid) => !killed.has(pid)),
        )
        const result = await admin.query<{ pid: number; killed: boolean }>(
          'SELECT pid, pg_terminate_backend(pid) AS killed FROM pg_stat_activity' +
            ' WHERE application_name = $1',
          [applicationName],
        )
        for (const row of result.rows) if (row.killed) killed.add(row.pid)
      }
      // A killed backend sends its FATAL before it leaves pg_stat_activity: once all are gone,
      // the pool has dropped their connections, and a send started now cannot meet one.
      await waitUntil('every killed backend has exited', async () =>
        (await backends()).every((pid) => !killed.has(pid)),
      )
      const killedUntil = Date.now()
      await load.waitFor('6 sends start after the last kill', 6, (o) => o.startedAt > killedUntil)
      const outcomes = await load.stop()

      expect(killed.size).toBeGreaterThan(0)
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
      const after = outcomes.filter((outcome) => outcome.startedAt > killedUntil)
      expect(after.length).toBeGreaterThan(5)
      expect(after.every((outcome) => outcome.errno === RET.OK)).toBe(true)
      expect((await services.health()).checks.postgres).toBe('ok')
    } finally {
      await admin.end()
    }
  }, 60_000)
})

describe('a provider that hangs past SMS_TIMEOUT_MS', () => {
  const prefix = testKeyPrefix('faults-sms')

  afterAll(async () => {
    await deleteKeysWithPrefix(prefix)
  })

  it('answers THIRDERR in time, leaves no code or count behind, and recovers', async () => {
    const fake = await startFakeRonglian(RONGLIAN_ACCOUNT)
    const base = {
      NODE_ENV: 'test',
      AUTH_SECRET: TEST_AUTH_SECRET,
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
    }
    // Long enough for the fake's answers after the recovery on a slow, busy machine; far enough
    // below the default that the time the hung sends took shows which of the two applied.
    const timeoutMs = 1_000
    const defaultTimeoutMs = loadEnv(base).SMS_TIMEOUT_MS
    expect(defaultTimeoutMs).toBeGreaterThanOrEqual(5 * timeoutMs)
    const env = loadEnv({
      ...base,
      REDIS_KEY_PREFIX: prefix,
      SMS_PROVIDER: 'ronglian',
      ...RONGLIAN,
      RONGLIAN_BASE_URL: fake.url,
      SMS_TIMEOUT_MS: String(timeoutMs),
      SMS_LIMIT_IP_HOUR: '20',
    })
    const services = await createAppServices(env, logger)
    const seed = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: prefix })
    try {
      await seed.ready()
      fake.behaviour = { kind: 'hang' }
      const mobiles = Array.from({ length: 10 }, () => freshMobile())
      const started = Date.now()
      const hung = await Promise.all(mobiles.map((mobile) => sendOnce(services, seed, mobile)))
      // The fake never answers: the sends ended because SMS_TIMEOUT_MS cut them short, once each
      // (no retry), well before the default would have.
      expect(Date.now() - started).toBeLessThan(defaultTimeoutMs)
      expect(fake.requests).toHaveLength(mobiles.length)
      expect(hung.map((outcome) => outcome.errno)).toEqual(mobiles.map(() => RET.THIRDERR))
      for (const mobile of mobiles) {
        expect(await seed.get(smsCodeKey(mobile))).toBeNull()
        expect(await seed.get(resendKey(mobile))).toBeNull()
      }
      // Ten hung sends from one address took nothing from its 20 an hour: all are given back.
      fake.behaviour = { kind: 'success' }
      const recovered = await Promise.all(mobiles.map((mobile) => sendOnce(services, seed, mobile)))
      expect(recovered.map((outcome) => outcome.errno)).toEqual(mobiles.map(() => RET.OK))
      for (const mobile of mobiles) expect(await seed.get(smsCodeKey(mobile))).toMatch(SEALED_CODE)
    } finally {
      await services.close()
      await seed.close()
      await fake.close()
    }
  }, 30_000)
})
