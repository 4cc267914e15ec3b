import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealedSmsCode } from '@signup/auth/testing/test-services'
import { captchaKey, resendKey, smsCodeKey } from '@signup/auth/stores'
import { sendLimitKeys } from '@signup/auth/send-limiter'
import { REPO_ROOT } from '@signup/db/migrate'
import { RET } from '@signup/trpc/ret'
import { freshMobile, freshMobileIn } from '@signup/db/testing/mobiles'
import { RedisStore } from '@signup/kv/redis-store'
import { startRedisCluster } from '@signup/kv/testing/redis-cluster'
import type { RedisClusterUnderTest } from '@signup/kv/testing/redis-cluster'
import { requestFrom, startLoadBalancer } from './testing/load-balancer.ts'
import type { LoadBalancer } from './testing/load-balancer.ts'
import { createTestDatabase, testKeyPrefix, waitUntil } from './testing/test-infra.ts'
import type { TestDatabase } from './testing/test-infra.ts'
import { startServer } from './testing/test-server.ts'
import type { RunningServer } from './testing/test-server.ts'

// Three production servers on one Redis Cluster and one database, behind haproxy (round-robin,
// `option forwardfor`, TRUST_PROXY on the servers): docs/contract.md section 10. Each request
// comes from a loopback address of its own choosing, which haproxy appends to X-Forwarded-For.
// Every send to one mobile counts on its number range too: the range's limit is the highest.
const LIMITS = {
  SMS_LIMIT_MOBILE_HOUR: 3,
  SMS_LIMIT_MOBILE_DAY: 5,
  SMS_LIMIT_IP_HOUR: 4,
  SMS_LIMIT_PREFIX_HOUR: 6,
  SMS_LIMIT_GLOBAL_HOUR: 1_000_000,
  CAPTCHA_LIMIT_IP_MINUTE: 5,
}
const { OK, DBERR, NODATA, REQERR } = RET

let cluster: RedisClusterUnderTest
let database: TestDatabase
let servers: RunningServer[] = []
let balancer: LoadBalancer
/** The cluster under the servers' key prefix: seeds captchas and codes, reads what they stored. */
let redis: RedisStore
const prefix = testKeyPrefix('scale-out')

beforeAll(async () => {
  // A short cluster-node-timeout: the last test kills a master and waits for its replica.
  cluster = await startRedisCluster({ nodeTimeoutMs: 3_000 })
  database = await createTestDatabase('scale_out')
  const env = {
    DATABASE_URL: database.url,
    REDIS_CLUSTER_NODES: cluster.nodesEnv,
    REDIS_KEY_PREFIX: prefix,
    SMS_PROVIDER: 'console',
    TRUST_PROXY: '1',
    LOG_LEVEL: 'warn',
    METRICS_PORT: '0',
    ...Object.fromEntries(Object.entries(LIMITS).map(([name, value]) => [name, String(value)])),
  }
  servers = await Promise.all([0, 1, 2].map(() => startServer(env)))
  balancer = await startLoadBalancer(servers.map((server) => server.url))
  redis = new RedisStore({ clusterNodes: cluster.nodes, keyPrefix: prefix })
  await redis.ready()
}, 180_000)

afterAll(async () => {
  try {
    await balancer?.stop()
    await Promise.all(servers.map((server) => server.stop()))
    await redis?.close()
  } finally {
    await cluster?.stop()
    await database?.drop()
  }
})

let clients = 0
/** A client address no other request used: 127.a.b.c, never .0 or .255. */
function freshClient(): string {
  const n = clients++
  return `127.${1 + Math.floor(n / 65_024)}.${Math.floor(n / 254) % 256}.${1 + (n % 254)}`
}

async function seedCaptcha(): Promise<string> {
  const id = randomUUID()
  await redis.set(captchaKey(id), 'Q7RT', 300)
  return id
}

interface Sent {
  status: number
  errno: number
  retryAfter: number
  /** The instance that answered (i0, i1, i2), as haproxy says. */
  servedBy: string
}

