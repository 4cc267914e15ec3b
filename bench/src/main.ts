// `pnpm bench`: drives the production server with real Redis and Postgres and prints throughput
// and latency for POST /passport/sms_code and GET /passport/image_code, what the access log and
// the metrics cost, a soak, and the page; BENCH_ONLY=startup compares start-up time and memory.
import type autocannon from 'autocannon'
import type { Result } from 'autocannon'
import { runLoad, seedCaptchas } from './load.ts'
import { Redis } from 'ioredis'
import {
  createTestDatabase,
  deleteKeysWithPrefix,
  TEST_REDIS_URL,
  testKeyPrefix,
} from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import { runObservabilityCost } from './observability.ts'
import { downloadedScripts, firstLoadJs, PAGES, pageTimings } from './page.ts'
import type { BenchPage } from './page.ts'
import { runSoak } from './soak.ts'
import { runStartup } from './startup.ts'
import type { RunningServer } from '@signup/api/testing/test-server'

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const DURATION = Number(process.env.BENCH_SECONDS ?? 15)
const WARMUP = 3
const CAPTCHA_POOL = Number(process.env.BENCH_CAPTCHAS ?? 200_000)
const WIDE_OPEN = '1000000000'
// One server process: on this 2-core machine the load generator, Redis and Postgres need the second
// core (decision 013); BENCH_WORKERS=2 measures WEB_CONCURRENCY=2.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1)

async function countKeys(prefix: string, pattern: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL)
  let count = 0
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 5000)
    cursor = next
    count += keys.length
  } while (cursor !== '0')
  redis.disconnect()
  return count
}

function report(label: string, unit: string, result: Result, extra = ''): void {
  const rps = result.requests.average
  console.log(
    `${label.padEnd(26)} ${rps.toFixed(0).padStart(6)} ${unit}/s   p50 ${result.latency.p50} ms   ` +
      `p99 ${result.latency.p99} ms   non-2xx ${result.non2xx}   errors ${result.errors}` +
      `   timeouts ${result.timeouts}${extra}`,
  )
}

async function main(): Promise<void> {
  const prefix = testKeyPrefix('bench')
  const database = await createTestDatabase('bench')
  let server: RunningServer | undefined
  try {
    if (process.env.BENCH_ONLY === 'startup') return await runStartup(database.url)
    if (process.env.BENCH_ONLY === 'access-log') {
      return await runObservabilityCost(database.url, CONNECTIONS)
    }
    server = await startServer(
      {
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        SMS_PROVIDER: 'console',
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
        // One load generator on one address measures throughput, so the abuse limits are opened
        // wide; they are still counted (same scripts, same round trips) on every send.
        SMS_LIMIT_IP_HOUR: WIDE_OPEN,
        SMS_LIMIT_PREFIX_HOUR: WIDE_OPEN,
        SMS_LIMIT_GLOBAL_HOUR: WIDE_OPEN,
        CAPTCHA_LIMIT_IP_MINUTE: WIDE_OPEN,
        WEB_CONCURRENCY: String(WORKERS),
        // As deployed: metrics counted (a scraper would read them), the access log on.
        METRICS_PORT: '0',
      },
      // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server under load.
      {
        keepOutput: false,
        nodeArgs: process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      },
    )
    if (process.env.BENCH_ONLY === 'page') return await reportPage(server.url)
    if (process.env.BENCH_ONLY === 'soak') return await runSoak(database.url, CONNECTIONS)
    await seedCaptchas(prefix, 'bench', CAPTCHA_POOL, 600)
    console.log(
      `production server at ${server.url} (WEB_CONCURRENCY=${WORKERS}); ${CONNECTIONS} connections, ${DURATION} s per run ` +
        `after ${WARMUP} s warm-up; ${CAPTCHA_POOL} captchas seeded in Redis`,
    )

    let next = 0
    const smsRequest = (): autocannon.Request => ({
      method: 'POST',
      path: '/passport/sms_code',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => {
        const i = next++
        // A fresh mobile per request (15x range, never registered) and an unused captcha.
        const mobile = `15${String(i).padStart(9, '0')}`
        return {
          ...request,
          body: JSON.stringify({
            mobile,
            image_code: 'abcd',
            image_code_id: `bench-${i % CAPTCHA_POOL}`,
          }),
        }
      },
    })

    await runLoad({
      url: server.url,
      connections: CONNECTIONS,
      duration: WARMUP,
      requests: [smsRequest()],
    })
    // Success is counted in Redis afterwards (one SMS_<mobile> per sent code), which keeps the
    // load generator from parsing every body and is a stricter check than the answer alone.
    const storedBefore = await countKeys(prefix, 'SMS_*')
    const sms = await runLoad({
      url: server.url,
      connections: CONNECTIONS,
      duration: DURATION,
      requests: [smsRequest()],
    })
    const stored = (await countKeys(prefix, 'SMS_*')) - storedBefore
    report(
      'POST /passport/sms_code',
      'sends',
      sms,
      `   codes stored: ${stored}/${sms.requests.total}`,
    )
    if (next > CAPTCHA_POOL)
      console.log(`note: ${next - CAPTCHA_POOL} requests reused a spent captcha`)

    if (process.env.BENCH_ONLY === 'sms') return
    let image = 0
    const imageRequest: autocannon.Request = {
      method: 'GET',
      setupRequest: (request) => ({
        ...request,
        path: `/passport/image_code?imageCodeId=bench-img-${image++}`,
      }),
    }
    await runLoad({
      url: server.url,
      connections: CONNECTIONS,
      duration: WARMUP,
      requests: [imageRequest],
    })
    const images = await runLoad({
      url: server.url,
      connections: CONNECTIONS,
      duration: DURATION,
      requests: [imageRequest],
    })
    report('GET /passport/image_code', 'images', images)
    await runObservabilityCost(database.url, CONNECTIONS)
    await runSoak(database.url, CONNECTIONS)
    await reportPage(server.url)
  } finally {
    await server?.stop()
    await deleteKeysWithPrefix(prefix)
    await database.drop()
  }
}

