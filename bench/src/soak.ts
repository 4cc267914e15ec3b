/* eslint-disable no-console -- a benchmark reports to its terminal */
// The soak run of `pnpm bench`: 60 s of good sends mixed with abusive requests against a server
// with the production limits, reporting throughput, p99, the 5xx count and the server's memory.
import { readFileSync } from 'node:fs'
import type autocannon from 'autocannon'
import { runLoad, seedCaptchas } from './load.ts'
import type { Contestant } from './turns.ts'
import { deleteKeysWithPrefix, TEST_REDIS_URL, testKeyPrefix } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'

const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 60)
const FLOOR_SECONDS = 10
const HUGE_BODY = JSON.stringify({ mobile: '13800000000', pad: 'x'.repeat(20 * 1024) })

/** The server's resident memory (VmRSS), in MiB. */
function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return kib / 1024
}

/** A distinct IPv4 address per number, for clients that each send once. */
const ipOf = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`

/**
 * The soak, with the floor (floor-server.ts) driven for FLOOR_SECONDS just before and just after
 * it, so its requests/s is a ratio to the floor's sends/s measured in the same minutes.
 */
export async function runSoak(
  databaseUrl: string,
  connections: number,
  floor: Contestant,
): Promise<void> {
  const prefix = testKeyPrefix('soak')
  let server: RunningServer | undefined
  try {
    server = await startServer(
      {
        DATABASE_URL: databaseUrl,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        SMS_PROVIDER: 'console',
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
        // Clients are told apart by X-Forwarded-For, so the per-IP limits bite as in production.
        TRUST_PROXY: '1',
        // The good traffic alone is far above a real hour's budget and shares number ranges.
        SMS_LIMIT_GLOBAL_HOUR: '1000000000',
        SMS_LIMIT_PREFIX_HOUR: '1000000000',
      },
      { keepOutput: false },
    )
    const pool = Math.max(50_000, SOAK_SECONDS * 3_000)
    await seedCaptchas(prefix, 'soak', pool, 900)
    let next = 0
    let captcha = 0
    const json = { 'content-type': 'application/json' }
    const request: autocannon.Request = {
      method: 'POST',
      path: '/passport/sms_code',
      setupRequest: (base) => {
        const i = next++
        const id = `soak-${captcha++ % pool}`
        const send = (mobile: string, ip: string, answer = 'abcd') => ({
          ...base,
          method: 'POST' as const,
          path: '/passport/sms_code',
          headers: { ...json, 'x-forwarded-for': ip },
          body: JSON.stringify({ mobile, image_code: answer, image_code_id: id }),
        })
        switch (i % 10) {
          case 0:
          case 1:
          case 2:
          case 3:
            // Good: a fresh mobile from a client sending for the first time.
            return send(`15${String(i).padStart(9, '0')}`, ipOf(i))
          case 4:
            // One mobile hammered from many clients: the per-mobile limits.
            return send('15999999999', ipOf(i))
          case 5:
            // Wrong captchas from one client.
            return send(`15${String(i).padStart(9, '0')}`, '203.0.113.66', 'zzzz')
          case 6:
            return { ...base, headers: json, body: '{"mobile":"1380000', method: 'POST' as const }
          case 7:
            return { ...base, headers: json, body: HUGE_BODY, method: 'POST' as const }
          case 8:
            // Captcha images from one client: the per-IP captcha limit.
            return {
              ...base,
              method: 'GET' as const,
              path: `/passport/image_code?imageCodeId=soak-image-${i}`,
              headers: { 'x-forwarded-for': '203.0.113.77' },
            }
          default:
            // Well-formed tRPC sends from one client: the per-IP send limit.
            return {
              ...base,
              method: 'POST' as const,
              path: '/api/trpc/auth.sendSmsCode',
              headers: { ...json, 'x-forwarded-for': '203.0.113.88' },
              body: JSON.stringify({
                mobile: `17${String(i).padStart(9, '0')}`,
                imageCode: 'abcd',
                imageCodeId: id,
              }),
            }
        }
      },
    }

    await runLoad({ url: server.url, connections, duration: 5, requests: [request] })
    const floorRun = async () =>
      (
        await runLoad({
          url: floor.url,
          connections,
          duration: FLOOR_SECONDS,
          requests: floor.requests(),
        })
      ).requests.average
    const floorBefore = await floorRun()
    const pid = server.process.pid
    const before = rssMiB(pid)
    // Sampled through the run: a leak climbs steadily, a heap settling in levels off.
    const samples: number[] = []
    const sampler = setInterval(() => samples.push(rssMiB(pid)), 10_000)
    const result = await runLoad({
      url: server.url,
      connections,
      duration: SOAK_SECONDS,
      requests: [request],
    })
    clearInterval(sampler)
    const floorAfter = await floorRun()
    const after = rssMiB(pid)
    const statuses = Object.entries(result.statusCodeStats ?? {})
      .map(([status, { count }]) => `${status}: ${count ?? 0}`)
      .join(', ')
    console.log(
      `soak ${SOAK_SECONDS} s, ${connections} connections, 40% good sends, 60% abusive   ` +
        `${result.requests.average.toFixed(0)} requests/s   p50 ${result.latency.p50} ms   ` +
        `p99 ${result.latency.p99} ms   5xx ${result['5xx']}   errors ${result.errors}   ` +
        `timeouts ${result.timeouts}`,
    )
    const floorRps = (floorBefore + floorAfter) / 2
    console.log(
      `soak against the floor   ${(result.requests.average / floorRps).toFixed(2)}x the floor's ` +
        `sends/s (${floorBefore.toFixed(0)} before, ${floorAfter.toFixed(0)} after, ${FLOOR_SECONDS} s each)`,
    )
    console.log(`soak statuses   ${statuses}`)
    // The heap is still growing to its working size in the first seconds; drift is from 10 s on.
    const settled = samples[0] ?? before
    const drift = after - settled
    console.log(
      `soak server RSS ${before.toFixed(0)} MiB after a 5 s warm-up, ${settled.toFixed(0)} MiB ` +
        `10 s in, ${after.toFixed(0)} MiB at the end (drift since 10 s: ` +
        `${drift >= 0 ? '+' : ''}${drift.toFixed(0)} MiB)   goals: 0 5xx, flat memory`,
    )
    console.log(`soak RSS every 10 s (MiB)   ${samples.map((mib) => mib.toFixed(0)).join(' ')}`)
  } finally {
    await server?.stop()
    await deleteKeysWithPrefix(prefix)
  }
}