/** POST /passport/sms_code, through the balancer unless `to` names an instance. */
async function send(
  mobile: string,
  options: { client?: string; imageCodeId?: string; to?: string } = {},
): Promise<Sent> {
  const imageCodeId = options.imageCodeId ?? (await seedCaptcha())
  const answer = await requestFrom(
    options.client ?? freshClient(),
    `${options.to ?? balancer.url}/passport/sms_code`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mobile, image_code: 'q7rt', image_code_id: imageCodeId }),
    },
  )
  const body = JSON.parse(answer.body) as { errno: number }
  return {
    status: answer.status,
    errno: body.errno,
    retryAfter: Number(answer.headers['retry-after'] ?? 0),
    servedBy: String(answer.headers['x-served-by']),
  }
}

/** Sends in turn (the balancer passes them round the instances), deleting the resend window between. */
async function sendsTo(mobile: string, count: number, client?: string): Promise<Sent[]> {
  const sent: Sent[] = []
  for (let i = 0; i < count; i++) {
    sent.push(await send(mobile, client === undefined ? {} : { client }))
    await redis.del(resendKey(mobile))
  }
  return sent
}

/** The sum of a counter's samples whose labels include `labels`, as an instance's /metrics shows it. */
async function counted(server: RunningServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(server.metricsUrl ?? '')).text()
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

const errnos = (sent: Sent[]) => sent.map((each) => each.errno)
/** `ok` sends answered OK, then `refused` REQERR. */
const okThenRefused = (ok: number, refused = 1) => [
  ...Array.from({ length: ok }, () => OK),
  ...Array.from({ length: refused }, () => REQERR),
]
const instancesOf = (sent: Sent[]) => new Set(sent.map((each) => each.servedBy))

describe('three instances behind haproxy, on a Redis Cluster: every limit exact', () => {
  it('the resend window: one send, then REQERR from every instance', async () => {
    const mobile = freshMobile()
    const sent = [await send(mobile)]
    for (let i = 0; i < 5; i++) sent.push(await send(mobile))
    expect(errnos(sent)).toEqual([OK, REQERR, REQERR, REQERR, REQERR, REQERR])
    expect(sent[1]?.retryAfter).toBeLessThanOrEqual(60)
    expect(instancesOf(sent)).toEqual(new Set(balancer.instances))
  })

  it('SMS_LIMIT_MOBILE_HOUR and SMS_LIMIT_MOBILE_DAY count the sends every instance made', async () => {
    const mobile = freshMobile()
    const hour = await sendsTo(mobile, LIMITS.SMS_LIMIT_MOBILE_HOUR + 1)
    expect(errnos(hour)).toEqual(okThenRefused(LIMITS.SMS_LIMIT_MOBILE_HOUR))
    expect(hour.at(-1)?.retryAfter).toBeGreaterThan(60)
    expect(hour.at(-1)?.retryAfter).toBeLessThanOrEqual(3_600)
    expect(instancesOf(hour)).toEqual(new Set(balancer.instances))
    // The hour ends (its counter goes); the day's count goes on to its limit.
    await redis.del(sendLimitKeys.mobileHour(mobile))
    const rest = LIMITS.SMS_LIMIT_MOBILE_DAY - LIMITS.SMS_LIMIT_MOBILE_HOUR
    const day = await sendsTo(mobile, rest + 1)
    expect(errnos(day)).toEqual(okThenRefused(rest))
    expect(day.at(-1)?.retryAfter).toBeGreaterThan(3_600)
    expect(await redis.get(sendLimitKeys.mobileDay(mobile))).toBe(
      String(LIMITS.SMS_LIMIT_MOBILE_DAY),
    )
  })

  it('SMS_LIMIT_IP_HOUR counts one client across the instances', async () => {
    const client = freshClient()
    const sent: Sent[] = []
    for (let i = 0; i <= LIMITS.SMS_LIMIT_IP_HOUR; i++)
      sent.push(await send(freshMobile(), { client }))
    expect(errnos(sent)).toEqual(okThenRefused(LIMITS.SMS_LIMIT_IP_HOUR))
    expect(instancesOf(sent)).toEqual(new Set(balancer.instances))
    expect((await send(freshMobile())).errno).toBe(OK)
  })

  it('SMS_LIMIT_PREFIX_HOUR counts one number range across the instances', async () => {
    const range = '1390017'
    const sent: Sent[] = []
    for (let i = 0; i <= LIMITS.SMS_LIMIT_PREFIX_HOUR; i++)
      sent.push(await send(freshMobileIn(range)))
    expect(errnos(sent)).toEqual(okThenRefused(LIMITS.SMS_LIMIT_PREFIX_HOUR))
    expect(instancesOf(sent)).toEqual(new Set(balancer.instances))
  })

  it('SMS_LIMIT_GLOBAL_HOUR: the last sends of the budget, whichever instance makes them', async () => {
    const key = sendLimitKeys.globalHour()
    const used = Number((await redis.get(key)) ?? 0)
    await redis.set(key, String(LIMITS.SMS_LIMIT_GLOBAL_HOUR - 3), 3_600)
    try {
      const sent: Sent[] = []
      for (let i = 0; i < 5; i++) sent.push(await send(freshMobile()))
      expect(errnos(sent)).toEqual(okThenRefused(3, 2))
      expect(instancesOf(sent)).toEqual(new Set(balancer.instances))
    } finally {
      await redis.set(key, String(used), 3_600)
    }
  })

  it('CAPTCHA_LIMIT_IP_MINUTE counts one client across the instances', async () => {
    const client = freshClient()
    const answers = []
    for (let i = 0; i <= LIMITS.CAPTCHA_LIMIT_IP_MINUTE; i++) {
      answers.push(
        await requestFrom(
          client,
          `${balancer.url}/passport/image_code?imageCodeId=${randomUUID()}`,
        ),
      )
    }
    expect(answers.map((answer) => answer.status)).toEqual([
      ...Array.from({ length: LIMITS.CAPTCHA_LIMIT_IP_MINUTE }, () => 200),
      429,
    ])
    expect(new Set(answers.map((answer) => answer.headers['x-served-by']))).toEqual(
      new Set(balancer.instances),
    )
  })
})