async function reportPage(url: string): Promise<void> {
  for (const page of PAGES) await reportOnePage(url, page)
  console.log(
    'goals: >= 3200 sends/s with p99 < 50 ms; >= 1500 images/s; per page ' +
      '< 120 KB of scripts on the wire (what Chromium downloads) and < 500 ms to interactive',
  )
}

/** One page's first-load JavaScript (from the build, then as Chromium downloads it) and timings. */
async function reportOnePage(url: string, page: BenchPage): Promise<void> {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  const js = await firstLoadJs(page.path)
  console.log(
    `${`first-load JS of ${page.path}`.padEnd(29)} ${kb(js.gzipBytes)} gzip ` +
      `(${kb(js.rawBytes)} raw, ${js.files} files)`,
  )
  for (const entry of js.perFile) {
    console.log(`  ${kb(entry.gzipBytes).padStart(9)} gzip  ${entry.file}`)
  }
  // The same count from Chromium's side: every script one cold load of the page downloaded.
  const downloaded = await downloadedScripts(url, page)
  console.log(
    `scripts Chromium downloaded   ${downloaded.length} files, ` +
      `${kb(downloaded.reduce((sum, script) => sum + script.gzipBytes, 0))} gzip, ` +
      `${kb(downloaded.reduce((sum, script) => sum + script.transferBytes, 0))} on the wire`,
  )
  const timing = await pageTimings(url, page)
  console.log(
    `${page.path} in Chromium (median of ${timing.interactiveSamples.length}) LCP ${timing.lcpMs.toFixed(0)} ms   ` +
      `interactive ${timing.interactiveMs.toFixed(0)} ms` +
      (timing.captchaMs === null ? '' : `   captcha shown ${timing.captchaMs.toFixed(0)} ms`),
  )
  console.log(
    `  interactive per load: ${timing.interactiveSamples.map((ms) => ms.toFixed(0)).join(', ')} ms` +
      (timing.noisyLoads > 0 ? `; ${timing.noisyLoads} started before the CPUs were quiet` : ''),
  )
}

await main()
