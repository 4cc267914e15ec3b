import { request as httpRequest } from 'node:http'
import autocannon from 'autocannon'
import type { Result } from 'autocannon'
import { Cluster, Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { TEST_REDIS_URL } from '@signup/api/testing/test-infra'
import type { ClusterNodeAddress } from '@signup/kv/redis-store'

/**
 * The abuse limits opened wide: one load generator on one address measures throughput. They are
 * still counted (same scripts, same round trips) on every send.
 */
export const WIDE_OPEN_LIMITS = {
  SMS_LIMIT_IP_HOUR: '1000000000',
  SMS_LIMIT_PREFIX_HOUR: '1000000000',
  SMS_LIMIT_GLOBAL_HOUR: '1000000000',
  CAPTCHA_LIMIT_IP_MINUTE: '1000000000',
}

/**
 * The production server as the send runs start it, on the given database and Redis: the console
 * provider, LOG_LEVEL from BENCH_LOG_LEVEL (info), the limits wide open but counted, and metrics
 * counted (a scraper would read them) with the access log on, as deployed.
 */
export function sendRunEnv(
  databaseUrl: string,
  redis: Record<string, string>,
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ...redis,
    SMS_PROVIDER: 'console',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    ...WIDE_OPEN_LIMITS,
    METRICS_PORT: '0',
  }
}

/**
 * Stores `count` captchas `ImageCode_<idPrefix>-<i>` = ABCD under the key prefix, in pipelines, on
 * the test Redis or on a Redis Cluster given by some of its nodes.
 */
export async function seedCaptchas(
  prefix: string,
  idPrefix: string,
  count: number,
  ttlSeconds: number,
  clusterNodes?: readonly ClusterNodeAddress[],
): Promise<void> {
  // The keys spread over every slot: auto-pipelining sends each batch as one pipeline per node,
  // grouped by the prefixed key's slot (a SET's key is its first argument).
  const redis = clusterNodes
    ? new Cluster([...clusterNodes], { keyPrefix: prefix, enableAutoPipelining: true })
    : new Redis(TEST_REDIS_URL, { keyPrefix: prefix, enableAutoPipelining: true })
  try {
    for (let start = 0; start < count; start += 10_000) {
      const batch = Array.from({ length: Math.min(count, start + 10_000) - start }, (_, i) =>
        redis.set(`ImageCode_${idPrefix}-${start + i}`, 'ABCD', 'EX', ttlSeconds),
      )
      await Promise.all(batch)
    }
  } finally {
    redis.disconnect()
  }
}

/** The keys under `prefix` matching `pattern` on one Redis server (or one node of a cluster). */
export async function countKeys(
  prefix: string,
  pattern: string,
  server: string | Pick<RedisOptions, 'host' | 'port'> = TEST_REDIS_URL,
): Promise<number> {
  const redis = typeof server === 'string' ? new Redis(server) : new Redis(server)
  let count = 0
  let cursor = '0'
  try {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 5000)
      cursor = next
      count += keys.length
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return count
}

/** One autocannon run, as a promise. */
export function runLoad(options: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error: unknown, result) =>
      error
        ? reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
        : resolve(result),
    )
  })
}

/** A load's requests, and how many it has made so far over every run it drove. */
export type FreshSends = (() => autocannon.Request[]) & { taken(): number }

/**
 * Sends of a fresh mobile each (`<range><9 digits>`, never registered) with an unused captcha
 * `bench-<i>`, seeded under the server's key prefix by seedCaptchas, taken in order.
 */
export function freshSends(range: string, pool: number): FreshSends {
  let next = 0
  const requests = (): autocannon.Request[] => [
    {
      method: 'POST',
      path: '/passport/sms_code',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => {
        const i = next++
        return {
          ...request,
          body: JSON.stringify({
            mobile: `${range}${String(i).padStart(9, '0')}`,
            image_code: 'abcd',
            image_code_id: `bench-${i % pool}`,
          }),
        }
      },
    },
  ]
  return Object.assign(requests, { taken: () => next })
}

/** What runInTurns reads of a run: autocannon's Result, or runClosingLoad's. */
export type LoadFigures = Pick<Result, 'non2xx' | 'errors' | 'timeouts'> & {
  requests: Pick<Result['requests'], 'average' | 'total'>
  latency: Pick<Result['latency'], 'p99'>
}

/**
 * A load on a new connection per request, for a server that closes every connection after its
 * answer (gunicorn's sync workers). autocannon writes its next request on the closing connection,
 * where it is never answered (reconnectRate does not help: it then counts no answers), so each of
 * `connections` loops here opens a connection, sends one request, reads the answer and starts
 * over, as a browser would. Same figures as autocannon's, from the same request generator.
 */
export async function runClosingLoad(options: {
  url: string
  connections: number
  duration: number
  requests: autocannon.Request[]
}): Promise<LoadFigures> {
  const template = options.requests[0]
  const setup = template?.setupRequest
  if (!template || typeof setup !== 'function') {
    throw new Error('runClosingLoad needs a request with a setupRequest function')
  }
  const url = new URL(options.url)
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  const ends = performance.now() + options.duration * 1000
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const planned = setup({ ...template }, {})
      const body = typeof planned.body === 'string' ? planned.body : ''
      const started = performance.now()
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: planned.method ?? 'GET',
          path: planned.path ?? '/',
          headers: { ...planned.headers, 'content-length': Buffer.byteLength(body) },
          agent: false,
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            latencies.push(performance.now() - started)
            if ((res.statusCode ?? 0) >= 300 || (res.statusCode ?? 0) < 200) non2xx += 1
            resolve()
          })
        },
      )
      req.on('error', () => {
        errors += 1
        resolve()
      })
      req.end(body)
    })
  const loop = async (): Promise<void> => {
    while (performance.now() < ends) await once()
  }
  await Promise.all(Array.from({ length: options.connections }, loop))
  latencies.sort((a, b) => a - b)
  const total = latencies.length
  return {
    requests: { average: total / options.duration, total },
    latency: { p99: Math.round(latencies[Math.floor(total * 0.99)] ?? NaN) },
    non2xx,
    errors,
    timeouts: 0,
  }
}