describe('three instances behind haproxy, on a Redis Cluster: one service', () => {
  it('each start line names the cluster, and /healthz checks it', async () => {
    for (const server of servers) {
      expect(server.output()).toContain(`redis: redis cluster via ${cluster.nodesEnv}`)
      const health = await fetch(`${server.url}/healthz`)
      expect(await health.json()).toMatchObject({ status: 'ok', postgres: 'ok', redis: 'ok' })
    }
  })

  it('a session made on one instance is valid on every instance, and ended on all by one logout', async () => {
    const mobile = freshMobile()
    await redis.set(smsCodeKey(mobile), sealedSmsCode('register', mobile, '314159'), 300)
    const registered = await requestFrom(freshClient(), `${balancer.url}/passport/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mobile, smscode: '314159', password: 'Tr0ub4dor&3-scale-out' }),
    })
    expect(JSON.parse(registered.body)).toEqual({ errno: 0, errmsg: '注册成功' })
    const cookie = String(registered.headers['set-cookie']?.[0]).split(';')[0] ?? ''
    expect(cookie).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}$/)
    const me = async () => {
      const answer = await requestFrom(freshClient(), `${balancer.url}/api/trpc/auth.me`, {
        headers: { cookie },
      })
      const body = JSON.parse(answer.body) as { result: { data: { mobile: string } | null } }
      return { user: body.result.data, servedBy: String(answer.headers['x-served-by']) }
    }
    const seen = [await me(), await me(), await me()]
    expect(seen.map((each) => each.user?.mobile)).toEqual([mobile, mobile, mobile])
    expect(new Set(seen.map((each) => each.servedBy))).toEqual(new Set(balancer.instances))

    const out = await requestFrom(freshClient(), `${balancer.url}/passport/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: '{}',
    })
    expect(JSON.parse(out.body)).toMatchObject({ errno: 0 })
    const after = [await me(), await me(), await me()]
    expect(after.map((each) => each.user)).toEqual([null, null, null])
    expect(new Set(after.map((each) => each.servedBy))).toEqual(new Set(balancer.instances))
  })

  it('one captcha raced across the instances sends exactly once', async () => {
    const imageCodeId = await seedCaptcha()
    const mobiles = Array.from({ length: 30 }, () => freshMobile())
    const sent = await Promise.all(mobiles.map((mobile) => send(mobile, { imageCodeId })))
    expect(errnos(sent).filter((errno) => errno === OK)).toHaveLength(1)
    expect(errnos(sent).filter((errno) => errno === NODATA)).toHaveLength(29)
    expect(instancesOf(sent)).toEqual(new Set(balancer.instances))
    const codes = await Promise.all(mobiles.map((mobile) => redis.get(smsCodeKey(mobile))))
    expect(codes.filter((code) => code !== null)).toHaveLength(1)
  })
})

