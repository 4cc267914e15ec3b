/* eslint-disable no-console -- a benchmark reports to its terminal */
// What the access log and the metrics cost the send endpoint: one server per configuration, driven
// in alternating turns in one sitting, reported as ratios to the production default (both on).
import type { Result } from 'autocannon'
import { runLoad, seedCaptchas, WIDE_OPEN_LIMITS } from './load.ts'
import { cpuMs, median } from './turns.ts'
import { deleteKeysWithPrefix, TEST_REDIS_URL, testKeyPrefix } from '@signup/api/testing/test-infra'
import { startServer } from '@signup/api/testing/test-server'
import type { RunningServer } from '@signup/api/testing/test-server'

const SECONDS = Number(process.env.BENCH_OBSERVABILITY_SECONDS ?? 5)
const TURNS = Number(process.env.BENCH_OBSERVABILITY_TURNS ?? 3)
const WARMUP = 2

interface Configuration {
  label: string
  env: Record<string, string>
}

const CONFIGURATIONS: Configuration[] = [
  { label: 'access log on, metrics on', env: { METRICS_PORT: '0' } },
  { label: 'ACCESS_LOG=0, metrics on', env: { METRICS_PORT: '0', ACCESS_LOG: '0' } },
  { label: 'access log on, no METRICS_PORT', env: {} },
]

export async function runObservabilityCost(
  databaseUrl: string,
  connections: number,
): Promise<void> {
  const servers: { configuration: Configuration; server: RunningServer; prefix: string }[] = []
  // Enough captchas that no turn runs out, at up to 5,000 sends/s.
  const pool = 5_000 * (SECONDS * TURNS + WARMUP)
  try {
    for (const configuration of CONFIGURATIONS) {
      const prefix = testKeyPrefix('bench-observability')
      const server = await startServer(
        {
          DATABASE_URL: databaseUrl,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
          SMS_PROVIDER: 'console',
          LOG_LEVEL: 'info',
          ...WIDE_OPEN_LIMITS,
          ...configuration.env,
        },
        { keepOutput: false },
      )
      servers.push({ configuration, server, prefix })
      await seedCaptchas(prefix, 'obs', pool, 900)
    }
    // Each server takes its own captchas in order; mobiles are fresh across all of them.
    let mobiles = 0
    const taken = new Map<RunningServer, number>()
    const drive = (server: RunningServer, seconds: number): Promise<Result> =>
      runLoad({
        url: server.url,
        connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/passport/sms_code',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => {
              const captcha = taken.get(server) ?? 0
              taken.set(server, captcha + 1)
              return {
                ...request,
                body: JSON.stringify({
                  mobile: `16${String(mobiles++).padStart(9, '0')}`,
                  image_code: 'abcd',
                  image_code_id: `obs-${captcha % pool}`,
                }),
              }
            },
          },
        ],
      })
    for (const { server } of servers) await drive(server, WARMUP)
    const rates = new Map<string, number[]>(CONFIGURATIONS.map((c) => [c.label, []]))
    /** The server's CPU time per request: steadier than throughput on a machine others share. */
    const cpuPerRequest = new Map<string, number[]>(CONFIGURATIONS.map((c) => [c.label, []]))
    // Every turn runs each configuration once, in reverse order every other turn, so drift on a
    // busy machine weighs on each alike; each turn's ratios are taken within that turn.
    for (let turn = 0; turn < TURNS; turn++) {
      const order = turn % 2 === 0 ? servers : [...servers].reverse()
      for (const { configuration, server } of order) {
        const pid = server.process.pid ?? 0
        const cpuBefore = cpuMs(pid)
        const result = await drive(server, SECONDS)
        rates.get(configuration.label)?.push(result.requests.average)
        cpuPerRequest
          .get(configuration.label)
          ?.push(((cpuMs(pid) - cpuBefore) * 1000) / result.requests.total)
      }
    }
    console.log(
      `access log and metrics, POST /passport/sms_code, ${TURNS} turns of ${SECONDS} s in alternation (median)`,
    )
    for (const [server, count] of taken) {
      if (count > pool) console.log(`note: ${server.url} reused ${count - pool} spent captchas`)
    }
    const first = CONFIGURATIONS[0]?.label ?? ''
    const ratiosTo = (table: Map<string, number[]>, label: string) =>
      (table.get(label) ?? []).map((value, turn) => value / (table.get(first)?.[turn] ?? NaN))
    for (const configuration of CONFIGURATIONS) {
      const runs = rates.get(configuration.label) ?? []
      const cpu = cpuPerRequest.get(configuration.label) ?? []
      console.log(
        `  ${configuration.label.padEnd(32)} ${median(runs).toFixed(0).padStart(6)} sends/s ` +
          `(${median(ratiosTo(rates, configuration.label)).toFixed(3)}x)   ` +
          `server CPU ${median(cpu).toFixed(0)} µs/send ` +
          `(${median(ratiosTo(cpuPerRequest, configuration.label)).toFixed(3)}x)   ` +
          `[${runs.map((rps) => rps.toFixed(0)).join(', ')} sends/s]`,
      )
    }
    console.log(
      "  (ratios: median over turns of each turn's figure over the first configuration's)",
    )
  } finally {
    for (const { server, prefix } of servers) {
      await server.stop()
      await deleteKeysWithPrefix(prefix)
    }
  }
}