// Last: it kills a master of the file's cluster.
describe('a Redis master killed under load', () => {
  it('every answer is OK or DBERR, and every instance recovers by itself once the replica took over', async () => {
    // The master of the global budget's counter, which every send counts: while its slot has no
    // master, no send can succeed, so a send that does is a recovered instance.
    const victim = await cluster.masterOf(`${prefix}${sendLimitKeys.globalHour()}`)
    const answers: { status: number; errno: number; at: number; ms: number }[] = []
    const failures: string[] = []
    let seedsRefused = 0
    let stopping = false
    const worker = async () => {
      while (!stopping) {
        // The harness's own write may fail while the captcha's slot has no master: not an answer.
        const imageCodeId = await seedCaptcha().catch(() => null)
        if (imageCodeId === null) {
          seedsRefused++
          // A pause before the next try, rather than spin on a slot that has no master.
          await new Promise((resolve) => setTimeout(resolve, 5))
          continue
        }
        try {
          const started = Date.now()
          const sent = await send(freshMobile(), { imageCodeId })
          const at = Date.now()
          answers.push({ status: sent.status, errno: sent.errno, at, ms: at - started })
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error))
        }
      }
    }
    const load = Promise.all(Array.from({ length: 8 }, worker))
    const okCount = () => answers.filter((answer) => answer.errno === OK).length
    await waitUntil('the load to be answered OK 50 times', () => okCount() >= 50, {
      timeoutMs: 60_000,
    })

    const killedAt = Date.now()
    await cluster.kill(victim)
    const sawDown = servers.map(() => false)
    const recoveredAfterMs = await Promise.all(
      servers.map(async (server, i) => {
        await waitUntil(
          `instance ${i}: /healthz 200 and a send OK`,
          async () => {
            const health = await fetch(`${server.url}/healthz`).then(
              (r) => r.status,
              () => 0,
            )
            if (health === 503) sawDown[i] = true
            if (health !== 200) return false
            const imageCodeId = await seedCaptcha().catch(() => null)
            if (imageCodeId === null) return false
            const sent = await send(freshMobile(), { imageCodeId, to: server.url }).catch(
              () => null,
            )
            return sent?.errno === OK
          },
          { timeoutMs: 120_000, intervalMs: 200 },
        )
        return Date.now() - killedAt
      }),
    )
    const recoveredAt = killedAt + Math.max(...recoveredAfterMs)
    await waitUntil(
      'the load to be answered OK 20 times after every instance recovered',
      () => answers.filter((answer) => answer.at > recoveredAt && answer.errno === OK).length >= 20,
      { timeoutMs: 60_000 },
    )
    stopping = true
    await load

    const count = (errno: number) => answers.filter((answer) => answer.errno === errno).length
    const report = {
      killedMasterPort: victim,
      recoveredAfterMs,
      answers: answers.length,
      ok: count(OK),
      dberr: count(DBERR),
      // For the record, not asserted: how long a DBERR answer took during the failover.
      slowestDberrMs: Math.max(0, ...answers.filter((a) => a.errno === DBERR).map((a) => a.ms)),
      seedsRefused,
    }
    // eslint-disable-next-line no-console -- the recovery time is reported with the test run
    console.log(`redis failover under load: ${JSON.stringify(report)}`)
    const results = path.join(REPO_ROOT, '.test-results')
    await mkdir(results, { recursive: true })
    await writeFile(
      path.join(results, 'redis-failover.json'),
      `${JSON.stringify(report, null, 2)}\n`,
    )

    expect(failures).toEqual([])
    const others = answers.filter(
      (answer) => answer.status !== 200 || (answer.errno !== OK && answer.errno !== DBERR),
    )
    expect(others).toEqual([])
    // The kill was felt: sends failed while the budget's slot had no master, each instance's
    // /healthz said so, and each counted its store errors.
    expect(count(DBERR)).toBeGreaterThan(0)
    expect(sawDown).toEqual([true, true, true])
    for (const server of servers) {
      expect(await counted(server, 'signup_store_errors_total', 'store="redis"')).toBeGreaterThan(0)
      expect(await counted(server, 'signup_sms_sends_total', 'outcome="DBERR"')).toBeGreaterThan(0)
    }
  }, 300_000)

  it('an instance still stops cleanly (SIGTERM, exit 0) with the killed master gone', async () => {
    const [server] = servers
    await server?.stop()
    expect(server?.process.exitCode).toBe(0)
  })
})
